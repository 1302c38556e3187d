"""One connected viewer: the asyncio transport around a sans-I/O ServerConnection, its flow
control, and the dispatch of the core's events to the parts that handle them: ``updates``
(what to send and when), ``input`` (keys and pointer), ``viewer_clipboard``, ``viewer_captures``
and ``viewer_auth``.

A viewer whose transport buffer is above the high-water mark gets no new frame until it drains;
it never slows the console or the other viewers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from ..encoders.base import EncoderOptions
from ..encoders.manager import EncodeManager
from ..errors import ProtocolError
from ..rfb import events
from ..rfb.connection import SecurityConfig, ServerConnection, State
from ..rfb.constants import Encoding
from ..rfb.streams import StreamChange, StreamState
from .cursor import cursor_rect
from .input import ViewerInput
from .reserved_keys import Action
from .security import Gatekeeper, address_key
from .sources import Damage, FramebufferSource
from .updates import UpdateScheduler
from .viewer_auth import AUTH_EVENTS, TLS_CLOSED, ViewerAuth
from .viewer_captures import CAPTURE_EVENTS, ViewerCaptures
from .viewer_clipboard import CLIPBOARD_EVENTS, ViewerClipboard

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)

#: Frames stop while more than this many bytes wait in the viewer's transport buffer.
HIGH_WATER = 256 * 1024
#: A viewer is dropped when this much waits in its transport buffer (frames stop at HIGH_WATER,
#: but stream data and bells do not), or when the buffer stays above HIGH_WATER without
#: draining for the gatekeeper's ``stuck_timeout``: a viewer that never reads is not kept.
MAX_BUFFER = 16 * 1024 * 1024
#: A connection that has not finished its handshake by then is dropped.
HANDSHAKE_TIMEOUT = 30.0


class Viewer(asyncio.Protocol):
    """The server side of one viewer connection."""

    def __init__(
        self, session: Session, security: SecurityConfig, guard: Gatekeeper | None = None
    ) -> None:
        self.session = session
        self._loop = asyncio.get_running_loop()  # viewers are made by the listening loop
        self.conn = ServerConnection(security, random_bytes=os.urandom)
        self.guard = guard or Gatekeeper()
        #: What blocking counts failures by: the peer's IP address, or its uid on a unix socket.
        self.address_key = "?"
        self.auth = ViewerAuth(self)
        self._stuck_handle: asyncio.TimerHandle | None = None
        self._handshake_handle: asyncio.TimerHandle | None = None
        self.manager = EncodeManager(
            EncoderOptions(allow_lossy=session.allow_lossy, tight_gradient=session.tight_gradient)
        )
        #: This viewer's update scheduling; it starts on the terminal (ClientInit may choose the
        #: desktop).
        self.updates = UpdateScheduler(
            self.conn,
            self.manager,
            session.terminal,
            session,
            clock=lambda: asyncio.get_running_loop().time(),
            write=self.flush,
            later=lambda delay, fn: asyncio.get_running_loop().call_later(delay, fn),
            post=self._post,
            fail=self.close,
            label=self,
        )
        self.clipboard = ViewerClipboard(self)
        self.input = ViewerInput(self, self.clipboard.paste)
        #: Ctrl-Alt-1 chose the console: a desktop that (re)appears does not take this viewer.
        self.chose_console = False
        self.transport: asyncio.Transport | None = None
        self.label = "viewer"
        self._paused = False
        self._attached = False
        self._closed = False
        self.bytes_sent = 0
        self.captures = ViewerCaptures(self, session.streams, lambda: session.max_captures)

    def __str__(self) -> str:
        return self.label

    @property
    def source(self) -> FramebufferSource:
        """What this viewer is shown (the terminal, or a proxied desktop)."""
        return self.updates.source

    @source.setter
    def source(self, source: FramebufferSource) -> None:
        self.updates.source = source

    @property
    def updates_sent(self) -> int:
        return self.updates.updates_sent

    @property
    def copyrects_sent(self) -> int:
        return self.updates.copyrects_sent

    @property
    def closed(self) -> bool:
        return self._closed

    def _post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the event loop (from an encoding worker)."""
        self._loop.call_soon_threadsafe(fn)

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
        self.flush()

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
        self.process(evs)

    def process(self, evs: list[events.Event]) -> None:
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
        self.flush()
        if self.conn.state is State.CLOSED and not self._closed:
            self.close(self.auth.end_reason or "authentication failed")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            log.info("%s: connection closed by viewer%s", self, f" ({exc})" if exc else "")
            self._audit_end(f"closed by viewer{f' ({exc})' if exc else ''}")
        self._closed = self.updates.closed = True
        self._cancel_timers()
        self.guard.release(self)
        self.session.streams.leave(self)
        self.session.detach(self)

    def pause_writing(self) -> None:
        self._paused = self.updates.paused = True
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
        self._paused = self.updates.paused = False
        if self._stuck_handle is not None:
            self._stuck_handle.cancel()
            self._stuck_handle = None
        self.session.streams.check_pushback()
        self.maybe_send()

    # -- events ----------------------------------------------------------------------------------

    def _handle(self, ev: events.Event) -> None:
        if self._closed:
            return
        if isinstance(ev, AUTH_EVENTS):
            self.auth.handle(ev)
        elif isinstance(ev, events.ClientInit):
            # a desktop that is up is what new viewers see; the damage grid fits the source as
            # it is now (the terminal may have been resized during the handshake)
            src = self.session.desktop or self.session.terminal
            self.updates.start(src)
            self.conn.send_server_init(src.width, src.height, src.name)
            self.session.attach(self, ev.shared)
            self._attached = True
        elif isinstance(ev, events.SetPixelFormat):
            self.updates.pixel_format(ev.pixel_format)
        elif isinstance(ev, events.SetEncodings):
            self.manager.set_encodings(ev.encodings)
            log.debug("%s: encodings %s", self, list(ev.encodings))
            if self.conn.stream_encoding is not None:
                self.session.streams.join(self)
            else:
                self.session.streams.leave(self)
            self.updates.encodings(ev.encodings)
        elif isinstance(ev, events.EnableContinuousUpdates):
            self.updates.on_continuous(ev)
        elif isinstance(ev, events.ClientFence):
            self.updates.on_fence(ev)
        elif isinstance(ev, events.SetDesktopSize):
            self._set_desktop_size(ev)
        elif isinstance(ev, CLIPBOARD_EVENTS):
            self.clipboard.handle(ev)
        elif isinstance(ev, CAPTURE_EVENTS):
            self.captures.handle(ev)
        elif isinstance(ev, events.FramebufferUpdateRequest):
            self.updates.on_request(ev)
        elif isinstance(ev, (events.KeyEvent, events.QemuKeyEvent)):
            self.updates.input()
            self.input.key(ev.keysym, ev.down)
        elif isinstance(ev, events.PointerEvent):
            self.updates.input()
            self.input.pointer(ev.button_mask, ev.x, ev.y)

    # -- switching between the console and a desktop ---------------------------------------------

    def show(self, action: Action) -> None:
        """Ctrl-Alt-1 / Ctrl-Alt-F1: the console; Ctrl-Alt-2 / Ctrl-Alt-F7: the desktop."""
        target: FramebufferSource | None = self.session.terminal
        if action is Action.SHOW_DESKTOP:
            target = self.session.desktop
        self.chose_console = action is Action.SHOW_CONSOLE
        if target is None:
            log.info("%s: no desktop to switch to", self)
        else:
            self.switch(target)

    def switch(self, source: FramebufferSource) -> None:
        """Show ``source`` from now on: a size change, its name, a full repaint."""
        if source is self.source:
            return
        if self.may_control():
            self.source.release_keys()
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
        image, hotspot = self.source.pointer_shape()
        self.updates.add_pseudo(cursor_rect(image, hotspot, self.conn.pixel_format))

    def may_control(self) -> bool:
        """True when this viewer may change anything: type, paste, scroll, select, use the
        pointer, resize, capture streams. The one check point for view-only viewers (the
        view-only password, or a Plain user marked view-only): every input path asks it."""
        return not self.conn.view_only

    # -- audit -----------------------------------------------------------------------------------

    def audit_input(self, **counts: int) -> None:
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
        self.updates.size_refused(status)

    def on_resize(self, reason: int) -> None:
        """The framebuffer changed size (``reason`` as in ExtendedDesktopSize, section 7.8.5)."""
        self.updates.resized(reason)

    def on_name(self, name: str) -> None:
        rect = self.conn.desktop_name_rect(name)
        if rect is not None and self._attached:
            self.updates.add_pseudo(rect)

    def offer_clipboard(self, text: str) -> None:
        if self._attached and not self._closed:
            self.clipboard.offer(text)

    # -- tunnelled streams ------------------------------------------------------------------------

    def stream_data(self, stream_id: int, data: bytes) -> None:
        if not self._closed:
            self.conn.send_stream_data(stream_id, data)
            self.flush()

    def stream_ended(self, stream_id: int) -> None:
        if self.guard.audit is not None:
            self.guard.audit.capture_ended(str(self), stream_id, "the stream went away")
        if not self._closed:
            self.conn.send_stream_ended(stream_id)
            self.flush()

    def stream_changes(self, changes: list[StreamChange]) -> None:
        """Streams appeared or vanished (or changed state, for a viewer that asked for states):
        announce them in this viewer's next update."""
        if not self.conn.stream_states:
            changes = [c for c in changes if not isinstance(c, StreamState)]
        if changes:
            self.updates.stream_changes(changes)

    def buffered(self) -> int:
        """Bytes waiting in this viewer's transport."""
        if self.transport is None or self.transport.is_closing():
            return 0
        return self.transport.get_write_buffer_size()

    # -- output ----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the connection has queued (a viewer far behind is dropped)."""
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
            self.flush()

    def has_unsent(self) -> bool:
        """True while this viewer has changes it has not been sent yet (or one is being
        encoded)."""
        return self._attached and not self._closed and self.updates.has_unsent()

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
        """Send an update if one is due (``updates.UpdateScheduler``)."""
        self.updates.maybe_send()

    def add_damage(self, damage: Damage) -> None:
        """Changes in the source this viewer shows."""
        self.updates.add_damage(damage)

    def close(self, reason: str, abort: bool = False) -> None:
        """Drop this viewer (after sending what is queued, unless ``abort``: a viewer that does
        not read would keep the connection open forever), logging why."""
        if self._closed:
            return
        self._closed = self.updates.closed = True
        level = logging.INFO if reason in ("the console has ended", TLS_CLOSED) else logging.WARNING
        log.log(level, "%s: disconnected: %s", self, reason)
        self._audit_end(reason)
        self._cancel_timers()
        self.guard.release(self)
        if abort and self.transport is not None:
            self.transport.abort()
        self.flush()
        if self.transport is not None:
            self.transport.close()
        self.session.streams.leave(self)
        self.session.detach(self)
