"""An asyncio RFB client for the tunnelled-stream extension (see ``rfb.streams``).

It authenticates (None, VNC Authentication, or VeNCrypt's X509None, X509Vnc and X509Plain
with the server's certificate checked), announces the stream pseudo-encoding, and keeps
one incremental FramebufferUpdateRequest for a single pixel outstanding, so the server can send
stream announcements without sending the screen. ::

    client = await StreamClient.connect("127.0.0.1", 5900)
    print(await client.list_streams())
    capture = await client.open("console")
    capture.write(b"echo hi\\r")
    print(await capture.read())

It also asks for vncterm's stream states (``rfb.streams.STREAM_STATE_ENCODING``): ``states``
holds each stream's last state (the guest has it open or not, vncterm attached or not), and
``changes()`` yields every addition, removal and state as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from .errors import ProtocolError
from .rfb import auth, streams, vencrypt
from .rfb.constants import ClientMsg, Encoding, SecurityResult, SecurityType, ServerMsg

_READ_LIMIT = 1 << 20
#: Changes kept for :meth:`StreamClient.changes` (older ones are dropped).
MAX_CHANGES = 1024
#: Seconds :meth:`StreamClient.close` waits for the server to end the connection.
CLOSE_WAIT = 2.0


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


@dataclass(frozen=True)
class TlsOptions:
    """How a VeNCrypt server is checked: its certificate against ``ca_file`` (None: the
    system's store) for ``server_name`` (None: the host connected to, "localhost" over a unix
    socket); ``cert_file``/``key_file``: a client certificate, for servers that ask for one."""

    ca_file: str | None = None
    server_name: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file is not None:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def _refused_certificate(e: ssl.SSLCertVerificationError, tls: TlsOptions, name: str) -> str:
    """Why the server's certificate was refused, and what to do about it."""
    why = e.verify_message or str(e)
    if "mismatch" in why.lower():
        return (
            f"TLS: the server's certificate is not for {name!r}: name the one it is for "
            "with --tls-server-name"
        )
    if tls.ca_file is None:
        hint = "no CA of the system's store signed it: give its CA with --tls-ca FILE"
    else:
        hint = f"the CA in {tls.ca_file} did not sign it"
    return f"TLS: the server's certificate was refused ({why}); {hint}"


class _Credentials:
    """The password (given, or asked for once when first needed) and the Plain user name."""

    def __init__(
        self, password: bytes | None, user: str | None, ask: Callable[[str], bytes | None] | None
    ) -> None:
        self.password = password
        self.user = user
        self._ask = ask

    async def get_password(self) -> bytes:
        if self.password is None and self._ask is not None:
            prompt = f"Password for {self.user}: " if self.user else "VNC password: "
            loop = asyncio.get_running_loop()
            self.password = await loop.run_in_executor(None, self._ask, prompt)
        if self.password is None:
            raise PermissionError("the server needs a password (--password-file)")
        return self.password


class StreamClient:
    """A connection to a vncterm (or any server speaking the stream extension)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.streams: list[str] = []
        #: The last state of each stream (servers that send states: vncterm).
        self.states: dict[str, streams.StreamState] = {}
        self._changes: deque[streams.StreamChange] = deque(maxlen=MAX_CHANGES)
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
        user: str | None = None,
        tls: TlsOptions | None = None,
        ask_password: Callable[[str], bytes | None] | None = None,
    ) -> StreamClient:
        """Connect over TCP (``host``, ``port``) or a unix socket (``path``) and handshake.

        VeNCrypt is used whenever the server offers it (with ``tls``, or else the system's CA
        store and the host's name); ``tls`` given and no VeNCrypt offered is an error.
        ``ask_password(prompt)`` is called when a password is needed and ``password`` is None.
        """
        if path is not None:
            reader, writer = await asyncio.open_unix_connection(path, limit=_READ_LIMIT)
        else:
            reader, writer = await asyncio.open_connection(host, port, limit=_READ_LIMIT)
        client = cls(reader, writer)
        credentials = _Credentials(password, user, ask_password)
        try:
            await client._handshake(credentials, tls, host or "localhost")
        except BaseException:
            writer.close()
            raise
        client._task = asyncio.ensure_future(client._run())
        return client

    async def _handshake(
        self, credentials: _Credentials, tls: TlsOptions | None, host: str
    ) -> None:
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
        if SecurityType.VENCRYPT in types:
            self._writer.write(bytes([SecurityType.VENCRYPT]))
            await self._vencrypt(credentials, tls or TlsOptions(), host)
        elif tls is not None:
            raise ProtocolError(
                "the server does not offer TLS (VeNCrypt): not connecting in the clear"
            )
        elif SecurityType.VNC_AUTH in types and (
            SecurityType.NONE not in types or credentials.password is not None
        ):
            self._writer.write(bytes([SecurityType.VNC_AUTH]))
            await self._vnc_auth(await credentials.get_password())
        elif SecurityType.NONE in types:
            self._writer.write(bytes([SecurityType.NONE]))
        else:
            raise ProtocolError(f"no security type this client speaks (offered {list(types)})")
        await self._security_result()
        self._writer.write(b"\x01")  # shared
        header = await r.readexactly(24)
        (n,) = struct.unpack(">I", header[20:24])
        self.name = (await r.readexactly(n)).decode(errors="replace")
        encodings = (Encoding.RAW, streams.STREAM_ENCODING, streams.STREAM_STATE_ENCODING)
        self._send(
            struct.pack(
                f">BxH{len(encodings)}i", ClientMsg.SET_ENCODINGS, len(encodings), *encodings
            )
        )
        self._request()

    async def _vnc_auth(self, password: bytes) -> None:
        """VNC Authentication (section 7.2.2): the answer to a 16-byte challenge."""
        challenge = await self._reader.readexactly(auth.CHALLENGE_SIZE)
        self._writer.write(auth.vnc_response(password, challenge))

    async def _security_result(self) -> None:
        """SecurityResult (section 7.1.3), with the reason of a failure."""
        r = self._reader
        (result,) = struct.unpack(">I", await r.readexactly(4))
        if result != SecurityResult.OK:
            (n,) = struct.unpack(">I", await r.readexactly(4))
            raise PermissionError((await r.readexactly(min(n, 4096))).decode(errors="replace"))

    async def _vencrypt(self, credentials: _Credentials, tls: TlsOptions, host: str) -> None:
        """VeNCrypt 0.2 (section 7.2.19): pick an X509 sub-type, upgrade to TLS checking the
        server's certificate, then None, VNC Authentication or Plain inside it."""
        r, w = self._reader, self._writer
        major, minor = await r.readexactly(2)
        if (major, minor) < vencrypt.VERSION:
            raise ProtocolError(f"VeNCrypt {major}.{minor} is not supported (0.2 is)")
        w.write(bytes(vencrypt.VERSION))
        if (await r.readexactly(1))[0] != vencrypt.VERSION_OK:
            raise ProtocolError("the server refused VeNCrypt 0.2")
        count = (await r.readexactly(1))[0]
        offered = struct.unpack(f">{count}I", await r.readexactly(4 * count))
        try:
            subtype = vencrypt.client_choice(offered, credentials.user is not None)
        except ValueError as e:
            raise ProtocolError(str(e)) from None
        w.write(struct.pack(">I", subtype))
        if (await r.readexactly(1))[0] != vencrypt.SUBTYPE_OK:
            raise ProtocolError(f"the server refused VeNCrypt {vencrypt.NAMES[subtype]}")
        name = tls.server_name or host
        try:
            await w.start_tls(tls.context(), server_hostname=name)
        except ssl.SSLCertVerificationError as e:
            raise PermissionError(_refused_certificate(e, tls, name)) from None
        except ssl.SSLError as e:
            raise ProtocolError(f"TLS handshake failed: {e.reason or e}") from None
        if subtype == vencrypt.X509_VNC:
            await self._vnc_auth(await credentials.get_password())
        elif subtype == vencrypt.X509_PLAIN:
            assert credentials.user is not None
            try:
                w.write(
                    vencrypt.plain_credentials(credentials.user, await credentials.get_password())
                )
            except ValueError as e:
                raise ProtocolError(str(e)) from None

    def _send(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def _request(self) -> None:
        self._send(struct.pack(">BBHHHH", ClientMsg.FRAMEBUFFER_UPDATE_REQUEST, 1, 0, 0, 1, 1))

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
        if kind == ServerMsg.FRAMEBUFFER_UPDATE:
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
                        self.states.pop(name, None)
                    self._changes.append((name, x == 0))
                    self._changed.set()
                elif enc == streams.STREAM_STATE_ENCODING:
                    (n,) = struct.unpack(">I", await r.readexactly(4))
                    name = (await r.readexactly(n)).decode(errors="replace")
                    state = streams.StreamState.from_flags(name, x)
                    self.states[name] = state
                    self._changes.append(state)
                    self._changed.set()
                else:
                    raise ProtocolError(f"unexpected encoding {enc}")
            self._first_update.set()
            self._request()
        elif kind == ServerMsg.SET_COLOUR_MAP_ENTRIES:
            (n,) = struct.unpack(">xxH", await r.readexactly(5))
            await r.readexactly(6 * n)
        elif kind == ServerMsg.BELL:
            pass
        elif kind == ServerMsg.SERVER_CUT_TEXT:
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

    async def wait_for_state(
        self, name: str, check: Callable[[streams.StreamState], bool], timeout: float = 10.0
    ) -> streams.StreamState:
        """Wait until stream ``name``'s state passes ``check``; that state."""

        async def reached() -> streams.StreamState:
            while (state := self.states.get(name)) is None or not check(state):
                if self.closed.is_set():
                    raise ConnectionError("connection closed")
                self._changed.clear()
                await self._changed.wait()
            return state

        return await asyncio.wait_for(reached(), timeout)

    async def changes(self) -> AsyncIterator[streams.StreamChange]:
        """Every addition ``(name, True)``, removal ``(name, False)`` and state, as they come
        (from the connection's start; the oldest are dropped past MAX_CHANGES)."""
        while True:
            while self._changes:
                yield self._changes.popleft()
            if self.closed.is_set():
                return
            self._changed.clear()
            await self._changed.wait()

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
        # over TLS this waits for the server's close_notify: not for ever
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), CLOSE_WAIT)
        self._writer.transport.abort()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await self._task
