"""A minimal blocking RFB client for protocol-level server tests (bad input, bells, handshakes).

It decodes Raw only, in the server's own pixel format. Pixel-exactness is judged by real peers
(noVNC, libvncclient, vncdotool) elsewhere; this client checks what they cannot easily show.
"""

from __future__ import annotations

import socket
import struct
import time

import numpy as np

from vncterm.rfb import auth


class RawClient:
    def __init__(
        self,
        host: str | tuple[str, int],
        port: int = 0,
        *,
        password: bytes | None = None,
        shared: bool = True,
        family: int = socket.AF_INET,
        timeout: float = 5.0,
    ) -> None:
        if family == socket.AF_UNIX:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(host)  # type: ignore[arg-type]
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)  # type: ignore[arg-type]
        self._start(password, shared)

    def _start(self, password: bytes | None, shared: bool) -> None:
        """Fresh state, then the handshake over ``self.sock``."""
        self._start_state()
        self._handshake(password, shared)

    def _start_state(self) -> None:
        self.bells = 0
        self.cut_text: list[bytes] = []
        self.extended_clipboard: list[bytes] = []  # Extended Clipboard messages (flags + body)
        self.updates = 0
        self.fb = np.zeros((0, 0), dtype=np.uint32)
        self.name = b""

    def recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def _handshake(self, password: bytes | None, shared: bool) -> None:
        assert self.recv_exact(12) == b"RFB 003.008\n"
        self.sock.sendall(b"RFB 003.008\n")
        count = self.recv_exact(1)[0]
        types = self.recv_exact(count)
        chosen = 2 if password is not None else 1
        assert chosen in types, types
        self.sock.sendall(bytes([chosen]))
        if chosen == 2:
            challenge = self.recv_exact(16)
            self.sock.sendall(auth.vnc_response(password or b"", challenge))
        (result,) = struct.unpack(">I", self.recv_exact(4))
        if result != 0:
            (n,) = struct.unpack(">I", self.recv_exact(4))
            raise PermissionError(self.recv_exact(n).decode())
        self._initialise(shared)

    @classmethod
    def secured(cls, sock: socket.socket, shared: bool = True) -> RawClient:
        """A client over ``sock``, whose security handshake the caller did (e.g. VeNCrypt)."""
        self = cls.__new__(cls)
        self.sock = sock
        self._start_state()
        self._initialise(shared)
        return self

    def _initialise(self, shared: bool) -> None:
        """ClientInit, ServerInit (section 7.3), then SetEncodings."""
        self.sock.sendall(bytes([1 if shared else 0]))
        w, h = struct.unpack(">HH", self.recv_exact(4))
        self.recv_exact(16)
        (n,) = struct.unpack(">I", self.recv_exact(4))
        self.name = self.recv_exact(n)
        self.fb = np.zeros((h, w), dtype=np.uint32)
        self.sock.sendall(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings [Raw]

    def request(self, incremental: bool = True) -> None:
        h, w = self.fb.shape
        self.sock.sendall(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, w, h))

    def read_message(self) -> int:
        kind = self.recv_exact(1)[0]
        if kind == 0:
            (count,) = struct.unpack(">xH", self.recv_exact(3))
            for _ in range(count):
                x, y, w, h, enc = struct.unpack(">HHHHi", self.recv_exact(12))
                if enc == -258:  # QEMU Extended Key Event confirmed: no payload
                    continue
                assert enc == 0, f"unexpected encoding {enc}"
                data = self.recv_exact(w * h * 4)
                self.fb[y : y + h, x : x + w] = np.frombuffer(data, dtype="<u4").reshape(h, w)
            self.updates += 1
        elif kind == 2:
            self.bells += 1
        elif kind == 3:
            (n,) = struct.unpack(">xxxi", self.recv_exact(7))
            if n < 0:  # the Extended Clipboard's signed length (when the client listed it)
                self.extended_clipboard.append(self.recv_exact(-n))
            else:
                self.cut_text.append(self.recv_exact(n))
        else:
            raise AssertionError(f"unexpected server message {kind}")
        return kind

    def update(self, incremental: bool = True) -> None:
        """Request an update and read messages until it arrives."""
        self.request(incremental)
        while self.read_message() != 0:
            pass

    def wait_for(self, predicate: object, timeout: float = 10.0) -> None:
        """Keep requesting incremental updates until ``predicate(self)`` holds."""
        deadline = time.monotonic() + timeout
        while not predicate(self):  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise AssertionError("condition never held")
            self.update()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_closed_by_server(self, timeout: float = 3.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
