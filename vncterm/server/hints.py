"""How to connect, for the start-up log: a TigerVNC command line and a noVNC URL per listener."""

from __future__ import annotations

import socket
from collections.abc import Sequence

#: Hosts that mean "every address": a viewer elsewhere uses this machine's name.
_WILDCARDS = ("", "0.0.0.0", "::")


def viewer_host(host: str) -> str:
    """``host`` as a viewer writes it: brackets around IPv6, the host name for a wildcard."""
    if host in _WILDCARDS:
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def connect_hints(
    vnc: Sequence[tuple[str, int] | str],
    sniff: bool,
    websocket: Sequence[tuple[str, int]],
    wss: bool,
) -> list[str]:
    """One hint per listening socket: ``vncviewer HOST::PORT`` (TigerVNC's form for a port;
    ``HOST:N`` would be display N, port 5900+N) or ``vncviewer PATH`` for a unix socket
    (TigerVNC 1.11+), with the ``ws://`` URL noVNC takes when the VNC port also speaks
    WebSocket; ``ws://`` or ``wss://`` for each WebSocket-only listener."""
    hints = []
    for address in vnc:
        if isinstance(address, str):
            if address and not address.startswith("\0"):  # not an abstract socket
                hints.append(f"vncviewer {address}")
            continue
        host, port = viewer_host(address[0]), address[1]
        hint = f"vncviewer {host}::{port}"
        hints.append(hint + (f" or noVNC at ws://{host}:{port}/" if sniff else ""))
    scheme = "wss" if wss else "ws"
    hints += [f"noVNC at {scheme}://{viewer_host(host)}:{port}/" for host, port in websocket]
    return hints
