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
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, cast

import numpy as np

from ..console.base import Console
from ..encoders.base import EncoderOptions
from ..encoders.cells import CellGrid
from ..encoders.copyrect import copyrect_payload
from ..encoders.manager import EncodeManager
from ..errors import ProtocolError
from ..geometry import Move, Rect
from ..rfb import events, vencrypt
from ..rfb.connection import EncodedRect, SecurityConfig, ServerConnection, State
from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from ..terminal.keymap import KeyState
from ..terminal.mouse import MouseState
from .cursor import DEFAULT_CURSOR, cursor_rect
from .damage import DamageGrid
from .desktop import DesktopSource
from .reserved_keys import Action, lookup
from .security import Gatekeeper, address_key
from .sources import Damage, FramebufferSource
from .viewer_clipboard import ViewerClipboard

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)

#: Frames stop while more than this many bytes wait in the viewer's transport buffer.
HIGH_WATER = 256 * 1024
#: A viewer writing to a stream is paused while the stream's backend has this much unwritten.
STREAM_INPUT_PAUSE = 256 * 1024
#: Seconds after a Break that could not be sent during which the next key (SysRq's) is dropped.
BREAK_SWALLOW = 5.0
HELD_MODIFIERS = (0xFFE3, 0xFFE4, 0xFFE9, 0xFFEA, 0xFFE7, 0xFFE8)
#: More pending moves than this between two updates are sent as repaints instead.
MAX_COPIES = 64
#: Continuous updates (section 7.5.10) are paced to at most this many frames a second.
MAX_FPS = 60
FENCE_BLOCK_BEFORE, FENCE_BLOCK_AFTER, FENCE_SYNC_NEXT = 1, 2, 4
FENCE_REQUEST = 1 << 31
#: Updates covering at most this many pixels are encoded on the event loop (lower latency).
INLINE_AREA = 64 * 1024
#: A viewer is dropped when this much waits in its transport buffer (frames stop at HIGH_WATER,
#: but stream data and bells do not), or when the buffer stays above HIGH_WATER without
#: draining for the gatekeeper's ``stuck_timeout``: a viewer that never reads is not kept.
MAX_BUFFER = 16 * 1024 * 1024
#: A connection that has not finished its handshake by then is dropped.
HANDSHAKE_TIMEOUT = 30.0
#: Why a viewer that ended its TLS session (close_notify) is disconnected: not a fault.
TLS_CLOSED = "closed by viewer (TLS close_notify)"


class Viewer(asyncio.Protocol):
    """The server side of one viewer connection."""

    def __init__(
        self, session: Session, security: SecurityConfig, guard: Gatekeeper | None = None
    ) -> None:
        self.session = session
        self.conn = ServerConnection(security, random_bytes=os.urandom)
        self.guard = guard or Gatekeeper()
        #: What blocking counts failures by: the peer's IP address, or its uid on a unix socket.
        self.address_key = "?"
        self._end_reason: str | None = None
        self._stuck_handle: asyncio.TimerHandle | None = None
        self._handshake_handle: asyncio.TimerHandle | None = None
        self.manager = EncodeManager(
            EncoderOptions(allow_lossy=session.allow_lossy, tight_gradient=session.tight_gradient)
        )
        self.keys = KeyState()
        self.mouse = MouseState()
        self.clicks: tuple[float, tuple[int, int], int] = (0.0, (-1, -1), 0)
        self.select_anchor: tuple[int, int] | None = None
        self.clipboard = ViewerClipboard(self)
        #: What this viewer is shown (the terminal, or a proxied desktop).
        self.source: FramebufferSource = session.terminal
        #: Ctrl-Alt-1 chose the console: a desktop that (re)appears does not take this viewer.
        self.chose_console = False
        self._swallow_until = 0.0  # a Break that could not be sent: the SysRq key until then
        self.damage = DamageGrid(self.source.width, self.source.height, *self.source.tile_size)
        self._copies: list[Move] = []  # moves to send as CopyRect before the next update
        self._pending_copies: list[Move] = []  # the moves of the update being encoded
        self.transport: asyncio.Transport | None = None
        self.label = "viewer"
        self.request: Rect | None = None
        self._viewer_w = self._viewer_h = 0  # the framebuffer size this viewer knows
        self._force = False
        self._encoding = False
        self._paused = False
        self._attached = False
        self._closed = False
        self.bytes_sent = 0
        self.copyrects_sent = 0
        self.updates_sent = 0
        self._stream_changes: list[tuple[str, bool]] = []
        self._next_stream_id = 1
        self._captures_refused = 0  # refusals for holding too many captures (logged once)
        self._input_paused = False
        self._pseudo: list[EncodedRect] = []  # pseudo-rectangles for the next update
        self._size_rects: list[EncodedRect] = []  # size changes: sent in an update of their own
        self._qemu_keys_confirmed = False
        self._continuous: Rect | None = None  # region under continuous updates
        self._fences: list[tuple[int, bytes]] = []  # fence answers owed after the update
        self._last_frame = 0.0
        self._input_since_frame = False
        self._pace_timer = False

    def __str__(self) -> str:
        return self.label

    # -- transport callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but offer the same API
        self.transport = tr = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.label = (
                f"viewer {peer[0]}:{peer[1]}"
                if ":" not in peer[0]
                else f"viewer [{peer[0]}]:{peer[1]}"
            )
        else:
            self.label = f"viewer unix:{transport.get_extra_info('sockname')}#{id(self) % 10000}"
        self.address_key = address_key(transport)
        self.conn.auth_gate = lambda: self.guard.blocked_reason(self.address_key)
        tr.set_write_buffer_limits(high=HIGH_WATER)
        log.info("%s: connected", self)
        if self.guard.audit is not None:
            self.guard.audit.record("connect", str(self))
        self.conn.refuse = self.guard.admit(self)
        self._handshake_handle = asyncio.get_running_loop().call_later(
            HANDSHAKE_TIMEOUT, self._handshake_timeout
        )
        self._write()

    def _handshake_timeout(self) -> None:
        if not self._attached:
            self.close(f"no handshake within {HANDSHAKE_TIMEOUT:.0f} s")

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            evs = self.conn.receive_data(data)
        except ProtocolError as e:
            self.close(f"protocol error: {e}")
            return
        self._process(evs)

    def _process(self, evs: list[events.Event]) -> None:
        """Handle events, then the input they let through; send; close when the core closed."""
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
            self.close(self._end_reason or "authentication failed")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            log.info("%s: connection closed by viewer%s", self, f" ({exc})" if exc else "")
            self._audit_end(f"closed by viewer{f' ({exc})' if exc else ''}")
        self._closed = True
        self._cancel_timers()
        self.guard.release(self)
        self.session.streams.leave(self)
        self.session.detach(self)

    def pause_writing(self) -> None:
        self._paused = True
        if self._stuck_handle is None:
            self._stuck_handle = asyncio.get_running_loop().call_later(
                self.guard.stuck_timeout, self._stuck
            )

    def _stuck(self) -> None:
        self._stuck_handle = None
        if self._paused:
            self.close(
                f"send buffer full ({self.buffered()} bytes) and not draining for "
                f"{self.guard.stuck_timeout:g} s",
                abort=True,
            )

    def resume_writing(self) -> None:
        self._paused = False
        if self._stuck_handle is not None:
            self._stuck_handle.cancel()
            self._stuck_handle = None
        self.session.streams.check_pushback()
        self.maybe_send()

    # -- events ----------------------------------------------------------------------------------

    def _handle(self, ev: events.Event) -> None:
        if self._closed:
            return
        if isinstance(ev, events.Authenticated):
            self._on_authenticated(ev)
        elif isinstance(ev, events.AuthenticationFailed):
            log.warning("%s: authentication failed: %s", self, ev.reason)
            self._end_reason = f"authentication failed: {ev.reason}"
            if self.guard.audit is not None:
                self.guard.audit.record(
                    "auth",
                    str(self),
                    ok=False,
                    method=self._method(),
                    user=ev.user,
                    reason=ev.reason,
                )
            self.guard.auth_failed(self)
        elif isinstance(ev, events.PlainCredentials):
            self.guard.plain.submit(
                self.conn.security.plain_users or {},
                ev.user,
                ev.password,
                self._plain_moot,
                self._plain_checked,
            )
        elif isinstance(ev, events.TLSClosed):
            self._end_reason = TLS_CLOSED
        elif isinstance(ev, events.Refused):
            log.warning("%s: refused: %s", self, ev.reason)
            self._end_reason = f"refused: {ev.reason}"
            if self.guard.audit is not None:
                self.guard.audit.record("refused", str(self), reason=ev.reason)
        elif isinstance(ev, events.ClientInit):
            # a desktop that is up is what new viewers see; the damage grid fits the source as
            # it is now (the terminal may have been resized during the handshake)
            src = self.source = self.session.desktop or self.session.terminal
            self.damage = DamageGrid(src.width, src.height, *src.tile_size)
            self.conn.send_server_init(src.width, src.height, src.name)
            self._viewer_w, self._viewer_h = src.width, src.height
            self.session.attach(self, ev.shared)
            self._attached = True
            self.damage.add_all()
        elif isinstance(ev, events.SetPixelFormat):
            pf = ev.pixel_format
            log.info(
                "%s: pixel format %d bpp depth %d %s%s",
                self,
                pf.bits_per_pixel,
                pf.depth,
                "big-endian" if pf.big_endian else "little-endian",
                "" if pf.true_colour else ", colour map",
            )
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
            if Encoding.QEMU_EXTENDED_KEY_EVENT in ev.encodings and not self._qemu_keys_confirmed:
                # the viewer may use QEMU key events once it sees this empty rectangle
                self._qemu_keys_confirmed = True
                self._pseudo.append(
                    EncodedRect(Rect(0, 0, 0, 0), Encoding.QEMU_EXTENDED_KEY_EVENT, b"")
                )
        elif isinstance(ev, events.EnableContinuousUpdates):
            self._on_continuous(ev)
        elif isinstance(ev, events.ClientFence):
            self._on_fence(ev)
        elif isinstance(ev, events.SetDesktopSize):
            self._set_desktop_size(ev)
        elif isinstance(ev, events.ClipboardNotify):
            self.clipboard.announced(ev.formats)
        elif isinstance(ev, events.ClipboardProvide):
            self.clipboard.received(ev.text)
        elif isinstance(ev, events.ClipboardRequest):
            self.clipboard.asked(ev.formats)
        elif isinstance(ev, events.ClipboardPeek):
            self.clipboard.peeked()
        elif isinstance(ev, events.StreamStart):
            self._stream_start(ev.name)
        elif isinstance(ev, events.StreamEnd):
            log.info("%s: ended capture %d", self, ev.stream_id)
            self.session.streams.end(self, ev.stream_id)
            if self.guard.audit is not None:
                self.guard.audit.capture_ended(str(self), ev.stream_id)
        elif isinstance(ev, events.StreamData):
            self._stream_write(ev.stream_id, ev.data)
        elif isinstance(ev, events.FramebufferUpdateRequest):
            self._on_request(ev)
        elif isinstance(ev, (events.KeyEvent, events.QemuKeyEvent)):
            self._input_since_frame = True
            on_console = self.source is self.session.terminal
            reserved = lookup(ev.keysym, self.keys, on_console)
            if reserved is not None and not reserved.console_only:
                self._switch_key(reserved.action, ev.down)
                return
            if not on_console:
                self.keys.key(ev.keysym, ev.down)  # keep the modifier state
                if self.may_control() and ev.keysym:
                    self._audit_input(keys=int(ev.down))
                    self._desktop().conn.send_key(ev.keysym, ev.down)
                return
            if not self.may_control():
                self._audit_input(refused=int(ev.down))
            elif ev.keysym:
                self._audit_input(keys=int(ev.down))
                if reserved is not None:
                    if ev.down:
                        self._reserved_key(reserved.action)
                    return
                emu = self.session.emulator
                data = self.keys.key(
                    ev.keysym, ev.down, emu.application_cursor_keys, emu.application_keypad
                )
                if data and self._swallow_until:  # the SysRq key of a Break not sent
                    swallow, self._swallow_until = time.monotonic() < self._swallow_until, 0.0
                    if swallow:
                        log.info("%s: key after an unsent BREAK not typed", self)
                        return
                self.session.write_input(data)
        elif isinstance(ev, events.ClientCutText):
            self.clipboard.received(ev.text)
        elif isinstance(ev, events.PointerEvent):
            self._input_since_frame = True
            if self.may_control():
                self._audit_input(pointer=int(ev.button_mask != 0))
                if self.source is self.session.terminal:
                    self.session.pointer(self, ev.button_mask, ev.x, ev.y)
                else:
                    self._desktop().conn.send_pointer(ev.x, ev.y, ev.button_mask)
            else:
                self._audit_input(refused=int(ev.button_mask != 0))

    # -- switching between the console and a desktop ---------------------------------------------

    def _desktop(self) -> DesktopSource:
        assert isinstance(self.source, DesktopSource)
        return self.source

    def _switch_key(self, action: Action, down: bool) -> None:
        """Ctrl-Alt-1 / Ctrl-Alt-F1: the console; Ctrl-Alt-2 / Ctrl-Alt-F7: the desktop."""
        target: FramebufferSource | None = self.session.terminal
        if action is Action.SHOW_DESKTOP:
            target = self.session.desktop
        if down:
            self.chose_console = action is Action.SHOW_CONSOLE
            if target is None:
                log.info("%s: no desktop to switch to", self)
            else:
                self.switch(target)

    def _reserved_key(self, action: Action) -> None:
        """A console key of ``reserved_keys`` pressed by a viewer with control."""
        if action is Action.BREAK:  # a serial BREAK, for Magic SysRq
            if not self.session.send_break(self):
                self._swallow_until = time.monotonic() + BREAK_SWALLOW
        elif action in (Action.SCROLL_UP, Action.SCROLL_DOWN):  # a screen at a time
            page = self.session.emulator.rows - 1
            self.session.view.scroll(page if action is Action.SCROLL_UP else -page)
            self.session.schedule_flush()
        elif action is Action.PASTE:
            self.clipboard.paste()

    def switch(self, source: FramebufferSource) -> None:
        """Show ``source`` from now on: a size change, its name, a full repaint."""
        if source is self.source:
            return
        old = self.source
        if isinstance(old, DesktopSource) and self.may_control():
            for keysym in HELD_MODIFIERS:  # the desktop must not think they are still down
                old.conn.send_key(keysym, False)
        self.source = source
        if not self._attached:
            return
        showing = "console" if source is self.session.terminal else f"desktop {source.name!r}"
        log.info("%s: now showing the %s", self, showing)
        if self.guard.audit is not None:
            self.guard.audit.record("switch", str(self), showing=showing)
        self.on_resize(0)
        self.on_name(source.name)
        self.on_cursor()

    def on_cursor(self) -> None:
        """Forward the desktop's cursor (Cursor pseudo-encoding, section 7.8.1); the console
        gets a plain arrow back."""
        if Encoding.CURSOR not in self.conn.encodings:
            return
        image, hotspot = DEFAULT_CURSOR
        if isinstance(self.source, DesktopSource) and self.source.cursor is not None:
            image, hotspot = self.source.cursor.image, self.source.cursor.hotspot
        self._pseudo.append(cursor_rect(image, hotspot, self.conn.pixel_format))
        self.maybe_send()

    def may_control(self) -> bool:
        """True when this viewer may change anything: type, paste, scroll, select, use the
        pointer, resize, capture streams. The one check point for view-only viewers (the
        view-only password, or a Plain user marked view-only): every input path asks it."""
        return not self.conn.view_only

    # -- security and audit -----------------------------------------------------------------------

    def _method(self) -> str:
        return self.conn.security_name

    def _on_authenticated(self, ev: events.Authenticated) -> None:
        tls = self.conn.tls_info
        log.info(
            "%s: authenticated (%s%s%s%s)",
            self,
            self._method(),
            f", user {ev.user}" if ev.user else "",
            ", view-only" if ev.view_only else "",
            f", {tls}" if tls else "",
        )
        if self.guard.audit is not None:
            self.guard.audit.record(
                "auth",
                str(self),
                ok=True,
                method=self._method(),
                user=ev.user,
                view_only=ev.view_only,
                tls=tls,
            )
        reason = self.guard.auth_succeeded(self)
        if reason is not None:
            self._end_reason = reason
            self.close(reason)

    def _plain_moot(self) -> bool:
        """True when checking this viewer's Plain credentials is wasted work (it left, or its
        address got blocked: the answer is then a refusal whatever they are)."""
        return self._closed or self.guard.blocked_reason(self.address_key) is not None

    def _plain_checked(self, entry: vencrypt.PlainUser | None, refuse: str | None) -> None:
        """The verdict on this viewer's Plain credentials, from a worker thread's check."""
        if not self._closed:
            self._process([self.conn.plain_checked(entry, refuse)])

    def _audit_input(self, **counts: int) -> None:
        if self.guard.audit is not None and any(counts.values()):
            self.guard.audit.input(str(self), **counts)

    def _audit_end(self, reason: str) -> None:
        if self.guard.audit is not None:
            self.guard.audit.flush_input(str(self))
            self.guard.audit.captures_ended(str(self), "viewer disconnected")
            self.guard.audit.record(
                "disconnect", str(self), reason=reason, bytes_sent=self.bytes_sent
            )

    def _cancel_timers(self) -> None:
        self.clipboard.close()
        for handle in (self._stuck_handle, self._handshake_handle):
            if handle is not None:
                handle.cancel()
        self._stuck_handle = self._handshake_handle = None

    # -- size, name, clipboard --------------------------------------------------------------------

    def _set_desktop_size(self, ev: events.SetDesktopSize) -> None:
        """SetDesktopSize (section 7.5.9): the framebuffer becomes exactly the size asked for
        (the terminal takes the whole cells in it); above the cap: invalid screen layout."""
        if (
            not self.may_control()
            or not self.session.can_resize
            or self.session.resize_contested(self, ev.width, ev.height)
        ):
            status = 1  # prohibited
        elif not ev.screens or not self.session.framebuffer_ok(ev.width, ev.height):
            status = 3  # invalid screen layout
        else:
            log.info("%s: resize to %dx%d requested", self, ev.width, ev.height)
            if self.guard.audit is not None:
                self.guard.audit.record(
                    "resize", str(self), width=ev.width, height=ev.height, ok=True
                )
            self.session.resize_framebuffer(ev.width, ev.height, requester=self)
            return
        log.info("%s: resize to %dx%d refused (status %d)", self, ev.width, ev.height, status)
        if self.guard.audit is not None:
            self.guard.audit.record(
                "resize", str(self), width=ev.width, height=ev.height, ok=False, status=status
            )
        rect = self.conn.desktop_size_rect(reason=1, status=status)
        if rect is not None:
            self._size_rects.append(rect)
        self.maybe_send()

    def on_resize(self, reason: int) -> None:
        """The framebuffer changed size (``reason`` as in ExtendedDesktopSize, section 7.8.5)."""
        w, h = self.source.width, self.source.height
        if self._continuous is not None:
            self._continuous = Rect(0, 0, w, h)  # keep covering the whole screen
        self.conn.set_size(w, h)
        rect = self.conn.desktop_size_rect(reason=reason, status=0)
        if rect is None:
            log.warning(
                "%s: knows neither DesktopSize nor ExtendedDesktopSize: it keeps "
                "showing the first %dx%d pixels of the new %dx%d screen",
                self,
                self._viewer_w,
                self._viewer_h,
                w,
                h,
            )
        else:
            self._viewer_w, self._viewer_h = w, h
            self._size_rects.append(rect)
        self.damage = DamageGrid(w, h, *self.source.tile_size)
        self.damage.add_all()
        self._copies = []
        self.maybe_send()

    def on_name(self, name: str) -> None:
        rect = self.conn.desktop_name_rect(name)
        if rect is not None and self._attached:
            self._pseudo.append(rect)
            self.maybe_send()

    def offer_clipboard(self, text: str) -> None:
        if self._attached and not self._closed:
            self.clipboard.offer(text)

    # -- tunnelled streams ------------------------------------------------------------------------

    def _stream_start(self, name: str) -> None:
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        self.conn.send_stream_started(stream_id, name)
        quiet = False
        if not self.may_control():
            log.warning("%s: capture of %r refused: view-only viewer", self, name)
            self.conn.send_stream_ended(stream_id)
            allowed = False
        elif self.session.streams.held_by(self) >= self.session.max_captures:
            quiet = self._captures_refused > 0  # a client asking in a loop is logged once
            if not quiet:
                log.warning(
                    "%s: capture of %r refused: it holds %d, the most a viewer may",
                    self,
                    name,
                    self.session.max_captures,
                )
            self._captures_refused += 1
            self.conn.send_stream_ended(stream_id)
            allowed = False
        elif not self.session.streams.start(self, name, stream_id):
            log.warning("%s: capture of %r refused: no such stream", self, name)
            self.conn.send_stream_ended(stream_id)
            allowed = False
        else:
            log.info("%s: capturing stream %r as %d", self, name, stream_id)
            allowed = True
        if self.guard.audit is not None and not quiet:
            self.guard.audit.record(
                "stream_start", str(self), stream=name, id=stream_id, allowed=allowed
            )
            if allowed:
                self.guard.audit.capture_started(str(self), stream_id)

    def _stream_write(self, stream_id: int, data: bytes) -> None:
        stream = self.session.streams.route(self, stream_id)
        if stream is None:
            log.debug("%s: data for capture %d that is not open: dropped", self, stream_id)
            return
        if self.guard.audit is not None:
            self.guard.audit.capture_input(str(self), stream_id, data)
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
        if self.guard.audit is not None:
            self.guard.audit.capture_ended(str(self), stream_id, "the stream went away")
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
        shown = Rect(
            0, 0, min(self._viewer_w, self.source.width), min(self._viewer_h, self.source.height)
        )
        region = ev.rect.intersect(shown)
        self.request = region
        if not ev.incremental:
            self.damage.add(region)
            self._force = True
            if Encoding.EXTENDED_DESKTOP_SIZE in self.conn.encodings and not self._size_rects:
                # the spec's way for a viewer to learn the layout: one per full request
                rect = self.conn.desktop_size_rect(reason=0, status=0)
                if rect is not None:
                    self._size_rects.append(rect)
        self.maybe_send()

    # -- output ----------------------------------------------------------------------------------

    def _write(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            self.bytes_sent += len(data)
            # what waited before this write: one Raw update of a large screen is more than
            # MAX_BUFFER on its own (4096x2304 at 32 bpp: 37.7 MB)
            if self.transport.get_write_buffer_size() - len(data) > MAX_BUFFER and not self._closed:
                self.close(f"send buffer over {MAX_BUFFER} bytes", abort=True)

    def bell(self) -> None:
        if self._attached and not self._closed:
            self.conn.send_bell()
            self._write()

    def has_unsent(self) -> bool:
        """True while this viewer has changes it has not been sent yet (or one is being
        encoded)."""
        return (
            self._attached
            and not self._closed
            and (self._encoding or bool(self._copies) or bool(self.damage.mask.any()))
        )

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until the transport has written everything."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (
            self.transport is not None
            and not self.transport.is_closing()
            and self.transport.get_write_buffer_size()
            and loop.time() < deadline
        ):
            await asyncio.sleep(0.01)

    def maybe_send(self) -> None:
        """Send an update if one is requested (or continuous updates are on), something
        changed, and the transport has room."""
        if self._encoding or self._paused or self._closed:
            return
        continuous = self.request is None and self._continuous is not None
        if self.request is None and not continuous:
            return
        if continuous and not self._input_since_frame:
            # pacing for continuous updates: at most MAX_FPS frames a second, except that the
            # first frame after input goes out at once
            wait = self._last_frame + 1 / MAX_FPS - asyncio.get_running_loop().time()
            if wait > 0:
                if not self._pace_timer:
                    self._pace_timer = True
                    asyncio.get_running_loop().call_later(wait, self._paced)
                return
        wait = self.session.encode_wait()
        if wait > 0 and not self._input_since_frame and not self._force:
            # the encoding budget is spent: come back when there is some again
            if not self._pace_timer:
                self._pace_timer = True
                asyncio.get_running_loop().call_later(wait, self._paced)
            return
        self.session.refresh()
        region = self.request if self.request is not None else self._continuous
        assert region is not None
        if (
            not self._force
            and not self._stream_changes
            and not self._pseudo
            and not self._copies
            and not self._size_rects
            and not self.damage.any_in(region)
        ):
            return
        if self._size_rects:
            # a size change goes in an update with no other rectangles (section 7.8.2)
            self.conn.send_framebuffer_update(self._size_rects)
            self._size_rects = []
            self._write()
            if (
                not self._force
                and not self._pseudo
                and not self._stream_changes
                and not self.damage.any_in(region)
            ):
                self.request = None
                return
        rects = self.damage.take(region)
        self.request, self._force = None, False
        self._pseudo += self.conn.stream_announcements(self._stream_changes)
        self._stream_changes = []
        snap = self.source.snapshot()
        copies = self._take_copies(region)
        pf = self.conn.pixel_format
        self._pending_copies = copies
        if sum(r.area for r in rects) <= INLINE_AREA:
            t0 = time.perf_counter()
            encoded = self.manager.encode(snap.pixels, rects, pf, snap.hint)
            self.session.charge_encoding(time.perf_counter() - t0)
            self._send_update(encoded)
            return
        self._encoding = True
        fut = self.session.executor.submit(self._timed_encode, snap.pixels, rects, pf, snap.hint)
        loop = asyncio.get_running_loop()
        fut.add_done_callback(lambda f: loop.call_soon_threadsafe(self._encoded, f))

    def _timed_encode(
        self, pixels: np.ndarray, rects: list[Rect], pf: PixelFormat, hint: CellGrid | None
    ) -> tuple[list[EncodedRect], float]:
        t0 = time.thread_time()  # this thread's CPU time: not the time spent waiting for the GIL
        encoded = self.manager.encode(pixels, rects, pf, hint)
        return encoded, time.thread_time() - t0

    def _encoded(self, fut: Future[tuple[list[EncodedRect], float]]) -> None:
        self._encoding = False
        if self._closed:
            return
        try:
            encoded, seconds = fut.result()
            self.session.charge_encoding(seconds)
        except Exception:
            log.exception("%s: encoding failed", self)
            self.close("internal error while encoding")
            return
        self._send_update(encoded)
        self.maybe_send()

    def add_damage(self, damage: Damage) -> None:
        """Changes in the source this viewer shows: moves first, then areas to repaint."""
        full = Rect(0, 0, self.source.width, self.source.height)
        for copy in damage.copies:
            if Encoding.COPYRECT in self.conn.encodings and len(self._copies) < MAX_COPIES:
                self._copies.append(copy)
                self.damage.move(copy.src, copy.x, copy.y)
            else:
                self.damage.add(copy.dst.intersect(full))
        if damage.rects:
            self.damage.add_mask(damage.tile_mask(self.damage))

    def _take_copies(self, region: Rect) -> list[Move]:
        """The pending moves, if the update covers the whole screen; else they become damage."""
        copies, self._copies = self._copies, []
        if region == Rect(0, 0, self.source.width, self.source.height):
            return copies
        for copy in copies:
            self.damage.add(copy.dst)
        return []

    def _paced(self) -> None:
        self._pace_timer = False
        self.maybe_send()

    def _send_update(self, encoded: list[EncodedRect]) -> None:
        pseudo: list[EncodedRect] = list(self._pseudo)
        self._pseudo = []
        moves: list[EncodedRect] = [
            EncodedRect(c.dst, Encoding.COPYRECT, copyrect_payload(c.src.x, c.src.y))
            for c in self._pending_copies
        ]
        self._pending_copies = []
        self.copyrects_sent += len(moves)
        # CopyRects first, in order: the viewer applies them to what it shows before the
        # repainted rectangles (section 7.7.2)
        self.conn.send_framebuffer_update(pseudo + moves + list(encoded))
        self.updates_sent += 1
        self._last_frame = asyncio.get_running_loop().time()
        self._input_since_frame = False
        for flags, payload in self._fences:  # answered after every update before them
            self.conn.send_fence(flags, payload)
        self._fences = []
        self._write()

    def _on_fence(self, ev: events.ClientFence) -> None:
        """ClientFence (section 7.5.11): answer a request with the flags we honour."""
        if not ev.flags & FENCE_REQUEST:
            return  # the answer to our own fence
        flags = ev.flags & (FENCE_BLOCK_BEFORE | FENCE_BLOCK_AFTER | FENCE_SYNC_NEXT)
        if self._encoding:
            self._fences.append((flags, ev.payload))  # after the update being encoded
        else:
            self.conn.send_fence(flags, ev.payload)

    def _on_continuous(self, ev: events.EnableContinuousUpdates) -> None:
        """EnableContinuousUpdates (section 7.5.10)."""
        log.info("%s: continuous updates %s", self, f"on for {ev.rect}" if ev.enable else "off")
        if ev.enable:
            self._continuous = ev.rect.intersect(Rect(0, 0, self.source.width, self.source.height))
            self.maybe_send()
        else:
            self._continuous = None
            self.conn.send_end_of_continuous_updates()

    def close(self, reason: str, abort: bool = False) -> None:
        """Drop this viewer (after sending what is queued, unless ``abort``: a viewer that does
        not read would keep the connection open forever), logging why."""
        if self._closed:
            return
        self._closed = True
        level = logging.INFO if reason in ("the console has ended", TLS_CLOSED) else logging.WARNING
        log.log(level, "%s: disconnected: %s", self, reason)
        self._audit_end(reason)
        self._cancel_timers()
        self.guard.release(self)
        if abort and self.transport is not None:
            self.transport.abort()
        self._write()
        if self.transport is not None:
            self.transport.close()
        self.session.streams.leave(self)
        self.session.detach(self)
