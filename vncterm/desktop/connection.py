"""The asyncio driver of the desktop client: sockets around :class:`~.client.DesktopClient`.

Two ways to reach a desktop (RFB spec section 7: the server always speaks first):

- :meth:`DesktopConnection.connect` connects out, over TCP or a unix socket (QEMU's VNC display);
- :class:`ReverseListener` accepts *reverse* connections: the desktop connects to us (Xvnc's
  ``vncconfig -connect``, ``x11vnc -connect``) and then behaves as a server all the same.

Both return a connection whose handshake is done but which is not reading yet, so no event is
lost before the caller is ready; :meth:`DesktopConnection.start` registers the callbacks, sends
the first (full) FramebufferUpdateRequest and keeps exactly one request outstanding, incremental
after the first (section 7.5.3). The framebuffer lives in the client and is replaced on a resize.
A desktop that breaks the protocol or goes away, even mid-update, closes the connection with a
logged reason passed to ``on_close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..errors import ProtocolError
from ..geometry import Rect
from .client import DesktopClient, State
from .decoders.base import U8, U32
from .events import Event, FramebufferUpdated, Resized

log = logging.getLogger(__name__)

EventCallback = Callable[[Event], None]
CloseCallback = Callable[[str], None]

READ_CHUNK = 256 * 1024
HANDSHAKE_TIMEOUT = 10.0


class DesktopConnection:
    """One desktop: its socket, its :class:`DesktopClient` and the update-request loop."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: DesktopClient,
        *,
        peer: str = "desktop",
        max_fps: float | None = None,
    ) -> None:
        self.client = client
        self.peer = peer
        self.max_fps = max_fps
        self.on_event: EventCallback | None = None
        self.on_close: CloseCallback | None = None
        self.close_reason: str | None = None
        self._reader = reader
        self._writer = writer
        self._pending: list[Event] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._full_next = False
        self._last_request = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- opening --------------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        host: str | None = None,
        port: int | None = None,
        *,
        path: str | None = None,
        password: str | bytes | None = None,
        timeout: float = HANDSHAKE_TIMEOUT,
        max_fps: float | None = None,
        **options: Any,
    ) -> DesktopConnection:
        """Connect to ``host:port`` (or the unix socket ``path``) and do the handshake.

        ``options`` go to :class:`DesktopClient` (encodings, jpeg_quality, ...). Raises
        ProtocolError / AuthenticationFailed / OSError / TimeoutError; nothing stays open then.
        """
        if path is not None:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), timeout)
            peer = f"unix:{path}"
        else:
            if host is None or port is None:
                raise TypeError("connect needs host and port, or path")
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            peer = f"{host}:{port}"
        return await cls.handshake(
            reader,
            writer,
            DesktopClient(password, **options),
            peer=peer,
            timeout=timeout,
            max_fps=max_fps,
        )

    @classmethod
    async def handshake(
        cls,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: DesktopClient,
        *,
        peer: str = "desktop",
        timeout: float = HANDSHAKE_TIMEOUT,
        max_fps: float | None = None,
    ) -> DesktopConnection:
        """Run the handshake over connected streams; the connection is returned unstarted."""
        conn = cls(reader, writer, client, peer=peer, max_fps=max_fps)
        try:
            await asyncio.wait_for(conn._handshake(), timeout)
        except BaseException as e:
            conn._abort(f"handshake failed: {e or repr(e)}")
            raise
        log.info(
            "desktop %s connected: %dx%d %r (RFB %d.%d)",
            peer,
            client.width,
            client.height,
            client.name,
            *(client.version or (0, 0)),
        )
        return conn

    async def _handshake(self) -> None:
        while self.client.state is State.HANDSHAKE:
            data = await self._reader.read(READ_CHUNK)
            if not data:
                self.client.receive_eof()
                raise ProtocolError("the desktop closed the connection during the handshake")
            self._pending.extend(self.client.receive_data(data))
            self._flush()

    # -- running --------------------------------------------------------------------------------

    def start(
        self, on_event: EventCallback | None = None, on_close: CloseCallback | None = None
    ) -> None:
        """Deliver events from now on (first the Connected event) and keep updates coming."""
        if self._task is not None:
            raise RuntimeError("the desktop connection is already started")
        if on_event is not None:
            self.on_event = on_event
        if on_close is not None:
            self.on_close = on_close
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name=f"desktop {self.peer}")

    async def _run(self) -> None:
        try:
            pending, self._pending = self._pending, []
            self._request(full=True)
            for event in pending:
                self._handle(event)
            while True:
                data = await self._reader.read(READ_CHUNK)
                if not data:
                    self.client.receive_eof()
                    self._abort("the desktop closed the connection")
                    return
                try:
                    events = self.client.receive_data(data)
                except ProtocolError:
                    for event in self.client.pending_events():  # what came before the bad bytes
                        self._handle(event)
                    raise
                self._flush()
                for event in events:
                    self._handle(event)
        except ProtocolError as e:
            self._abort(f"protocol error: {e}")
        except (ConnectionError, OSError) as e:
            self._abort(f"connection lost: {e}")
        except asyncio.CancelledError:
            self._abort(self.close_reason or "cancelled")
            raise
        except Exception as e:  # a bug of ours: drop the desktop, keep the server
            log.exception("desktop %s: unexpected error", self.peer)
            self._abort(f"internal error: {e!r}")

    def _handle(self, event: Event) -> None:
        if isinstance(event, Resized):
            self._full_next = True
        elif isinstance(event, FramebufferUpdated):
            self._request(full=self._full_next)
            self._full_next = False
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("desktop %s: event callback failed on %r", self.peer, event)

    def _request(self, full: bool) -> None:
        """Send the next FramebufferUpdateRequest, no sooner than ``max_fps`` allows."""
        delay = 0.0
        if self.max_fps and not full:
            delay = self._last_request + 1.0 / self.max_fps - time.monotonic()
        if delay > 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(delay, self._send_request, full)
        else:
            self._send_request(full)

    def _send_request(self, full: bool) -> None:
        self._timer = None
        if self.client.state is not State.NORMAL:
            return
        self._last_request = time.monotonic()
        self.client.request_update(incremental=not full)
        self._flush()

    def _flush(self) -> None:
        data = self.client.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)

    # -- input to the desktop -------------------------------------------------------------------

    def send_key(self, keysym: int, down: bool) -> None:
        """KeyEvent (section 7.5.4); ignored once closed."""
        if self.client.state is State.NORMAL:
            self.client.key_event(keysym, down)
            self._flush()

    def send_pointer(self, x: int, y: int, buttons: int) -> None:
        """PointerEvent (section 7.5.5); ignored once closed."""
        if self.client.state is State.NORMAL:
            self.client.pointer_event(x, y, buttons)
            self._flush()

    def send_cut_text(self, text: str) -> None:
        """Offer clipboard text to the desktop (section 7.5.6 or the Extended Clipboard)."""
        if self.client.state is State.NORMAL:
            self.client.cut_text(text)
            self._flush()

    def request_update(self, incremental: bool = False, rect: Rect | None = None) -> None:
        """An extra FramebufferUpdateRequest (e.g. a full refresh); normally not needed."""
        if self.client.state is State.NORMAL:
            self.client.request_update(incremental, rect)
            self._flush()

    # -- state ----------------------------------------------------------------------------------

    @property
    def framebuffer(self) -> U32:
        """The desktop's pixels, (height, width) uint32 0x00RRGGBB (a new array after Resized)."""
        return self.client.framebuffer

    @property
    def width(self) -> int:
        return self.client.width

    @property
    def height(self) -> int:
        return self.client.height

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def cursor(self) -> tuple[U8, tuple[int, int]] | None:
        return self.client.cursor

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- closing --------------------------------------------------------------------------------

    def _abort(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self.close_reason = reason
        self._closed.set()
        self.client.close()
        if self._timer is not None:
            self._timer.cancel()
        self._writer.close()
        level = logging.INFO if reason.startswith("closed by") else logging.WARNING
        log.log(level, "desktop %s closed: %s", self.peer, reason)
        if self.on_close is not None:
            try:
                self.on_close(reason)
            except Exception:
                log.exception("desktop %s: close callback failed", self.peer)

    async def close(self, reason: str = "closed by vncterm") -> None:
        """Drop the desktop and wait until the reader has stopped."""
        self._abort(reason)
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def wait_closed(self) -> str:
        """Wait until the connection closes; return the reason."""
        await self._closed.wait()
        return self.close_reason or ""


class ReverseListener:
    """A listener for desktops that connect to us (reverse connections).

    ``async with ReverseListener(host, port, password=...) as listener: conn = await
    listener.accept()``. Each arriving desktop is handshaken in the background; failures are
    logged and dropped. Up to ``backlog`` handshaken desktops wait for :meth:`accept`; more are
    turned away. With ``single``, one desktop at a time: while one is being handshaken, waits
    for :meth:`accept` or is accepted and still open, any other is closed at once, unread.
    ``on_refused(peer, reason)`` hears of every desktop turned away.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        password: str | bytes | None = None,
        timeout: float = HANDSHAKE_TIMEOUT,
        backlog: int = 2,
        max_fps: float | None = None,
        single: bool = False,
        on_refused: Callable[[str, str], None] | None = None,
        **options: Any,
    ) -> None:
        self.host, self.requested_port = host, port
        self.single = single
        self.on_refused = on_refused
        self._current: DesktopConnection | None = None  # the last one accepted
        self._handshaking = 0
        self._password = password
        self._timeout = timeout
        self._max_fps = max_fps
        self._options = options
        self._queue: asyncio.Queue[DesktopConnection] = asyncio.Queue(backlog)
        self._server: asyncio.Server | None = None

    async def start(self) -> ReverseListener:
        self._server = await asyncio.start_server(self._arrived, self.host, self.requested_port)
        log.info("listening for reverse desktop connections on %s:%d", self.host, self.port)
        return self

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the reverse listener is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def _arrived(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        addr = writer.get_extra_info("peername")
        peer = f"reverse {addr[0]}:{addr[1]}" if isinstance(addr, tuple) else "reverse desktop"
        busy = self._busy()
        if busy is not None:
            writer.close()
            self._refused(peer, busy)
            return
        self._handshaking += 1
        try:
            conn = await DesktopConnection.handshake(
                reader,
                writer,
                DesktopClient(self._password, **self._options),
                peer=peer,
                timeout=self._timeout,
                max_fps=self._max_fps,
            )
        except Exception as e:
            self._refused(peer, f"handshake failed: {e}")
            return
        finally:
            self._handshaking -= 1
        try:
            self._queue.put_nowait(conn)
        except asyncio.QueueFull:
            await conn.close("closed by vncterm: too many desktops waiting")
            self._refused(peer, "too many desktops waiting")

    def _busy(self) -> str | None:
        """With ``single``: why another desktop may not come now, or None."""
        if not self.single:
            return None
        if self._handshaking or not self._queue.empty():
            return "another desktop is connecting (one desktop at a time)"
        if self._current is not None and not self._current.closed:
            return f"{self._current.peer} is attached (one desktop at a time)"
        return None

    def _refused(self, peer: str, reason: str) -> None:
        log.warning("%s refused: %s", peer, reason)
        if self.on_refused is not None:
            self.on_refused(peer, reason)

    async def accept(self) -> DesktopConnection:
        """The next desktop that connected and completed the handshake (not started yet)."""
        self._current = await self._queue.get()
        return self._current

    async def close(self) -> None:
        """Stop listening and drop desktops nobody accepted."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        while not self._queue.empty():
            await self._queue.get_nowait().close("closed by vncterm: listener closed")

    async def __aenter__(self) -> ReverseListener:
        return await self.start()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def accept_reverse(
    host: str,
    port: int,
    *,
    password: str | bytes | None = None,
    ready: Callable[[int], None] | None = None,
    **options: Any,
) -> DesktopConnection:
    """Listen on ``host:port`` until one desktop connects in reverse; return it unstarted.

    ``ready`` receives the bound port once listening (handy with port 0).
    """
    async with ReverseListener(host, port, password=password, **options) as listener:
        if ready is not None:
            ready(listener.port)
        return await listener.accept()
