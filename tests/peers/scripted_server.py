"""A tiny scripted RFB 3.8 server for driving real viewers (libvncclient) with chosen updates.

It accepts one connection: version 3.8, security None, ServerInit with the given size and
vncterm's pixel format, then reads the viewer's SetPixelFormat / SetEncodings / requests (RFB
spec sections 7.1-7.5). At the first FramebufferUpdateRequest it calls ``script(pf, encodings)``
with the format and encodings the viewer chose; the script returns the FramebufferUpdates to send
(each a list of (x, y, w, h, encoding, payload) tuples or EncodedRect objects). Each update
answers one request; after the last the server waits for one more request (so the viewer has
processed everything) and closes.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT, PixelFormat

Script = Callable[[PixelFormat, list[int]], Sequence[Sequence[Any]]]


def _fields(item: Any) -> tuple[int, int, int, int, int, bytes]:
    if hasattr(item, "rect"):
        r = item.rect
        return r.x, r.y, r.w, r.h, int(item.encoding), bytes(item.payload)
    x, y, w, h, enc, payload = item
    return x, y, w, h, int(enc), bytes(payload)


def update_message(rects: Sequence[Any]) -> bytes:
    """A FramebufferUpdate message (section 7.6.1) holding ``rects``."""
    out = [struct.pack(">BxH", 0, len(rects))]
    for item in rects:
        x, y, w, h, enc, payload = _fields(item)
        out.append(struct.pack(">HHHHi", x, y, w, h, enc))
        out.append(payload)
    return b"".join(out)


class ScriptedServer:
    """Serve one viewer on 127.0.0.1 in a thread; use as a context manager."""

    def __init__(
        self,
        width: int,
        height: int,
        script: Script,
        *,
        name: str = "scripted",
        timeout: float = 20.0,
    ) -> None:
        self.width, self.height, self.script, self.name = width, height, script, name
        self.timeout = timeout
        self.pixel_format: PixelFormat = SERVER_PIXEL_FORMAT
        self.encodings: list[int] = []
        self.error: BaseException | None = None
        self.updates_sent = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(timeout)
        self.host, self.port = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._thread.join(self.timeout + 5)
        self._listener.close()

    def join(self) -> None:
        """Wait for the session to end; re-raise what went wrong in the server thread."""
        self._thread.join(self.timeout + 5)
        if self.error is not None:
            raise self.error

    # -- the session ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except BaseException as exc:  # reported through join()
            self.error = exc
            return
        with conn:
            conn.settimeout(self.timeout)
            try:
                self._session(conn)
            except BaseException as exc:
                self.error = exc

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("viewer closed the connection")
            buf += chunk
        return bytes(buf)

    def _session(self, conn: socket.socket) -> None:
        read = self._read
        conn.sendall(b"RFB 003.008\n")
        if read(conn, 12) != b"RFB 003.008\n":
            raise ConnectionError("viewer did not answer RFB 3.8")
        conn.sendall(b"\x01\x01")  # one security type: None
        if read(conn, 1) != b"\x01":
            raise ConnectionError("viewer did not choose security None")
        conn.sendall(struct.pack(">I", 0))  # SecurityResult OK
        read(conn, 1)  # ClientInit (shared flag)
        name = self.name.encode()
        conn.sendall(
            struct.pack(">HH", self.width, self.height)
            + SERVER_PIXEL_FORMAT.to_bytes()
            + struct.pack(">I", len(name))
            + name
        )
        updates: list[bytes] | None = None
        while True:
            kind = read(conn, 1)[0]
            if kind == 0:  # SetPixelFormat
                self.pixel_format = PixelFormat.from_bytes(read(conn, 19)[3:])
            elif kind == 2:  # SetEncodings
                (n,) = struct.unpack(">xH", read(conn, 3))
                self.encodings = list(struct.unpack(f">{n}i", read(conn, 4 * n)))
            elif kind == 3:  # FramebufferUpdateRequest
                read(conn, 9)
                if updates is None:
                    script = self.script(self.pixel_format, self.encodings)
                    updates = [update_message(u) for u in script]
                if self.updates_sent == len(updates):
                    return  # the viewer asked again: it has handled every update
                conn.sendall(updates[self.updates_sent])
                self.updates_sent += 1
            elif kind == 4:  # KeyEvent
                read(conn, 7)
            elif kind == 5:  # PointerEvent
                read(conn, 5)
            elif kind == 6:  # ClientCutText
                (n,) = struct.unpack(">3xI", read(conn, 7))
                read(conn, n)
            else:
                raise ConnectionError(f"unexpected client message type {kind}")
