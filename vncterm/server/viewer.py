"""One connected viewer: the asyncio transport around a sans-I/O ServerConnection.

Updates go out only in answer to a FramebufferUpdateRequest (RFB spec section 7.5.3), hold what
changed since this viewer's previous update, and are encoded in the viewer's own pixel format
with its own encoder state. A viewer whose transport buffer is above the high-water mark gets no
new frame until it drains; it never slows the console or the other viewers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import Future
from typing import TYPE_CHECKING, cast

from ..encoders.manager import EncodedRect, EncodeManager
from ..errors import ProtocolError
from ..geometry import Rect
from ..rfb import events
from ..console.base import Console
from ..rfb.connection import RectData, SecurityConfig, ServerConnection, State, UpdateRect
from ..terminal.keymap import KeyState
from .damage import DamageGrid

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)

#: Frames stop while more than this many bytes wait in the viewer's transport buffer.
HIGH_WATER = 256 * 1024
#: A viewer writing to a stream is paused while the stream's backend has this much unwritten.
STREAM_INPUT_PAUSE = 256 * 1024
BREAK, PAUSE = 0xFF6B, 0xFF13
#: Updates covering at most this many pixels are encoded on the event loop (lower latency).
INLINE_AREA = 64 * 1024


class Viewer(asyncio.Protocol):
    """The server side of one viewer connection."""

    def __init__(self, session: Session, security: SecurityConfig) -> None:
        self.session = session
        self.conn = ServerConnection(security, random_bytes=os.urandom)
        self.manager = EncodeManager()
        self.keys = KeyState()
        self.damage = DamageGrid(session.width, session.height,
                                 session.renderer.cell_w, session.renderer.cell_h)
        self.transport: asyncio.Transport | None = None
        self.label = "viewer"
        self.request: Rect | None = None
        self._force = False
        self._encoding = False
        self._paused = False
        self._attached = False
        self._closed = False
        self.bytes_sent = 0
        self.updates_sent = 0
        self._stream_changes: list[tuple[str, bool]] = []
        self._next_stream_id = 1
        self._input_paused = False
        self._pseudo: list[RectData] = []

    def __str__(self) -> str:
        return self.label

    # -- transport callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but offer the same API
        self.transport = tr = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.label = f"viewer {peer[0]}:{peer[1]}" if ":" not in peer[0] else \
                f"viewer [{peer[0]}]:{peer[1]}"
        else:
            self.label = f"viewer unix:{transport.get_extra_info('sockname')}#{id(self) % 10000}"
        tr.set_write_buffer_limits(high=HIGH_WATER)
        log.info("%s: connected", self)
        self._write()

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            evs = self.conn.receive_data(data)
        except ProtocolError as e:
            self.close(f"protocol error: {e}")
            return
        while evs:
            try:
                for ev in evs:
                    self._handle(ev)
                # input that arrived ahead of ServerInit is parsed once it has gone out
                evs = self.conn.receive_data(b"") if self.conn.has_buffered_input else []
            except ProtocolError as e:
                self.close(f"protocol error: {e}")
                return
        self._write()
        if self.conn.state is State.CLOSED and not self._closed:
            self.close("authentication failed")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            log.info("%s: connection closed by viewer%s", self, f" ({exc})" if exc else "")
        self._closed = True
        self.session.streams.leave(self)
        self.session.detach(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self.session.streams.check_pushback()
        self.maybe_send()

    # -- events ----------------------------------------------------------------------------------

    def _handle(self, ev: events.Event) -> None:
        if isinstance(ev, events.Authenticated):
            log.info("%s: authenticated (security type %d%s)", self, ev.security_type,
                     ", view-only" if ev.view_only else "")
        elif isinstance(ev, events.AuthenticationFailed):
            log.warning("%s: authentication failed: %s", self, ev.reason)
        elif isinstance(ev, events.ClientInit):
            self.conn.send_server_init(self.session.width, self.session.height, self.session.name)
            self.session.attach(self, ev.shared)
            self._attached = True
            self.damage.add_all()
        elif isinstance(ev, events.SetPixelFormat):
            pf = ev.pixel_format
            log.info("%s: pixel format %d bpp depth %d %s%s", self, pf.bits_per_pixel, pf.depth,
                     "big-endian" if pf.big_endian else "little-endian",
                     "" if pf.true_colour else ", colour map")
            if pf.is_colour_map:
                self.conn.send_colour_map(0, pf.colour_map())
            self.damage.add_all()
        elif isinstance(ev, events.SetEncodings):
            self.manager.set_encodings(ev.encodings)
            log.debug("%s: encodings %s", self, list(ev.encodings))
            if self.conn.stream_encoding is not None:
                self.session.streams.join(self)
            else:
                self.session.streams.leave(self)
        elif isinstance(ev, events.StreamStart):
            self._stream_start(ev.name)
        elif isinstance(ev, events.StreamEnd):
            log.info("%s: ended capture %d", self, ev.stream_id)
            self.session.streams.end(self, ev.stream_id)
        elif isinstance(ev, events.StreamData):
            self._stream_write(ev.stream_id, ev.data)
        elif isinstance(ev, events.FramebufferUpdateRequest):
            self._on_request(ev)
        elif isinstance(ev, (events.KeyEvent, events.QemuKeyEvent)):
            if not self.conn.view_only and ev.keysym:
                if ev.down and (ev.keysym == BREAK or (ev.keysym == PAUSE and self.keys.ctrl)):
                    # Break (Ctrl+Pause on PC keyboards): a serial BREAK, for Magic SysRq
                    sent = self.session.console.send_break()
                    log.info("%s: BREAK %s", self, "sent" if sent else "not possible here")
                    return
                app_cursor = self.session.emulator.application_cursor_keys
                data = self.keys.key(ev.keysym, ev.down, app_cursor)
                self.session.write_input(data)
        elif isinstance(ev, events.ClientCutText):
            if not self.conn.view_only and ev.text:
                text = ev.text.replace("\r\n", "\r").replace("\n", "\r")
                self.session.write_input(text.encode("utf-8"))
        # PointerEvent: no pointer use yet (the interaction issue adds mouse and selection)

    # -- tunnelled streams ------------------------------------------------------------------------

    def _stream_start(self, name: str) -> None:
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        self.conn.send_stream_started(stream_id, name)
        if self.conn.view_only:
            log.warning("%s: capture of %r refused: view-only viewer", self, name)
            self.conn.send_stream_ended(stream_id)
        elif not self.session.streams.start(self, name, stream_id):
            log.warning("%s: capture of %r refused: no such stream", self, name)
            self.conn.send_stream_ended(stream_id)
        else:
            log.info("%s: capturing stream %r as %d", self, name, stream_id)

    def _stream_write(self, stream_id: int, data: bytes) -> None:
        stream = self.session.streams.route(self, stream_id)
        if stream is None:
            log.debug("%s: data for capture %d that is not open: dropped", self, stream_id)
            return
        stream.backend.write(data)
        if stream.backend.pending_write() > STREAM_INPUT_PAUSE and not self._input_paused:
            # the stream's backend is not keeping up: stop reading this viewer until it is
            self._input_paused = True
            assert self.transport is not None
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(0.01, self._check_input, stream.backend)

    def _check_input(self, backend: Console) -> None:
        if self._closed or self.transport is None:
            return
        if backend.pending_write() > STREAM_INPUT_PAUSE // 4:
            asyncio.get_running_loop().call_later(0.01, self._check_input, backend)
            return
        self._input_paused = False
        self.transport.resume_reading()

    def stream_data(self, stream_id: int, data: bytes) -> None:
        if not self._closed:
            self.conn.send_stream_data(stream_id, data)
            self._write()

    def stream_ended(self, stream_id: int) -> None:
        if not self._closed:
            self.conn.send_stream_ended(stream_id)
            self._write()

    def stream_changes(self, changes: list[tuple[str, bool]]) -> None:
        """Streams appeared or vanished: announce them in this viewer's next update."""
        self._stream_changes.extend(changes)
        self.maybe_send()

    def buffered(self) -> int:
        """Bytes waiting in this viewer's transport."""
        if self.transport is None or self.transport.is_closing():
            return 0
        return self.transport.get_write_buffer_size()

    def _on_request(self, ev: events.FramebufferUpdateRequest) -> None:
        region = ev.rect.intersect(Rect(0, 0, self.session.width, self.session.height))
        self.request = region
        if not ev.incremental:
            self.damage.add(region)
            self._force = True
        self.maybe_send()

    # -- output ----------------------------------------------------------------------------------

    def _write(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            self.bytes_sent += len(data)

    def bell(self) -> None:
        if self._attached and not self._closed:
            self.conn.send_bell()
            self._write()

    def has_unsent(self) -> bool:
        """True while this viewer has damage it has not been sent yet."""
        return self._attached and not self._closed and bool(self.damage.mask.any())

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until the transport has written everything."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.transport is not None and not self.transport.is_closing()
               and self.transport.get_write_buffer_size() and loop.time() < deadline):
            await asyncio.sleep(0.01)

    def maybe_send(self) -> None:
        """Send an update if one is requested, something changed, and the transport has room."""
        if self.request is None or self._encoding or self._paused or self._closed:
            return
        self.session.refresh()
        region = self.request
        if not self._force and not self._stream_changes and not self.damage.any_in(region):
            return
        rects = self.damage.take(region)
        self.request, self._force = None, False
        self._pseudo = self.conn.stream_announcements(self._stream_changes)
        self._stream_changes = []
        snap = self.session.snapshot()
        pf = self.conn.pixel_format
        if sum(r.area for r in rects) <= INLINE_AREA:
            self._send_update(self.manager.encode(snap.pixels, rects, pf, snap.palette_hint))
            return
        self._encoding = True
        fut = self.session.executor.submit(
            self.manager.encode, snap.pixels, rects, pf, snap.palette_hint)
        loop = asyncio.get_running_loop()
        fut.add_done_callback(lambda f: loop.call_soon_threadsafe(self._encoded, f))

    def _encoded(self, fut: Future[list[EncodedRect]]) -> None:
        self._encoding = False
        if self._closed:
            return
        try:
            encoded = fut.result()
        except Exception:
            log.exception("%s: encoding failed", self)
            self.close("internal error while encoding")
            return
        self._send_update(encoded)
        self.maybe_send()

    def _send_update(self, encoded: list[EncodedRect]) -> None:
        pseudo: list[UpdateRect] = list(self._pseudo)
        self._pseudo = []
        self.conn.send_framebuffer_update(pseudo + list(encoded))
        self.updates_sent += 1
        self._write()

    def close(self, reason: str) -> None:
        """Drop this viewer (after sending what is queued), logging why."""
        if self._closed:
            return
        self._closed = True
        level = logging.INFO if reason in ("the console has ended",) else logging.WARNING
        log.log(level, "%s: disconnected: %s", self, reason)
        self._write()
        if self.transport is not None:
            self.transport.close()
        self.session.streams.leave(self)
        self.session.detach(self)
