"""Framebuffer sources: what a viewer is shown (the terminal, or a proxied desktop).

A source owns a framebuffer (uint32 0x00RRGGBB) and reports, on ``refresh()``, what changed since
the previous call: areas that moved (copies, in order; viewers that know CopyRect get them as
CopyRect) and areas to repaint. Encoders and viewers do not care which kind of source it is.

A source also owns its input: a viewer's keys, pointer and paste reach the source it is shown
(``server/input.py`` decides what gets through), by the same three calls for every source.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..encoders.cells import CellGrid
from ..geometry import Move, Rect
from ..render.renderer import TerminalRenderer
from ..terminal.emulator import Emulator
from ..terminal.keymap import KeyState
from ..terminal.mouse import MouseState, active_mode
from ..terminal.view import TerminalView
from .cursor import DEFAULT_CURSOR
from .damage import DamageGrid
from .reserved_keys import Action

log = logging.getLogger(__name__)

LEFT, MIDDLE, WHEEL_UP, WHEEL_DOWN = 1, 2, 8, 16
WHEEL_LINES = 3
DOUBLE_CLICK = 0.4  # seconds between clicks that make a double or triple click
#: Seconds after a Break that could not be sent during which the next key (SysRq's) is dropped,
#: and the status row says so.
BREAK_SWALLOW = 5.0
ESCAPE = 0xFF1B


@dataclass
class InputState:
    """One viewer's input as the sources see it (each viewer has its own)."""

    #: Who it is, for the log.
    owner: object
    #: The viewer's explicit paste of its own clipboard (a middle click on the terminal).
    paste: Callable[[], None]
    keys: KeyState = field(default_factory=KeyState)
    mouse: MouseState = field(default_factory=MouseState)
    clicks: tuple[float, tuple[int, int], int] = (0.0, (-1, -1), 0)
    select_anchor: tuple[int, int] | None = None
    #: A Break that could not be sent: the SysRq key that follows is dropped until then.
    swallow_until: float = 0.0


@dataclass
class Damage:
    """What changed in a source since its last refresh: copies first (in order), then rects."""

    copies: list[Move] = field(default_factory=list)
    rects: list[Rect] = field(default_factory=list)
    _masks: dict[tuple[int, int, int, int], np.ndarray] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __bool__(self) -> bool:
        return bool(self.copies or self.rects)

    def tile_mask(self, grid: DamageGrid) -> np.ndarray:
        """``rects`` as tiles of ``grid``, worked out once per grid geometry (every viewer of
        a source has the same grid)."""
        mask = self._masks.get(grid.geometry)
        if mask is None:
            mask = self._masks[grid.geometry] = grid.mask_of(self.rects)
        return mask


class Snapshot:
    """An immutable copy of a frame that encoders may read off the event loop."""

    def __init__(self, pixels: np.ndarray, generation: int, cells: CellGrid | None = None) -> None:
        self.generation = generation
        self.pixels = pixels
        #: The terminal's cell grid, which the encoders use both as a palette hint and to
        #: encode text by cells (None for sources without cells).
        self.cells = cells


class FramebufferSource(abc.ABC):
    """The interface the server feeds viewers from."""

    name: str = ""
    generation: int = 0

    @property
    @abc.abstractmethod
    def width(self) -> int: ...

    @property
    @abc.abstractmethod
    def height(self) -> int: ...

    @property
    @abc.abstractmethod
    def tile_size(self) -> tuple[int, int]:
        """The damage-tracking granularity (a terminal cell, or a square of pixels)."""

    @abc.abstractmethod
    def refresh(self) -> Damage:
        """Bring the framebuffer up to date; what changed since the last call."""

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """The current frame, copied (shared by every viewer encoding this generation)."""

    def pointer_shape(self) -> tuple[np.ndarray, tuple[int, int]]:
        """The pointer image viewers draw over this source (RGBA) and its hotspot."""
        return DEFAULT_CURSOR

    @abc.abstractmethod
    def key(self, who: InputState, keysym: int, down: bool) -> None:
        """A key from a viewer with control."""

    @abc.abstractmethod
    def pointer(self, who: InputState, mask: int, x: int, y: int) -> None:
        """A pointer event from a viewer with control."""

    @abc.abstractmethod
    def paste(self, text: str) -> None:
        """A viewer's clipboard text, given to this source."""

    @abc.abstractmethod
    def release_keys(self) -> None:
        """A viewer with control stops showing this source: let go of the keys it may hold."""


class TerminalSource(FramebufferSource):
    """The terminal: pyte's screen drawn by the renderer."""

    def __init__(
        self,
        emulator: Emulator,
        renderer: TerminalRenderer,
        name: str,
        *,
        write: Callable[[bytes], None],
        selected: Callable[[str], None],
        changed: Callable[[], None],
        send_break: Callable[[object], bool],
    ) -> None:
        self.emulator = emulator
        self.renderer = renderer
        #: Where typed bytes go (the console); the selection a viewer made (the clipboard);
        #: the view changed (draw soon); a serial BREAK from a viewer (False: not sent).
        self.write, self.selected, self.changed = write, selected, changed
        self.send_break = send_break
        #: The scroll position and selection every viewer of the terminal shares.
        self.view = TerminalView(emulator)
        self.name = name
        self.generation = 0
        self._snapshot: Snapshot | None = None
        #: Where pastes go (data, then a tail sent even if the paste is cancelled), and
        #: Escape's way to cancel a paste still being typed (``paste_pacing``).
        self.paste_out: Callable[[bytes, bytes], None] = lambda data, tail: self.write(data + tail)
        self.cancel_paste: Callable[[], bool] = lambda: False

    @property
    def width(self) -> int:
        return self.renderer.width

    @property
    def height(self) -> int:
        return self.renderer.height

    @property
    def tile_size(self) -> tuple[int, int]:
        return self.renderer.cell_w, self.renderer.cell_h

    def refresh(self) -> Damage:
        r = self.renderer
        spans = r.refresh(self.view.screen_for_render(), self.view.cursor_visible())
        copies = r.take_copies()
        if r.take_full():  # a new default background: every pixel, the margin too
            self.generation += 1
            return Damage(copies, [Rect(0, 0, r.width, r.height)])
        if not spans and not copies:
            return Damage()
        self.generation += 1
        return Damage(copies, [r.span_rect(s) for s in spans])

    def acquire(self) -> None:
        """The first viewer came: allocate the framebuffer and draw the whole screen on the
        next refresh (DESIGN.md, "Many consoles in one process")."""
        if not self.renderer.allocated:
            self.renderer.acquire()
            self.view.changed = True  # a scrolled-back view is drawn anew too
            self.emulator.damage_all()
            self._snapshot = None
            self.generation += 1

    def release(self) -> None:
        """The last viewer left: give back the framebuffer, its copy and the tile cache."""
        self.renderer.release()
        self._snapshot = None

    def drop_snapshot(self) -> None:
        """Forget the last frame copy (the screen changed size: it is of no more use)."""
        self._snapshot = None

    def snapshot(self) -> Snapshot:
        if self._snapshot is None or self._snapshot.generation != self.generation:
            r = self.renderer
            cells = None
            if not r.font.antialias:
                cells = CellGrid(r.cell_w, r.cell_h, r.cell_fg.copy(), r.cell_bg.copy())
            self._snapshot = Snapshot(r.pixels.copy(), self.generation, cells)
        return self._snapshot

    # -- input -----------------------------------------------------------------------------------

    def key(self, who: InputState, keysym: int, down: bool) -> None:
        """A key typed into the console, as the program's modes want it."""
        emu = self.emulator
        if down and keysym == ESCAPE and self.cancel_paste():
            return  # Escape stopped a paste being typed: it is not typed itself
        data = who.keys.key(
            keysym,
            down,
            emu.application_cursor_keys,
            emu.application_keypad,
            emu.new_line_mode,
            emu.backarrow_sends_backspace,
        )
        if data and who.swallow_until:  # the SysRq key of a Break not sent
            swallow, who.swallow_until = time.monotonic() < who.swallow_until, 0.0
            if swallow:
                log.info("%s: key after an unsent BREAK not typed", who.owner)
                return
        self.write(data)

    def release_keys(self) -> None:
        """Nothing to let go of: a key is typed when it is pressed."""

    def action(self, who: InputState, action: Action) -> None:
        """A console key of ``reserved_keys`` pressed by a viewer with control."""
        if action is Action.BREAK:  # a serial BREAK, for Magic SysRq
            if not self.send_break(who.owner):
                who.swallow_until = time.monotonic() + BREAK_SWALLOW
        elif action in (Action.SCROLL_UP, Action.SCROLL_DOWN):  # a screen at a time
            page = self.emulator.rows - 1
            self.view.scroll(page if action is Action.SCROLL_UP else -page)
            self.changed()
        elif action is Action.PASTE:
            who.paste()

    def private_modes(self) -> set[int]:
        """The DEC private modes the program has turned on."""
        return self.emulator.private_modes()

    def pointer(self, who: InputState, mask: int, x: int, y: int) -> None:
        """A pointer event: a mouse report when the program asked for them (Shift held
        keeps the pointer for vncterm itself, as in xterm)."""
        col = min(max(x, 0) // self.renderer.cell_w, self.emulator.cols - 1)
        row = min(max(y, 0) // self.renderer.cell_h, self.emulator.rows - 1)
        keys = who.keys
        modes = self.private_modes()
        if active_mode(modes) is not None and not keys.shift and not self.view.offset:
            self.write(who.mouse.report(mask, col, row, modes, keys.shift, keys.alt, keys.ctrl))
            return
        # the pointer is vncterm's own: wheel scrolls back, left button selects, middle pastes
        prev, who.mouse.mask = who.mouse.mask, mask
        moved = (col, row) != who.mouse.cell
        who.mouse.cell = (col, row)
        pressed, released = mask & ~prev, prev & ~mask
        view = self.view
        if pressed & WHEEL_UP:
            view.scroll(WHEEL_LINES)
        if pressed & WHEEL_DOWN:
            view.scroll(-WHEEL_LINES)
        pos = view.position(row, col)
        if pressed & LEFT:
            now = asyncio.get_running_loop().time()
            last_time, last_pos, count = who.clicks
            count = count % 3 + 1 if now - last_time < DOUBLE_CLICK and last_pos == pos else 1
            who.clicks = (now, pos, count)
            who.select_anchor = pos
            if count == 1:
                view.clear_selection()
            elif count == 2:
                view.select_word(pos)
            else:
                view.select_line(pos)
        elif mask & LEFT and moved and who.select_anchor is not None:
            view.select(who.select_anchor, pos)
        if released & LEFT:
            who.select_anchor = None
            text = view.selected_text()
            if text:
                self.selected(text)
        if pressed & MIDDLE:
            who.paste()  # this viewer's own clipboard, never another's
        if view.changed:
            self.changed()

    def paste(self, text: str) -> None:
        """Text from a viewer's clipboard, typed into the console: line ends become CR, and
        it is bracketed when the program turned on bracketed paste (mode 2004)."""
        data = text.replace("\r\n", "\r").replace("\n", "\r").encode("utf-8")
        if self.emulator.bracketed_paste:
            data = b"\x1b[200~" + data.replace(b"\x1b[201~", b"")
            self.paste_out(data, b"\x1b[201~")
        else:
            self.paste_out(data, b"")
