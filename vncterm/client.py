"""An asyncio RFB client for the tunnelled-stream extension (see ``rfb.streams``).

It authenticates (None or VNC Authentication), announces the stream pseudo-encoding, and keeps
one incremental FramebufferUpdateRequest for a single pixel outstanding, so the server can send
stream announcements without sending the screen. ::

    client = await StreamClient.connect("127.0.0.1", 5900)
    print(await client.list_streams())
    capture = await client.open("console")
    capture.write(b"echo hi\\r")
    print(await capture.read())
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from .errors import ProtocolError
from .rfb import auth, streams
from .rfb.constants import Encoding

_READ_LIMIT = 1 << 20


class Capture:
    """One open capture of a stream: ``read()`` its bytes, ``write()`` to it, ``close()``."""

    def __init__(self, client: StreamClient, stream_id: int, name: str) -> None:
        self.client = client
        self.stream_id = stream_id
        self.name = name
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.ended = False

    async def read(self) -> bytes:
        """The next bytes of the stream; b"" once the capture has ended."""
        if self.ended and self._queue.empty():
            return b""
        return await self._queue.get()

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), streams.MAX_DATA):
            self.client._send(streams.data_message(self.stream_id, data[i : i + streams.MAX_DATA]))

    async def drain(self) -> None:
        await self.client._writer.drain()

    def close(self) -> None:
        if not self.ended:
            self.client._send(streams.ended(self.stream_id))
            self._end()

    def _end(self) -> None:
        self.ended = True
        self._queue.put_nowait(b"")


class StreamClient:
    """A connection to a vncterm (or any server speaking the stream extension)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.streams: list[str] = []
        self.name = ""
        self._changed = asyncio.Event()
        self._first_update = asyncio.Event()
        self._pending_open: list[tuple[str, asyncio.Future[Capture]]] = []
        self._captures: dict[int, Capture] = {}
        self._task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.error: Exception | None = None

    @classmethod
    async def connect(
        cls,
        host: str | None = None,
        port: int = 5900,
        *,
        path: str | None = None,
        password: bytes | None = None,
    ) -> StreamClient:
        """Connect over TCP (``host``, ``port``) or a unix socket (``path``) and handshake."""
        if path is not None:
            reader, writer = await asyncio.open_unix_connection(path, limit=_READ_LIMIT)
        else:
            reader, writer = await asyncio.open_connection(host, port, limit=_READ_LIMIT)
        client = cls(reader, writer)
        try:
            await client._handshake(password)
        except BaseException:
            writer.close()
            raise
        client._task = asyncio.ensure_future(client._run())
        return client

    async def _handshake(self, password: bytes | None) -> None:
        """RFB 3.8 (spec sections 7.1 to 7.3), then SetEncodings and a first request."""
        r = self._reader
        version = await r.readexactly(12)
        if not version.startswith(b"RFB 003."):
            raise ProtocolError(f"not an RFB server: {version!r}")
        self._writer.write(b"RFB 003.008\n")
        count = (await r.readexactly(1))[0]
        if count == 0:
            (n,) = struct.unpack(">I", await r.readexactly(4))
            raise ProtocolError((await r.readexactly(n)).decode(errors="replace"))
        types = await r.readexactly(count)
        if password is not None and 2 in types:
            self._writer.write(b"\x02")
            challenge = await r.readexactly(16)
            self._writer.write(auth.vnc_response(password, challenge))
        elif 1 in types:
            self._writer.write(b"\x01")
        else:
            raise ProtocolError("the server needs a password (--password-file)")
        (result,) = struct.unpack(">I", await r.readexactly(4))
        if result != 0:
            (n,) = struct.unpack(">I", await r.readexactly(4))
            raise PermissionError((await r.readexactly(n)).decode(errors="replace"))
        self._writer.write(b"\x01")  # shared
        header = await r.readexactly(24)
        (n,) = struct.unpack(">I", header[20:24])
        self.name = (await r.readexactly(n)).decode(errors="replace")
        encodings = (Encoding.RAW, streams.STREAM_ENCODING)
        self._send(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))
        self._request()

    def _send(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def _request(self) -> None:
        self._send(struct.pack(">BBHHHH", 3, 1, 0, 0, 1, 1))

    async def _run(self) -> None:
        try:
            while True:
                await self._message()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as e:  # a broken server: remember why, end everything
            self.error = e
        finally:
            for capture in self._captures.values():
                capture._end()
            for _, fut in self._pending_open:
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))
            self.closed.set()
            self._changed.set()

    async def _message(self) -> None:
        r = self._reader
        kind = (await r.readexactly(1))[0]
        if kind == 0:  # FramebufferUpdate
            (count,) = struct.unpack(">xH", await r.readexactly(3))
            for _ in range(count):
                x, _y, w, h, enc = struct.unpack(">HHHHi", await r.readexactly(12))
                if enc == Encoding.RAW:
                    await r.readexactly(w * h * 4)
                elif enc == streams.STREAM_ENCODING or enc == Encoding.TIGHT_PNG_OR_STREAM:
                    (n,) = struct.unpack(">I", await r.readexactly(4))
                    name = (await r.readexactly(n)).decode(errors="replace")
                    if x == 0 and name not in self.streams:
                        self.streams.append(name)
                    elif x == 1 and name in self.streams:
                        self.streams.remove(name)
                    self._changed.set()
                else:
                    raise ProtocolError(f"unexpected encoding {enc}")
            self._first_update.set()
            self._request()
        elif kind == 1:  # SetColourMapEntries
            (n,) = struct.unpack(">xxH", await r.readexactly(5))
            await r.readexactly(6 * n)
        elif kind == 2:  # Bell
            pass
        elif kind == 3:  # ServerCutText
            (n,) = struct.unpack(">xxxI", await r.readexactly(7))
            await r.readexactly(n)
        elif kind == streams.QEMU_MSG:
            await self._stream_message()
        else:
            raise ProtocolError(f"unexpected server message {kind}")

    async def _stream_message(self) -> None:
        r = self._reader
        subtype, op = await r.readexactly(2)
        if subtype != streams.STREAM_SUBTYPE:
            raise ProtocolError(f"unexpected QEMU server message sub-type {subtype}")
        if op == streams.OP_START:
            stream_id, n = struct.unpack(">II", await r.readexactly(8))
            name = (await r.readexactly(n)).decode(errors="replace")
            capture = Capture(self, stream_id, name)
            self._captures[stream_id] = capture
            for i, (wanted, fut) in enumerate(self._pending_open):
                if wanted == name:
                    del self._pending_open[i]
                    fut.set_result(capture)
                    break
        elif op == streams.OP_END:
            (stream_id,) = struct.unpack(">I", await r.readexactly(4))
            capture_ = self._captures.pop(stream_id, None)
            if capture_ is not None:
                capture_._end()
        elif op == streams.OP_DATA:
            stream_id, n = struct.unpack(">II", await r.readexactly(8))
            data = await r.readexactly(n)
            cap = self._captures.get(stream_id)
            if cap is not None and not cap.ended:
                cap._queue.put_nowait(data)
        else:
            raise ProtocolError(f"unknown stream operation {op}")

    async def list_streams(self, settle: float = 0.3, timeout: float = 5.0) -> list[str]:
        """The streams the server offers (waits for the first update, then ``settle`` s)."""
        await asyncio.wait_for(self._first_update.wait(), timeout)
        await asyncio.sleep(settle)
        return list(self.streams)

    async def wait_for_stream(self, name: str, timeout: float = 10.0) -> None:
        """Wait until the server announces ``name``."""

        async def present() -> None:
            while name not in self.streams:
                if self.closed.is_set():
                    raise ConnectionError("connection closed")
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(present(), timeout)

    async def open(self, name: str, timeout: float = 10.0) -> Capture:
        """Start capturing ``name``. Raises LookupError if the server refuses."""
        fut: asyncio.Future[Capture] = asyncio.get_running_loop().create_future()
        self._pending_open.append((name, fut))
        self._send(streams.start_request(name))
        capture = await asyncio.wait_for(fut, timeout)
        await asyncio.sleep(0)  # an immediate refusal (start then end) arrives together
        if capture.ended and capture._queue.qsize() <= 1:
            raise LookupError(f"the server refused to capture stream {name!r}")
        return capture

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await self._task
