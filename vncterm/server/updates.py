"""One viewer's update scheduling: what goes into its next FramebufferUpdate, and when.

Updates go out only in answer to a FramebufferUpdateRequest (RFB section 7.5.3), or while
continuous updates are on (section 7.5.10, paced to ``MAX_FPS``); each holds what changed since
this viewer's previous update: CopyRects first (section 7.7.2), then the repainted rectangles,
with pseudo-rectangles ahead of them. A size change goes in an update of its own (section 7.8.2).
Fences (section 7.5.11) are answered after the update being encoded.

The scheduler does no I/O: it fills the viewer's sans-I/O ``ServerConnection`` and calls
``write`` when there are bytes to send. Time comes from ``clock``; the pacing timer and the
worker's answer go through the ``later`` and ``post`` callbacks (the event loop's
``call_later`` and ``call_soon_threadsafe``), an encoder's fault through ``fail``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from typing import Protocol

import numpy as np

from ..encoders.cells import CellGrid
from ..encoders.copyrect import copyrect_payload
from ..encoders.manager import EncodeManager
from ..geometry import Move, Rect
from ..rfb import events
from ..rfb.connection import EncodedRect, ServerConnection
from ..rfb.constants import Encoding, FenceFlag
from ..rfb.pixel_format import PixelFormat
from ..rfb.streams import StreamChange
from .damage import DamageGrid
from .sources import Damage, FramebufferSource

log = logging.getLogger(__name__)

#: More pending moves than this between two updates are sent as repaints instead.
MAX_COPIES = 64
#: Continuous updates (section 7.5.10) are paced to at most this many frames a second.
MAX_FPS = 60
#: Updates covering at most this many pixels are encoded on the event loop (lower latency).
INLINE_AREA = 64 * 1024


class EncodeBudget(Protocol):
    """What the viewers of one session share: the encoding time budget, the sources' refresh
    and the encoding workers (``Session``)."""

    @property
    def executor(self) -> Executor: ...

    def encode_wait(self) -> float: ...

    def charge_encoding(self, seconds: float) -> None: ...

    def refresh(self) -> None: ...


class UpdateScheduler:
    """Requests, continuous updates, fences, damage and pending rectangles of one viewer."""

    def __init__(
        self,
        conn: ServerConnection,
        manager: EncodeManager,
        source: FramebufferSource,
        budget: EncodeBudget,
        *,
        clock: Callable[[], float],
        write: Callable[[], None],
        later: Callable[[float, Callable[[], None]], object],
        post: Callable[[Callable[[], None]], object],
        fail: Callable[[str], None],
        label: object = "viewer",
    ) -> None:
        self.conn = conn
        self.manager = manager
        self.source = source
        self.budget = budget
        self._clock, self._write, self._later, self._post = clock, write, later, post
        self._fail = fail
        self._label = label
        self.damage = DamageGrid(source.width, source.height, *source.tile_size)
        self.request: Rect | None = None
        #: The framebuffer size this viewer knows.
        self.viewer_w = self.viewer_h = 0
        #: No update goes out while the transport is above its high-water mark, or once closed.
        self.paused = False
        self.closed = False
        self.copyrects_sent = 0
        self.updates_sent = 0
        self._force = False
        self._encoding = False
        self._copies: list[Move] = []  # moves to send as CopyRect before the next update
        self._pending_copies: list[Move] = []  # the moves of the update being encoded
        self._stream_changes: list[StreamChange] = []
        self._pseudo: list[EncodedRect] = []  # pseudo-rectangles for the next update
        self._size_rects: list[EncodedRect] = []  # size changes: sent in an update of their own
        self._new_size = False  # a size change is among them: the next frame is the whole one
        self._qemu_keys_confirmed = False
        self._continuous: Rect | None = None  # region under continuous updates
        self._fences: list[tuple[int, bytes]] = []  # fence answers owed after the update
        self._last_frame = 0.0
        self._input_since_frame = False
        self._pace_timer = False
        #: An empty FramebufferUpdate answers a request held this long without an update
        #: (seconds; 0: never): proxies cut connections that carry nothing.
        self.keepalive = 0.0
        self.keepalives_sent = 0
        self._last_sent = 0.0
        self._keepalive_timer = False

    def __str__(self) -> str:
        return str(self._label)

    # -- what the viewer said ---------------------------------------------------------------------

    def start(self, source: FramebufferSource) -> None:
        """ClientInit answered with ``source``'s size: everything is to be sent."""
        self.source = source
        self.damage = DamageGrid(source.width, source.height, *source.tile_size)
        self.viewer_w, self.viewer_h = source.width, source.height
        self.damage.add_all()
        self._last_sent = self._clock()

    def pixel_format(self, pf: PixelFormat) -> None:
        """SetPixelFormat (section 7.5.1): its colour map if it has one (section 7.6.2), and
        everything again in the new format."""
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

    def encodings(self, encodings: Iterable[int]) -> None:
        """SetEncodings: a viewer that lists the QEMU extended key event may use it once it sees
        an empty rectangle of that encoding."""
        if Encoding.QEMU_EXTENDED_KEY_EVENT in encodings and not self._qemu_keys_confirmed:
            self._qemu_keys_confirmed = True
            self._pseudo.append(
                EncodedRect(Rect(0, 0, 0, 0), Encoding.QEMU_EXTENDED_KEY_EVENT, b"")
            )

    def input(self) -> None:
        """Keys or pointer from the viewer: its next frame is not held back by pacing."""
        self._input_since_frame = True

    def on_request(self, ev: events.FramebufferUpdateRequest) -> None:
        """FramebufferUpdateRequest (section 7.5.3); a full one also gets the layout as
        ExtendedDesktopSize when the viewer knows it (section 7.8.5)."""
        shown = Rect(
            0, 0, min(self.viewer_w, self.source.width), min(self.viewer_h, self.source.height)
        )
        region = ev.rect.intersect(shown)
        self.request = region
        if not ev.incremental:
            self.damage.add(region)
            self._force = True
            if Encoding.EXTENDED_DESKTOP_SIZE in self.conn.encodings and not self._size_rects:
                rect = self.conn.desktop_size_rect(reason=0, status=0)
                if rect is not None:
                    self._size_rects.append(rect)
        self.maybe_send()

    def on_fence(self, ev: events.ClientFence) -> None:
        """ClientFence (section 7.5.11): answer a request with the flags we honour."""
        if not ev.flags & FenceFlag.REQUEST:
            return  # the answer to our own fence
        flags = ev.flags & (FenceFlag.BLOCK_BEFORE | FenceFlag.BLOCK_AFTER | FenceFlag.SYNC_NEXT)
        if self._encoding:
            self._fences.append((flags, ev.payload))  # after the update being encoded
        else:
            self.conn.send_fence(flags, ev.payload)

    def on_continuous(self, ev: events.EnableContinuousUpdates) -> None:
        """EnableContinuousUpdates (section 7.5.10)."""
        log.info("%s: continuous updates %s", self, f"on for {ev.rect}" if ev.enable else "off")
        if ev.enable:
            self._continuous = ev.rect.intersect(Rect(0, 0, self.source.width, self.source.height))
            self.maybe_send()
        else:
            self._continuous = None
            self.conn.send_end_of_continuous_updates()

    # -- what changed -----------------------------------------------------------------------------

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

    def add_pseudo(self, rect: EncodedRect) -> None:
        """A pseudo-rectangle (name, cursor) for the next update."""
        self._pseudo.append(rect)
        self.maybe_send()

    def size_refused(self, status: int) -> None:
        """A SetDesktopSize refused with ``status`` (section 7.8.5)."""
        rect = self.conn.desktop_size_rect(reason=1, status=status)
        if rect is not None:
            self._size_rects.append(rect)
        self.maybe_send()

    def resized(self, reason: int) -> None:
        """The source changed size (``reason`` as in ExtendedDesktopSize, section 7.8.5)."""
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
                self.viewer_w,
                self.viewer_h,
                w,
                h,
            )
        else:
            self.viewer_w, self.viewer_h = w, h
            self._size_rects.append(rect)
            self._new_size = True
        self.damage = DamageGrid(w, h, *self.source.tile_size)
        self.damage.add_all()
        self._copies = []
        self.maybe_send()

    def stream_changes(self, changes: list[StreamChange]) -> None:
        """Streams appeared or vanished: announce them in the next update."""
        self._stream_changes.extend(changes)
        self.maybe_send()

    def has_unsent(self) -> bool:
        """True while there are changes not sent yet (or one is being encoded)."""
        return self._encoding or bool(self._copies) or bool(self.damage.mask.any())

    # -- sending ----------------------------------------------------------------------------------

    def maybe_send(self) -> None:
        """Send an update if one is requested (or continuous updates are on), something
        changed, and the transport has room."""
        if self._encoding or self.paused or self.closed:
            return
        continuous = self.request is None and self._continuous is not None
        if self.request is None and not continuous:
            return
        if continuous and not self._input_since_frame:
            # at most MAX_FPS frames a second, but the first frame after input goes at once
            wait = self._last_frame + 1 / MAX_FPS - self._clock()
            if wait > 0:
                self._pace(wait)
                return
        wait = self.budget.encode_wait()
        if wait > 0 and not self._input_since_frame and not self._force:
            self._pace(wait)  # the encoding budget is spent: come back when there is some
            return
        self.budget.refresh()
        region = self.request if self.request is not None else self._continuous
        assert region is not None
        if not self._force and not self._pending(region) and not self._copies:
            self._arm_keepalive()
            return
        if self._size_rects:
            # a size change goes in an update with no other rectangles (section 7.8.2)
            self.conn.send_framebuffer_update(self._size_rects)
            self._size_rects = []
            self._last_sent = self._clock()
            self._write()
            if not self._force and not self._pending(region):
                self.request = None
                return
            if self._new_size:  # asked at the old size: the frame that follows is all new
                self._new_size = False
                region = Rect(0, 0, self.viewer_w, self.viewer_h).intersect(
                    Rect(0, 0, self.source.width, self.source.height)
                )
        self._encode(region)

    def _arm_keepalive(self) -> None:
        held = self.request is not None or self._continuous is not None
        if self.keepalive > 0 and not self._keepalive_timer and held:
            self._keepalive_timer = True
            wait = max(0.0, self._last_sent + self.keepalive - self._clock())
            self._later(wait, self._keepalive_due)

    def _keepalive_due(self) -> None:
        """A request held (or continuous updates on) ``keepalive`` seconds with nothing to
        send: an update with no rectangles (section 7.6.1 allows zero), so the connection
        carries data."""
        self._keepalive_timer = False
        held = self.request is not None or self._continuous is not None
        if self.closed or self.paused or self._encoding or not held:
            return
        if self._clock() < self._last_sent + self.keepalive:
            self._arm_keepalive()
            return
        self.request = None
        self.conn.send_framebuffer_update([])
        self.keepalives_sent += 1
        self._last_sent = self._clock()
        self._write()
        self._arm_keepalive()  # continuous updates: no request comes to arm it again

    def _pending(self, region: Rect) -> bool:
        return bool(
            self._stream_changes or self._pseudo or self._size_rects or self.damage.any_in(region)
        )

    def _pace(self, wait: float) -> None:
        if not self._pace_timer:
            self._pace_timer = True
            self._later(wait, self._paced)

    def _paced(self) -> None:
        self._pace_timer = False
        self.maybe_send()

    def _encode(self, region: Rect) -> None:
        rects = self.damage.take(region)
        self.request, self._force = None, False
        self._pseudo += self.conn.stream_announcements(self._stream_changes)
        self._stream_changes = []
        snap = self.source.snapshot()
        self._pending_copies = self._take_copies(region)
        pf = self.conn.pixel_format
        if sum(r.area for r in rects) <= INLINE_AREA:
            t0 = time.perf_counter()
            encoded = self.manager.encode(snap.pixels, rects, pf, snap.cells)
            self.budget.charge_encoding(time.perf_counter() - t0)
            self._send_update(encoded)
            return
        self._encoding = True
        fut = self.budget.executor.submit(self._timed_encode, snap.pixels, rects, pf, snap.cells)
        fut.add_done_callback(lambda f: self._post(lambda: self._encoded(f)))

    def _timed_encode(
        self, pixels: np.ndarray, rects: list[Rect], pf: PixelFormat, hint: CellGrid | None
    ) -> tuple[list[EncodedRect], float]:
        t0 = time.thread_time()  # this thread's CPU time: not the time spent waiting for the GIL
        encoded = self.manager.encode(pixels, rects, pf, hint)
        return encoded, time.thread_time() - t0

    def _encoded(self, fut: Future[tuple[list[EncodedRect], float]]) -> None:
        """The worker's answer; an encoder fault closes the viewer (logged once)."""
        self._encoding = False
        if self.closed:
            return
        try:
            encoded, seconds = fut.result()
        except Exception:
            log.exception("%s: encoding failed", self)
            self._fail("internal error while encoding")
            return
        self.budget.charge_encoding(seconds)
        self._send_update(encoded)
        self.maybe_send()

    def _take_copies(self, region: Rect) -> list[Move]:
        """The pending moves, if the update covers the whole screen; else they become damage."""
        copies, self._copies = self._copies, []
        if region == Rect(0, 0, self.source.width, self.source.height):
            return copies
        for copy in copies:
            self.damage.add(copy.dst)
        return []

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
        self._last_frame = self._last_sent = self._clock()
        self._input_since_frame = False
        for flags, payload in self._fences:  # answered after every update before them
            self.conn.send_fence(flags, payload)
        self._fences = []
        self._write()
