"""One console, its terminal and renderer, and the viewers watching it.

The console is read continuously; its bytes go straight into the terminal model. Rendering is
lazy: the screen is redrawn only when some viewer is ready for an update, so a flood of output
costs parsing, not drawing, while nobody is looking.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..config import MAX_FRAMEBUFFER
from ..console.base import Console
from ..desktop.events import Bell as DesktopBell
from ..desktop.events import CursorChanged, CutText, NameChanged, Resized
from ..desktop.events import Event as DesktopEvent
from ..render.renderer import TerminalRenderer
from ..terminal.emulator import Emulator
from ..terminal.screen import MAX_SIZE
from . import memory
from .desktop import DesktopSource
from .outfile import AppendFile
from .paste_pacing import PastePacer
from .presence import Presence
from .search import ScrollbackSearch
from .sources import BREAK_SWALLOW, FramebufferSource, TerminalSource
from .stages import Stages
from .status import StatusRow
from .streams import Stream, StreamHub, Unattached
from .tell_size import SizeTeller

if TYPE_CHECKING:
    from .recording import Recording
    from .viewer_protocol import SessionViewer

log = logging.getLogger(__name__)

#: The share of time all viewers' encoding together may take (the rest stays for the console).
ENCODE_SHARE = 0.2
#: How much encoding time may be spent at once after a quiet spell.
ENCODE_BURST = 0.05
#: The deepest the budget may go into debt (so frames come at least every 0.25 s).
ENCODE_DEBT = 0.05

#: Seconds the status row says "connected" after a reattachment.
RECONNECTED_TTL = 5.0

#: A viewer that asks for its size back this soon after another viewer's request replaced it is
#: refused (prohibited): two noVNC viewers of different sizes would otherwise take turns for
#: ever (each asks again when the other's size gives it scrollbars).
RESIZE_SETTLE = 1.0


@functools.cache
def encode_pool() -> ThreadPoolExecutor:
    """The threads that encode large updates, shared by every session of the process (their
    viewers' encoding is held to ENCODE_SHARE by each session's budget)."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="encode")


class Session:
    """Feeds one console to any number of viewers."""

    def __init__(
        self,
        console: Console,
        emulator: Emulator,
        renderer: TerminalRenderer,
        name: str,
        share_policy: str = "force-shared",
        stream_name: str = "console",
        log_file: AppendFile | None = None,
    ) -> None:
        self.console = console
        self.stream_name = stream_name
        self.streams = StreamHub()
        self.streams.add(stream_name, console, rendered=True)
        self.streams.on_demand = self._stream_demand
        self.log_file = log_file
        #: What vncterm offers as its clipboard (the selection, or OSC 52 from the program).
        self.clipboard: str | None = None
        #: Follow the terminal title with the desktop name (unless a name was given).
        self.follow_title = True
        #: Serial consoles cannot tell the guest about a resize; --allow-resize overrides.
        self.allow_resize = False
        self.allow_lossy = False
        self.tight_gradient = False
        self.max_cols, self.max_rows = MAX_SIZE
        #: The largest framebuffer viewers may ask for (``--max-framebuffer``).
        self.max_width, self.max_height = MAX_FRAMEBUFFER
        self._last_resize: tuple[SessionViewer, float] | None = None  # who resized last, and when
        self._resizers: weakref.WeakSet[SessionViewer] = weakref.WeakSet()  # every viewer that did
        self._memory = memory.ScreenMemory()
        #: Stream captures one viewer may hold at once (``--max-captures``).
        self.max_captures = 16
        self.emulator = emulator
        self.renderer = renderer
        self.terminal = TerminalSource(
            emulator,
            renderer,
            name,
            write=self.write_input,
            selected=self.set_clipboard,
            changed=self._schedule_flush,
            send_break=self.send_break,
        )
        #: vncterm's own messages, drawn over the bottom row (never into the terminal).
        self.status = StatusRow(self._status_changed)
        #: Pastes, typed at once or paced (``--paste-rate``); Escape cancels a paced one.
        self.pacer = PastePacer(self.write_input, self.status)
        self.terminal.paste_out, self.terminal.cancel_paste = self.pacer.paste, self.pacer.cancel
        #: Who is here and who may type (``--input``).
        self.presence = Presence(self.status)
        #: Types ``stty rows R cols C`` after a resize (``--tell-size``), when there is one.
        self.size_teller: SizeTeller | None = None
        #: The scrollback search line (Ctrl+Shift+F), shared like the view.
        self.search = ScrollbackSearch(self.terminal.view, self.status, self._schedule_flush)
        self.view = self.terminal.view
        self.terminal.release()  # no viewer yet: no framebuffer (see attach)
        #: Every framebuffer source viewers can be shown (the terminal; a desktop when proxied).
        self.sources: list[FramebufferSource] = [self.terminal]
        #: The proxied desktop, while one is attached.
        self.desktop: DesktopSource | None = None
        self.share_policy = share_policy
        self.viewers: list[SessionViewer] = []
        self._closed = False  # (an ended session keeps its last frame)
        self.executor = encode_pool()  # one for every session of the process
        self._flush_scheduled = False
        self._budget = ENCODE_BURST  # seconds of encoding the viewers may spend now
        self._budget_at = 0.0
        #: The stages console output goes through, each contained.
        self.stages = Stages()
        self._stream_tasks: set[asyncio.Future[None]] = set()  # on-demand backends starting
        #: The console's asciicast recording (``--record``), and what keeps the terminal's
        #: state across restarts (told of every change), when there are.
        self.recording: Recording | None = None
        self.screen_changed: Callable[[], None] | None = None

    # -- console side ----------------------------------------------------------------------------

    def on_console_data(self, data: bytes) -> None:
        """Bytes from the console: log them, hand them to captures, parse them now, and draw
        when a viewer is ready. Each stage is contained (``stages.Stages``): a fault in one is
        logged once, and the other stages still get the bytes."""
        stages = self.stages
        if self.size_teller is not None:
            self.size_teller.output()
        if self.log_file is not None:
            stages.run("log", self.log_file.write, data)  # it reports its own write errors
        if self.recording is not None:
            stages.run("record", self.recording.output, data)
        stages.run("capture", self.streams.publish, self.stream_name, data)
        stages.run("terminal", self.emulator.feed, data)
        stages.run("replies", self._reply)
        stages.run("terminal events", self._after_output)
        stages.run("render", self._schedule_flush)
        if self.screen_changed is not None:
            stages.run("screen state", self.screen_changed)

    def mark(self, label: str) -> None:
        """One of vncterm's own events, in the recording."""
        if self.recording is not None:
            self.stages.run("record", self.recording.marker, label)

    def set_console(self, console: Console) -> None:
        """A new backend for the rendered console (a restarted program): the terminal, the
        viewers and the captures stay."""
        self.console = console
        self.streams.streams[self.stream_name].backend = console
        self.emulator.allow_column_mode = self.can_resize

    def notice(self, key: str, text: str, ttl: float | None) -> None:
        """vncterm's own trouble (a log file that cannot be written) on the status row, under
        ``key``, until replaced or for ``ttl`` seconds; never in the terminal."""
        self.stages.run("render", self.status.show, key, text, ttl)

    def _reply(self) -> None:
        """Answers the terminal owes the program (device attributes, cursor position, ...)."""
        replies = self.emulator.take_replies()
        if replies:
            self.console.write(replies)

    def _after_output(self) -> None:
        """What else the output asked for: bells, title, clipboard, size."""
        bells = self.emulator.take_bells()
        if bells:
            for viewer in self.viewers:
                viewer.bell()
        title = self.emulator.take_title()
        if title is not None and self.follow_title:
            self.set_name(title)
        clip = self.emulator.take_clipboard()
        if clip is not None:
            self.set_clipboard(clip)  # OSC 52 from the program
        size = self.emulator.take_resize_request()
        if size is not None:
            self._program_resized(*size)

    def _program_resized(self, cols: int, rows: int) -> None:
        """The program resized the terminal (DECCOLM, ``CSI 8 t``, DECSLPP, DECSNLS): the model
        has the new size already; the program's window size (SIGWINCH), the framebuffer and
        the viewers follow.
        A size over the caps is undone in the model (logged)."""
        if self.can_resize and self.size_ok(cols, rows):
            if (cols, rows) == (self.emulator.cols, self.emulator.rows):  # switched already
                log.info("terminal resized to %dx%d by the program", cols, rows)
                self._terminal_resized(cols, rows)
            self.resize(cols, rows)  # the framebuffer and the viewers
        else:
            log.warning("terminal: %dx%d asked by the program is over the limits", cols, rows)
            self.emulator.resize(self.renderer.cols, self.renderer.rows)

    def on_console_status(self, status: str) -> None:
        """A backend attached, detached or is retrying: log it, show it on the status row
        while it lasts (a few seconds once attached again), announce the stream."""
        log.info("console: %s", status)
        if self.console.connected and self.status.get("console") is not None:
            self.mark(f"console {status}")
        if not self.console.connected:
            self.status.show("console", f"console {status}")
        elif self.status.get("console") is not None:
            self.status.show("console", f"console {status}", ttl=RECONNECTED_TTL)
        self.streams.availability_changed(self.stream_name)

    def _status_changed(self) -> None:
        self.renderer.set_overlay(self.status.text())
        self._desktop_overlay()
        try:
            self._schedule_flush()
        except RuntimeError:  # no event loop yet: the next refresh draws it
            pass

    def _desktop_overlay(self) -> None:
        """The status row over the proxied desktop too (drawn at its width)."""
        text = self.status.text()
        if self.desktop is not None:
            draw = (
                None if text is None else (lambda width: self.renderer.overlay_pixels(text, width))
            )
            self.desktop.set_overlay(draw, self.renderer.cell_h)

    def send_break(self, viewer: object) -> bool:
        """Break from ``viewer``: a serial BREAK when the console can carry one. Else the
        status row says so and False tells the viewer to swallow the SysRq key that follows
        (it must not be typed into the shell)."""
        if self.console.send_break():
            log.info("%s: BREAK sent", viewer)
            return True
        why = (
            "this console cannot carry a BREAK"
            if self.console.connected
            else "the console is disconnected"
        )
        log.info("%s: BREAK not sent: %s", viewer, why)
        self.status.show(
            "break", f"BREAK not sent: {why}; the next key is not typed", ttl=BREAK_SWALLOW
        )
        return False

    async def add_stream(self, name: str, backend: Console) -> None:
        """Start an unrendered stream (``--stream NAME=...``)."""
        self.streams.add(name, backend, rendered=False)

        def on_status(status: str) -> None:
            log.info("stream %s: %s", name, status)
            self.streams.availability_changed(name)

        await backend.start(lambda data: self.streams.publish(name, data), on_status)
        self.streams.availability_changed(name)

    def offer_stream(
        self, name: str, connect: Callable[[], Console], guest_open: bool | None = None
    ) -> None:
        """Offer an unrendered stream connected on demand: ``connect()`` makes its backend
        when the first capture starts; it is closed when the last one ends."""
        self.streams.add(name, Unattached(), rendered=False, connect=connect, guest_open=guest_open)
        self.streams.availability_changed(name)

    def remove_stream(self, name: str) -> None:
        """The stream ``name`` is gone (a device unplugged): its captures end, viewers are
        told, its backend is closed. The rendered console is never removed."""
        if name == self.stream_name:
            return
        stream = self.streams.remove(name)
        if stream is not None:
            log.info("stream %s removed", name)
            stream.backend.close()

    def _stream_demand(self, stream: Stream, active: bool) -> None:
        """An on-demand stream got its first capture (connect its backend) or lost its last
        (let it go, so the guest sees the host side close)."""
        name = stream.name
        if not active:
            backend, stream.backend = stream.backend, Unattached()
            backend.close()
            stream.paused = False
            self.streams.availability_changed(name)
            return
        assert stream.connect is not None
        backend = stream.backend = stream.connect()

        def on_status(status: str) -> None:
            log.info("stream %s: %s", name, status)
            if self.streams.streams.get(name) is stream and stream.backend is backend:
                self.streams.availability_changed(name)

        def on_data(data: bytes) -> None:
            if stream.backend is backend:
                self.streams.publish(name, data)

        task = asyncio.ensure_future(backend.start(on_data, on_status))
        self._stream_tasks.add(task)
        task.add_done_callback(self._stream_started)

    def _stream_started(self, task: asyncio.Future[None]) -> None:
        self._stream_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a stream's backend cannot start: %s", task.exception())

    def set_clipboard(self, text: str) -> None:
        """Offer ``text`` to every viewer's clipboard."""
        self.clipboard = text
        for viewer in list(self.viewers):
            viewer.offer_clipboard(text)

    def set_name(self, name: str) -> None:
        """A new desktop name (DesktopName pseudo-encoding, for viewers that know it)."""
        if name and name != self.name:
            self.name = name
            for viewer in list(self.viewers):
                if viewer.source is self.terminal:
                    viewer.on_name(name)

    @property
    def can_resize(self) -> bool:
        return self.console.can_resize or self.allow_resize

    def size_ok(self, cols: int, rows: int) -> bool:
        return (
            2 <= cols <= self.max_cols
            and 1 <= rows <= self.max_rows
            and self.framebuffer_ok(cols * self.renderer.cell_w, rows * self.renderer.cell_h)
        )

    def framebuffer_ok(self, width: int, height: int) -> bool:
        """A framebuffer size within the cap, holding at least 2 x 1 cells."""
        cols, rows = width // self.renderer.cell_w, height // self.renderer.cell_h
        return (
            width <= self.max_width
            and height <= self.max_height
            and 2 <= cols <= self.max_cols
            and 1 <= rows <= self.max_rows
        )

    def resize_contested(self, viewer: SessionViewer, width: int, height: int) -> bool:
        """True when ``viewer``, whose own size another viewer (still here) replaced less than
        RESIZE_SETTLE ago, asks for a size again: refused, so two viewers never take turns.
        The last request wins otherwise."""
        if (
            (width, height) == (self.width, self.height)
            or self._last_resize is None
            or viewer not in self._resizers
        ):
            return False
        other, when = self._last_resize
        now = asyncio.get_running_loop().time()
        return other is not viewer and other in self.viewers and now - when < RESIZE_SETTLE

    def resize(self, cols: int, rows: int, requester: SessionViewer | None = None) -> None:
        """Resize the terminal to whole cells (the program's own request)."""
        self.resize_framebuffer(cols * self.renderer.cell_w, rows * self.renderer.cell_h, requester)

    def _terminal_resized(self, cols: int, rows: int) -> None:
        """The terminal has a new size: the program (its window size), the size teller, the
        recording and the kept screen hear of it."""
        self.console.resize(cols, rows)
        if self.size_teller is not None:
            self.size_teller.resized(cols, rows)
        if self.recording is not None:
            self.stages.run("record", self.recording.resize, cols, rows)
        if self.screen_changed is not None:
            self.stages.run("screen state", self.screen_changed)

    def resize_framebuffer(
        self, width: int, height: int, requester: SessionViewer | None = None
    ) -> None:
        """Make the framebuffer exactly ``width`` x ``height`` (one per console: the last
        request wins): the terminal takes the whole cells that fit, the program is told (via
        the pty) when they change, and every viewer gets the new size."""
        r = self.renderer
        cols, rows = width // r.cell_w, height // r.cell_h
        if requester is not None:
            self._last_resize = (requester, asyncio.get_running_loop().time())
            self._resizers.add(requester)
        if (cols, rows) != (self.emulator.cols, self.emulator.rows):
            log.info("terminal resized to %dx%d", cols, rows)
            self.emulator.resize(cols, rows)
            self._terminal_resized(cols, rows)
        if (cols, rows, width, height) != (r.cols, r.rows, r.width, r.height):
            self._memory.screen_size(width, height)  # before the new frame is allocated
            r.resize(cols, rows, width, height)
            self.terminal.drop_snapshot()
            self.emulator.damage_all()
            self.terminal.generation += 1
            self.stages.run("render", self.terminal.refresh)  # the new size's first frame
            self._memory.trim_if_small()  # after the large frame is freed
        for viewer in list(self.viewers):
            if viewer.source is self.terminal:
                viewer.on_resize(1 if viewer is requester else 2 if requester is not None else 0)

    def write_input(self, data: bytes) -> None:
        """Keys and pastes from viewers (typing returns the view to the live screen)."""
        if data:
            if self.size_teller is not None:
                self.size_teller.typed()
            if self.view.offset:
                self.view.to_live()
                self._schedule_flush()
            self.console.write(data)
            if self.recording is not None:
                self.stages.run("record", self.recording.input, data)

    def _schedule_flush(self) -> None:
        """Send viewers what changed, soon (once per loop iteration)."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for viewer in list(self.viewers):
            viewer.maybe_send()

    # -- frames ----------------------------------------------------------------------------------

    # -- the proxied desktop ------------------------------------------------------------------

    def set_desktop(self, source: DesktopSource | None) -> None:
        """A desktop arrived (every viewer switches to it but those that chose the console with
        Ctrl-Alt-1) or went away (back to the console)."""
        old, self.desktop = self.desktop, source
        if old is not None:
            self.sources.remove(old)
            for viewer in list(self.viewers):
                if viewer.source is old:
                    viewer.switch(self.terminal)
        if source is not None:
            self.sources.append(source)
            source.on_change = lambda event: self._desktop_event(source, event)
            self._desktop_overlay()
            for viewer in list(self.viewers):
                if not viewer.chose_console:
                    viewer.switch(source)

    def _desktop_event(self, source: DesktopSource, event: DesktopEvent) -> None:
        showing = [v for v in self.viewers if v.source is source]
        if isinstance(event, Resized):
            for viewer in showing:
                viewer.on_resize(0)
        elif isinstance(event, NameChanged):
            for viewer in showing:
                viewer.on_name(event.name)
        elif isinstance(event, DesktopBell):
            for viewer in showing:
                viewer.bell()
        elif isinstance(event, CutText):
            for viewer in showing:
                viewer.offer_clipboard(event.text)
        elif isinstance(event, CursorChanged):
            for viewer in showing:
                viewer.on_cursor()
        self._schedule_flush()

    def encode_wait(self) -> float:
        """Seconds until the viewers may encode again (0: now).

        Encoding for all viewers together is held to ENCODE_SHARE of the time, so the console
        is always read and parsed at full speed: with many viewers each gets fewer frames.
        """
        now = asyncio.get_running_loop().time()
        self._budget = min(ENCODE_BURST, self._budget + (now - self._budget_at) * ENCODE_SHARE)
        self._budget = max(self._budget, -ENCODE_DEBT)  # no viewer waits more than DEBT/SHARE
        self._budget_at = now
        return 0.0 if self._budget > 0 else -self._budget / ENCODE_SHARE

    def charge_encoding(self, seconds: float) -> None:
        self._budget -= seconds

    def refresh(self) -> None:
        """Bring every source up to date; spread its damage to the viewers showing it.
        Drawing counts against the viewers' share of the time, like encoding."""
        t0 = time.perf_counter()
        for source in self.sources:
            try:
                damage = source.refresh()
            except Exception as e:  # a rendering fault must not stop the console
                self.stages.fault("render", e)
                continue
            if damage:
                for viewer in self.viewers:
                    if viewer.source is source:
                        viewer.add_damage(damage)
        self.charge_encoding(time.perf_counter() - t0)

    @property
    def name(self) -> str:
        return self.terminal.name

    @name.setter
    def name(self, value: str) -> None:
        self.terminal.name = value

    @property
    def width(self) -> int:
        return self.renderer.width

    @property
    def height(self) -> int:
        return self.renderer.height

    # -- viewers ---------------------------------------------------------------------------------

    def attach(self, viewer: SessionViewer, shared: bool) -> None:
        """A viewer finished its handshake; honour a non-shared ClientInit if policy allows."""
        if not shared and self.share_policy == "allow-exclusive":
            for other in list(self.viewers):
                log.info("%s: disconnected, %s asked for exclusive access", other, viewer)
                other.close("another viewer asked for exclusive access")
        if not self.viewers:
            self.terminal.acquire()
        self.viewers.append(viewer)
        log.info("%s: attached (%d viewer(s))", viewer, len(self.viewers))
        self.mark(f"viewer connected: {viewer} ({len(self.viewers)} viewer(s))")
        self.presence.viewers_changed(self.viewers)

    def detach(self, viewer: SessionViewer) -> None:
        if self.viewers == [viewer] and not self._closed:  # the last one: no framebuffer
            self.terminal.release()
            self._memory.trim()
        if viewer in self.viewers:
            self.viewers.remove(viewer)
            log.info("%s: detached (%d viewer(s))", viewer, len(self.viewers))
            self.mark(f"viewer disconnected: {viewer} ({len(self.viewers)} viewer(s))")
            self.presence.viewers_changed(self.viewers)

    async def final_updates(self, timeout: float = 1.0) -> None:
        """Give every viewer the last screen (the console ended); wait at most ``timeout``."""
        self._closed = True  # the last screen stays when they have gone
        self.refresh()
        self._flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and any(v.has_unsent() for v in self.viewers):
            await asyncio.sleep(0.01)
        for viewer in list(self.viewers):
            await viewer.drain(max(0.0, deadline - loop.time()))

    def close(self) -> None:
        self._closed = True
        self.status.close()
        self.pacer.close()
        if self.size_teller is not None:
            self.size_teller.close()
        for viewer in list(self.viewers):
            viewer.close("the console has ended")
        for stream in self.streams.streams.values():
            if not stream.rendered:
                stream.backend.close()
        # (the encode pool is the process's: it outlives this session)
