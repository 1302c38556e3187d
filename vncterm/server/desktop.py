"""A guest's own VNC desktop as a framebuffer source, and the task that keeps one attached.

vncterm is a VNC client of the desktop (``vncterm.desktop``): it decodes into its own
framebuffer and every viewer gets that framebuffer re-encoded with its own encoders and zlib
state, so a viewer's streams survive any number of switches. The desktop's CopyRects reach
viewers as CopyRects. A desktop arrives by a reverse connection (``--reverse-listen``, Xvnc's
``vncconfig -connect``) or vncterm connects out (``--desktop``); when it goes away viewers return
to the console.

One desktop at a time: a reverse connection that arrives while a desktop is attached (or being
handshaken) is closed at once, so no second desktop waits to take over when the real one drops.
RFB authenticates only its client, and vncterm is the desktop's client: nothing proves that a
desktop connecting in reverse is the real one (a desktop password would only be answered to
whoever asks for it). Hence the ``--listen`` rule for ``--reverse-listen`` (``Config.validate``):
beyond loopback only with ``--insecure``. Arrivals, refusals and departures go to the audit log
(``desktop_attached``, ``desktop_refused``, ``desktop_gone``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import numpy as np

from ..desktop.connection import DesktopConnection, ReverseListener
from ..desktop.events import (
    CursorChanged,
    Event,
    FramebufferUpdated,
    NameChanged,
    Resized,
)
from ..geometry import Rect
from .audit import AuditLog
from .sources import Damage, FramebufferSource, InputState, Snapshot

log = logging.getLogger(__name__)

#: Damage tracking granularity for desktops.
TILE = 16
#: Ctrl, Alt and Meta (left and right): released when a viewer switches away from the desktop.
HELD_MODIFIERS = (0xFFE3, 0xFFE4, 0xFFE9, 0xFFEA, 0xFFE7, 0xFFE8)


class DesktopSource(FramebufferSource):
    """What a desktop connection shows."""

    def __init__(self, conn: DesktopConnection) -> None:
        self.conn = conn
        self.name = conn.name
        self.generation = 0
        self._damage = Damage([], [Rect(0, 0, conn.width, conn.height)])
        self._snapshot: Snapshot | None = None
        self.cursor: CursorChanged | None = None
        #: vncterm's status row over the bottom of the picture: a function of the width
        #: giving its pixels (drawn into snapshots only; the desktop's framebuffer is not).
        self._overlay: Callable[[int], np.ndarray] | None = None
        self._overlay_h = 0
        #: Called with the event for what viewers must hear: resize, name, bell, cut text,
        #: cursor.
        self.on_change: Callable[[Event], None] | None = None

    @property
    def width(self) -> int:
        return self.conn.width

    @property
    def height(self) -> int:
        return self.conn.height

    @property
    def tile_size(self) -> tuple[int, int]:
        return TILE, TILE

    def handle(self, event: Event) -> None:
        """An event from the desktop connection."""
        if isinstance(event, FramebufferUpdated):
            copies = list(event.copies)
            if (self._damage.rects or self._overlay is not None) and copies:
                # moves that follow pending repaints would have to move those repaints too:
                # send the moved areas as repaints instead (correct, if a little bigger)
                self._damage.rects += [c.dst for c in copies]
            else:
                self._damage.copies += copies
            self._damage.rects += event.rects
            if event.rects or event.copies:
                self.generation += 1
        elif isinstance(event, Resized):
            self._damage = Damage([], [Rect(0, 0, event.width, event.height)])
            self.generation += 1
        elif isinstance(event, NameChanged):
            self.name = event.name
        elif isinstance(event, CursorChanged):
            self.cursor = event
        if self.on_change is not None:
            self.on_change(event)

    def set_overlay(self, draw: Callable[[int], np.ndarray] | None, height: int = 0) -> None:
        """Show ``draw(width)`` (``height`` rows of pixels) over the bottom of the desktop, or
        nothing; the rows under the old and the new overlay are repainted. While an overlay
        is shown the desktop's moves become repaints (they could carry it along)."""
        rows = min(max(self._overlay_h, height if draw is not None else 0), self.height)
        self._overlay, self._overlay_h = draw, height if draw is not None else 0
        if rows:
            self._damage.rects.append(Rect(0, self.height - rows, self.width, rows))
            self.generation += 1

    def refresh(self) -> Damage:
        damage, self._damage = self._damage, Damage()
        return damage

    def snapshot(self) -> Snapshot:
        if (
            self._snapshot is None
            or self._snapshot.generation != self.generation
            or self._snapshot.pixels.shape != (self.height, self.width)
        ):
            pixels = self.conn.framebuffer.copy()
            if self._overlay is not None and pixels.size:
                strip = self._overlay(pixels.shape[1])[-pixels.shape[0] :]
                pixels[pixels.shape[0] - strip.shape[0] :] = strip
            self._snapshot = Snapshot(pixels, self.generation)
        return self._snapshot

    # -- input: forwarded as it comes ---------------------------------------------------------

    def key(self, who: InputState, keysym: int, down: bool) -> None:
        self.conn.send_key(keysym, down)

    def pointer(self, who: InputState, mask: int, x: int, y: int) -> None:
        self.conn.send_pointer(x, y, mask)

    def paste(self, text: str) -> None:
        """The viewer's clipboard becomes the desktop's (it pastes by its own rules)."""
        self.conn.send_cut_text(text)

    def pointer_shape(self) -> tuple[np.ndarray, tuple[int, int]]:
        """The desktop's own cursor once it sent one."""
        if self.cursor is None:
            return super().pointer_shape()
        return self.cursor.image, self.cursor.hotspot

    def release_keys(self) -> None:
        for keysym in HELD_MODIFIERS:  # the desktop must not think they are still down
            self.conn.send_key(keysym, False)


class DesktopLink:
    """Keeps at most one desktop attached: by reverse connection or by connecting out."""

    def __init__(
        self,
        on_desktop: Callable[[DesktopSource | None], None],
        *,
        reverse: tuple[str, int] | None = None,
        connect: tuple[str, int] | str | None = None,
        password: bytes | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.on_desktop = on_desktop
        self.audit = audit
        self.reverse = reverse
        self.connect = connect
        self.password = password
        self.source: DesktopSource | None = None
        self.listener: ReverseListener | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.reverse is not None:
            self.listener = ReverseListener(
                self.reverse[0],
                self.reverse[1],
                password=self.password,
                single=True,
                on_refused=self._refused,
            )
            await self.listener.start()
            self._task = asyncio.ensure_future(self._accept_loop())
        elif self.connect is not None:
            self._task = asyncio.ensure_future(self._connect_loop())

    async def _accept_loop(self) -> None:
        assert self.listener is not None
        while True:
            conn = await self.listener.accept()
            log.info(
                "desktop %s arrived (%dx%d, %r)", conn.peer, conn.width, conn.height, conn.name
            )
            await self._run(conn)

    async def _connect_loop(self) -> None:
        delay = 0.5
        while True:
            try:
                if isinstance(self.connect, str):
                    conn = await DesktopConnection.connect(
                        path=self.connect, password=self.password
                    )
                else:
                    assert self.connect is not None
                    conn = await DesktopConnection.connect(*self.connect, password=self.password)
            except (OSError, TimeoutError) as e:
                log.debug("desktop not reachable: %s (retrying in %.1f s)", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            except Exception as e:  # refused: wrong password, broken server
                log.warning("desktop refused: %s (retrying in 10 s)", e)
                await asyncio.sleep(10.0)
                continue
            delay = 0.5
            log.info(
                "desktop %s attached (%dx%d, %r)", conn.peer, conn.width, conn.height, conn.name
            )
            await self._run(conn)
            await asyncio.sleep(delay)

    def _refused(self, peer: str, reason: str) -> None:
        if self.audit is not None:
            self.audit.record("desktop_refused", peer=peer, reason=reason)

    async def _run(self, conn: DesktopConnection) -> None:
        """Show ``conn`` until it closes."""
        if self.source is not None:
            await self.source.conn.close("replaced by a newer desktop")
        if self.audit is not None:
            self.audit.record(
                "desktop_attached",
                peer=conn.peer,
                width=conn.width,
                height=conn.height,
                name=conn.name,
            )
        source = DesktopSource(conn)
        closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_close(reason: str) -> None:
            if not closed.done():
                closed.set_result(reason)

        conn.start(source.handle, on_close)
        self.source = source
        self.on_desktop(source)
        reason = await closed
        log.info("desktop %s gone: %s", conn.peer, reason)
        if self.audit is not None:
            self.audit.record("desktop_gone", peer=conn.peer, reason=reason)
        if self.source is source:
            self.source = None
            self.on_desktop(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self.listener is not None:
            await self.listener.close()
        if self.source is not None:
            await self.source.conn.close("vncterm is stopping")
