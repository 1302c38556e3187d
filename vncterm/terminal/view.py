"""What viewers see of the terminal: the live screen, or a window scrolled back into the
scrollback, with a selection highlighted; and the text of a selection.

Lines are numbered absolutely: 0 .. H-1 are scrollback rows (oldest first), H .. H+rows-1 the
screen. Every viewer shares one view (one scroll position, one selection). The view hands the
renderer an object shaped like a pyte screen, so the renderer does not care which it draws.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .emulator import Emulator
from .scrollback import Char

Pos = tuple[int, int]  # (absolute line, column)

#: Characters that belong to a word for double-click selection (besides letters and digits).
WORD_CHARS = set("_-./~:@%+#=?&")


class _Cursor:
    def __init__(self, x: int, y: int, hidden: bool) -> None:
        self.x, self.y, self.hidden = x, y, hidden


class _Row(dict[int, Any]):
    """A display row: columns to Char, with a default for empty cells."""

    def __init__(self, cells: dict[int, Any], default: Any) -> None:
        super().__init__(cells)
        self.default = default


class ViewScreen:
    """A pyte-screen-shaped window on scrollback + screen, as the renderer reads one."""

    def __init__(self, view: TerminalView) -> None:
        emu = view.emulator
        screen = emu.screen
        self.columns, self.lines = screen.columns, screen.lines
        self.default_char = screen.default_char
        self.reverse_video = screen.reverse_video
        self.colours = screen.colours
        self.cursor_shape = emu.cursor_shape
        self.dirty: set[int] = set(range(self.lines))
        top = view.history_len() - view.offset
        self.buffer: dict[int, _Row] = {}
        for y in range(self.lines):
            cells = view.line_cells(top + y)
            self.buffer[y] = _Row(cells, self.default_char)
        cy = screen.cursor.y + view.offset
        self.cursor = _Cursor(screen.cursor.x, cy, cy >= self.lines)
        if view.offset:
            self._marker(f" {view.offset}/{view.history_len()} ")

    def _marker(self, text: str) -> None:
        """The scroll position, reversed, at the top right."""
        row = self.buffer[0]
        x0 = max(0, self.columns - len(text))
        for i, ch in enumerate(text[: self.columns]):
            row[x0 + i] = Char(ch, reverse=True, bold=True)


@dataclass
class Selection:
    """From ``anchor`` to ``head`` (either order), in absolute positions."""

    anchor: Pos
    head: Pos

    def ordered(self) -> tuple[Pos, Pos]:
        return (self.anchor, self.head) if self.anchor <= self.head else (self.head, self.anchor)

    def contains(self, line: int, col: int) -> bool:
        (l0, c0), (l1, c1) = self.ordered()
        return (l0, c0) <= (line, col) <= (l1, c1)


class TerminalView:
    """The shared view: scroll position and selection over an emulator's history."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.offset = 0
        self.selection: Selection | None = None
        self.changed = False  # redraw everything on the next refresh
        self._appended_seen = 0  # scrollback rows ever appended, as of the last refresh
        self._generation_seen = 0
        self._len_seen = 0
        self._last: ViewScreen | None = None  # the window drawn last (reused while unchanged)
        self._last_cursor = (0, 0)
        self._colours_seen = 0  # the generation of the colours the last window was drawn in
        #: Extra marks drawn over a line's cells (the scrollback search's matches), or None.
        self.decorate: Callable[[int, dict[int, Any]], None] | None = None

    # -- history access ---------------------------------------------------------------------------

    def history_len(self) -> int:
        return len(self.emulator.scrollback)

    def _row(self, line: int) -> tuple[dict[int, Any], bool]:
        """Cells of absolute ``line`` and whether it wraps into the next line."""
        hist = self.emulator.scrollback
        h = len(hist)
        if line < h:
            row = hist[line]
            return dict(enumerate(row.cells)), row.wrapped
        y = line - h
        screen = self.emulator.screen
        if 0 <= y < screen.lines:
            line_ = screen.buffer[y]
            cells = {x: line_[x] for x in range(screen.columns)}
            return cells, self.emulator.wrapped(y)
        return {}, False

    def line_cells(self, line: int) -> dict[int, Any]:
        cells, _ = self._row(line)
        sel = self.selection
        if sel is not None:
            (l0, _), (l1, _) = sel.ordered()
            if l0 <= line <= l1:
                default = self.emulator.screen.default_char
                highlight = self._highlight()
                for x in range(self.emulator.screen.columns):
                    if sel.contains(line, x):
                        ch = cells.get(x, default)
                        if highlight is None:
                            cells[x] = ch._replace(reverse=not ch.reverse)
                        else:
                            cells[x] = ch._replace(fg=highlight[0], bg=highlight[1], reverse=False)
        if self.decorate is not None:
            self.decorate(line, cells)
        return cells

    def _highlight(self) -> tuple[str, str] | None:
        """The selection's (foreground, background) as cell colours when the program set
        xterm's highlight colours (OSC 19, OSC 17); None: the selection is drawn reversed."""
        colours = self.emulator.screen.colours
        if 17 not in colours.dynamic and 19 not in colours.dynamic:
            return None
        return f"{colours.get_dynamic(19):06x}", f"{colours.get_dynamic(17):06x}"

    # -- scrolling -----------------------------------------------------------------------------

    def scroll(self, lines: int) -> None:
        """Move the view ``lines`` up (positive, into history) or down."""
        new = max(0, min(self.history_len(), self.offset + lines))
        if new != self.offset:
            self.offset = new
            self.changed = True

    def to_live(self) -> None:
        self.scroll(-self.offset)

    def screen_for_render(self) -> Any:
        """What the renderer should draw now: the emulator's screen itself when live and
        nothing is selected (no cost), else a ViewScreen."""
        h = self.history_len()
        emu = self.emulator
        appended = emu.scrollback_appended
        generation = emu.scrollback_generation
        grown, self._appended_seen = appended - self._appended_seen, appended
        if generation != self._generation_seen:  # the scrollback was cleared (ED 3)
            self._generation_seen = generation
            self.offset = 0
            self.selection = None
            self.changed = True
        elif grown > 0:
            if self.offset:
                # stay on the same lines while output continues below
                self.offset = min(h, self.offset + grown)
                self.changed = True
            if self.selection is not None:
                # absolute line numbers move when the oldest rows fall off the capped history
                dropped = grown - (h - self._len_seen)
                if dropped > 0:
                    self._shift_selection(-dropped)
        self._len_seen = h
        if self.offset == 0 and self.selection is None:
            self._last = None
            if self.changed:
                self.emulator.damage_all()
                self.changed = False
            return self.emulator.screen
        screen = emu.screen
        cursor = (screen.cursor.x, screen.cursor.y)
        last = self._last
        if (
            last is not None
            and not self.changed
            and grown <= 0
            and not screen.dirty
            and cursor == self._last_cursor
            and screen.colours.generation == self._colours_seen
        ):
            last.dirty.clear()  # nothing moved: the renderer has nothing to look at
            return last
        self.changed = False
        screen.dirty.clear()
        self._last, self._last_cursor = ViewScreen(self), cursor
        self._colours_seen = screen.colours.generation  # the highlight colours drawn
        return self._last

    def _shift_selection(self, lines: int) -> None:
        sel = self.selection
        if sel is None:
            return
        a = (sel.anchor[0] + lines, sel.anchor[1])
        b = (sel.head[0] + lines, sel.head[1])
        if a[0] < 0 or b[0] < 0:
            self.selection = None
        else:
            self.selection = Selection(a, b)
        self.changed = True

    def cursor_visible(self) -> bool:
        return self.offset == 0 and self.emulator.cursor_visible

    # -- selection ---------------------------------------------------------------------------

    def position(self, row: int, col: int) -> Pos:
        """The absolute position of display cell (``row``, ``col``)."""
        return self.history_len() - self.offset + row, col

    def select(self, anchor: Pos, head: Pos) -> None:
        self.selection = Selection(anchor, head)
        self.changed = True

    def clear_selection(self) -> None:
        if self.selection is not None:
            self.selection = None
            self.changed = True

    def select_word(self, pos: Pos) -> None:
        line, col = pos
        cells, _ = self._row(line)
        cols = self.emulator.screen.columns

        def is_word(x: int) -> bool:
            ch = cells.get(x)
            data = ch.data if ch is not None else " "
            return bool(data) and (
                data[0].isalnum()
                or data[0] in WORD_CHARS
                or unicodedata.east_asian_width(data[0]) in "WF"
            )

        if not is_word(col):
            self.select(pos, pos)
            return
        a = col
        while a > 0 and is_word(a - 1):
            a -= 1
        b = col
        while b < cols - 1 and is_word(b + 1):
            b += 1
        self.select((line, a), (line, b))

    def select_line(self, pos: Pos) -> None:
        """The whole logical line: rows joined by autowrap count as one."""
        line = pos[0]
        start = line
        while start > 0 and self._row(start - 1)[1]:
            start -= 1
        end = line
        while self._row(end)[1]:
            end += 1
        self.select((start, 0), (end, self.emulator.screen.columns - 1))

    def selected_text(self) -> str:
        """The selection as text: wrapped rows join without a newline, others with one."""
        if self.selection is None:
            return ""
        (l0, c0), (l1, c1) = self.selection.ordered()
        cols = self.emulator.screen.columns
        parts: list[str] = []
        for line in range(l0, l1 + 1):
            cells, wrapped = self._row(line)
            x0 = c0 if line == l0 else 0
            x1 = c1 if line == l1 else cols - 1
            text = "".join(cells[x].data for x in range(x0, x1 + 1) if x in cells)
            if line < l1 and wrapped:
                parts.append(text)
            else:
                parts.append(text.rstrip(" ") + ("\n" if line < l1 else ""))
        return "".join(parts)
