"""Ports for consoles that name none: handed out from ``--port-range`` and kept per console name
in the state directory (``ports.json``), so a console keeps its port across restarts."""

from __future__ import annotations

import os
import socket

from .state_dir import read_per_name, save_per_name

PORTS_FILE = "ports.json"


def port_free(host: str, port: int) -> bool:
    """True when ``host:port`` can be listened on now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class PortBook:
    """Which console name has which port of the range; saved on every change."""

    def __init__(self, state_dir: str | None, low: int, high: int, host: str) -> None:
        self.path = os.path.join(state_dir, PORTS_FILE) if state_dir else None
        self.low, self.high, self.host = low, high, host
        self.ports: dict[str, int] = read_per_name(
            self.path, lambda port: isinstance(port, int) and low <= port <= high
        )

    def port_for(self, name: str, live: set[str]) -> int | None:
        """``name``'s port: the one it had if it is still free, else the lowest free port of
        the range that no console in ``live`` holds, preferring ports no other name ever had;
        None when the range is full."""
        old = self.ports.get(name)
        if old is not None and port_free(self.host, old):
            return old
        held = {self.ports[n] for n in live if n in self.ports and n != name}
        remembered = set(self.ports.values())
        for prefer_new in (True, False):
            for port in range(self.low, self.high + 1):
                if port in held or (prefer_new and port in remembered):
                    continue
                if port_free(self.host, port):
                    self._keep(name, port)
                    return port
        return None

    def _keep(self, name: str, port: int) -> None:
        for other, p in list(self.ports.items()):
            if p == port and other != name:
                del self.ports[other]  # a port given to a name no longer configured
        self.ports[name] = port
        save_per_name(self.path, self.ports)
