"""A unix socket server standing in for QEMU's serial chardev (``-serial unix:PATH,server=on``):
it accepts the console connection of a real vncterm (``--unix PATH``), sends it guest output,
and tells whether that connection is still up."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


class Chardev:
    """A listening unix socket; ``send`` writes to the accepted connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(4)
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="chardev")
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def wait_connected(self, timeout: float = 10.0) -> socket.socket:
        deadline = time.monotonic() + timeout
        while not self.accepted:
            assert time.monotonic() < deadline, "vncterm never connected to the chardev"
            time.sleep(0.02)
        return self.accepted[-1]

    def send(self, data: bytes) -> None:
        """Guest output, to the (one) console connection."""
        assert len(self.accepted) == 1, f"{len(self.accepted)} connections: vncterm reconnected"
        self.accepted[0].sendall(data)

    def still_up(self) -> bool:
        """The first connection is open (replies vncterm sent are read and dropped) and no
        second one was made."""
        conn = self.accepted[0]
        conn.setblocking(False)
        try:
            while True:
                if not conn.recv(65536):
                    return False
        except BlockingIOError:
            return len(self.accepted) == 1
        except OSError:
            return False
        finally:
            conn.setblocking(True)

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()
