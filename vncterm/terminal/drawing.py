"""Writing text into the grid: autowrap, wide characters, zero-width ones on their base.

``draw`` takes a run of printable text at the cursor. ``fast=False`` draws one character at
a time (``_draw_reference``, the definition the differential tests compare against); the fast
paths draw from shared cells (``cells_for``) and whole runs of ASCII at once.

Wrapping (xterm's dotext): a character that reaches the right edge leaves the cursor there
with a wrap pending (``wrap_pending``); the next character first wraps to the left margin of
the next row (autowrap on) or overwrites the edge (off). The edge is the right margin, or the
screen's last column for a cursor already right of the margin.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pyte import modes as mo
from wcwidth import wcwidth

from .motion import MotionScreen
from .scrollback import CellCache, cells_for
from .widths import WIDTHS, char_width


class TextScreen(MotionScreen):
    """The grid with text drawing (see the module docstring)."""

    def __init__(
        self, columns: int, lines: int, scrollback: int, scrollback_memory: int, fast: bool
    ) -> None:
        #: The fast paths (bulk drawing, SGR cache, the flood skim); False is the reference.
        self.fast = fast
        self._cells_attrs: Any = None
        self._cells_cache: CellCache | None = None
        #: The last graphic character drawn (REP repeats it).
        self._last_char = ""
        super().__init__(columns, lines, scrollback, scrollback_memory)

    def draw(self, data: str) -> None:
        """Write text at the cursor: wrapping, wide characters, zero-width ones on their base."""
        table = self.g1_charset if self.charset else self.g0_charset
        if table is not None and not isinstance(table, str):
            data = data.translate(table)
        if not self.fast:
            self._draw_reference(data)
        elif data.isascii() and mo.IRM not in self.mode and self.hmargins is None:
            self._draw_ascii(data)
        else:
            self._draw_chars(data)

    def _autowrap(self) -> None:
        """Autowrap: IND, then the left margin (xterm's WrapLine); the row left is marked as
        wrapped."""
        y = self.cursor.y
        line = self.buffer[y]
        self.dirty.add(y)
        line.wrapped = True  # before the line feed: it may take the line into the scrollback
        self.index()
        self.cursor.x = self.lr()[0]
        if self.cursor.y == y and self.buffer[y] is line:
            line.wrapped = False  # below the scroll region at the bottom: nowhere to wrap to

    def _edge(self) -> int:
        """The column where text stops or wraps: the right margin, or the screen's last
        column for a cursor right of the margin (xterm's dotext)."""
        right = self.lr()[1]
        return right if self.cursor.x <= right else self.columns - 1

    def _place(self, width: int, wrap: bool) -> int:
        """Where the next character of ``width`` cells goes: a pending wrap wraps first; a
        character that does not fit before the edge wraps (a wide one blanking the cell it
        leaves) or, without autowrap, goes as far right as it fits. -1 when it cannot fit."""
        cursor = self.cursor
        if self.wrap_pending:
            self.wrap_pending = False
            if wrap:
                self._autowrap()
        edge = self._edge()
        if cursor.x + width - 1 > edge:
            if wrap:
                if width == 2:
                    self.buffer[cursor.y][cursor.x] = cursor.attrs._replace(data=" ")
                self._autowrap()
                edge = self._edge()
                if cursor.x + width - 1 > edge:
                    return -1  # a wide character between margins one column apart
            else:
                cursor.x = max(edge - width + 1, 0)
        return edge

    def _advance(self, x: int, width: int, edge: int, wrap: bool) -> None:
        """The cursor after a character of ``width`` drawn at ``x``: past it, or on the edge
        with a wrap pending."""
        if x + width > edge:
            self.cursor.x = edge
            self.wrap_pending = wrap
        else:
            self.cursor.x = x + width

    def _cells(self, attrs: Any) -> CellCache:
        """Shared cells in the attributes of ``attrs``."""
        if attrs is not self._cells_attrs:
            self._cells_attrs = attrs
            self._cells_cache = cells_for(tuple(attrs)[1:])
        assert self._cells_cache is not None
        return self._cells_cache

    def _draw_reference(self, data: str) -> None:
        """The model's definition of drawing: one character at a time (``fast=False``)."""
        cursor = self.cursor
        attrs = cursor.attrs
        insert = mo.IRM in self.mode
        wrap = mo.DECAWM in self.mode
        line = self.buffer[cursor.y]
        for char in data:
            width = wcwidth(char)
            if width < 0:
                if unicodedata.category(char) in ("Cc", "Cs"):
                    continue
                width = 1  # unassigned: a box, one cell
            if width == 0:
                self._combine(char)
                self._last_char = ""  # xterm's last character now has no width: no REP
                continue
            edge = self._place(width, wrap)
            if edge < 0:
                continue
            line = self.buffer[cursor.y]
            if insert:
                self.insert_characters(width)
            x = cursor.x
            self._unsplit(line, x, width)
            line[x] = attrs._replace(data=char)
            if width == 2:
                line[x + 1] = attrs._replace(data="")
            self._advance(x, width, edge, wrap)
            self._last_char = char
        self.dirty.add(cursor.y)

    def _draw_chars(self, data: str) -> None:
        """``_draw_reference`` with cached widths and shared cells."""
        cursor = self.cursor
        edge = self._edge()
        if self.wrap_pending and cursor.x != edge:  # DECRC under other margins: rare
            self._draw_reference(data)
            return
        cells = self._cells(cursor.attrs)
        insert = mo.IRM in self.mode
        wrap = mo.DECAWM in self.mode
        widths = WIDTHS
        line = self.buffer[cursor.y]
        for char in data:
            width = widths.get(char)
            if width is None:
                width = char_width(char)
            if width <= 0:
                if width == 0:
                    self._combine(char)
                    self._last_char = ""
                continue
            if cursor.x + width > edge and (self.wrap_pending or cursor.x + width > edge + 1):
                edge = self._place(width, wrap)  # a pending wrap is at the edge (see above)
                if edge < 0:
                    edge = self._edge()
                    continue
                line = self.buffer[cursor.y]
            if insert:
                self.insert_characters(width)
            x = cursor.x
            self._unsplit(line, x, width)
            line[x] = cells[char]
            if width == 2:
                line[x + 1] = cells[""]
            if x + width > edge:
                cursor.x = edge
                self.wrap_pending = wrap
            else:
                cursor.x = x + width
            self._last_char = char
        self.dirty.add(cursor.y)

    def _draw_ascii(self, data: str) -> None:
        """Printable ASCII without insert mode: whole runs of cells at once."""
        if not data:
            return
        cursor = self.cursor
        columns = self.columns
        wrap = mo.DECAWM in self.mode
        get = self._cells(cursor.attrs).__getitem__
        pos, n = 0, len(data)
        while pos < n:
            if self.wrap_pending:
                self.wrap_pending = False
                if wrap:
                    self._autowrap()
            line = self.buffer[cursor.y]
            x = cursor.x
            take = min(n - pos, columns - x)
            self._unsplit(line, x, take)
            line.update(zip(range(x, x + take), map(get, data[pos : pos + take]), strict=True))
            pos += take
            if x + take >= columns:
                cursor.x = columns - 1
                self.wrap_pending = wrap
            else:
                cursor.x = x + take
        self._last_char = data[-1]
        self.dirty.add(cursor.y)

    def _unsplit(self, line: Any, x: int, width: int) -> None:
        """Blank the other half of any wide character that cells x..x+width-1 overwrite."""
        if x and line[x].data == "" and x - 1 in line:
            line[x - 1] = line[x - 1]._replace(data=" ")
        end = x + width
        if end < self.columns and end in line and line[end].data == "":
            line[end] = line[end]._replace(data=" ")

    def _combine(self, char: str) -> None:
        """Attach a zero-width character (combining mark, joiner, selector) to the last cell."""
        x, y = self.cursor.x - (0 if self.wrap_pending else 1), self.cursor.y
        if x < 0:
            if not y:
                return
            x, y = self.columns - 1, y - 1
        line = self.buffer[y]
        if line[x].data == "" and x:
            x -= 1
        last = line[x]
        if not last.data or len(last.data) > 16:
            return
        line[x] = last._replace(data=unicodedata.normalize("NFC", last.data + char))
        self.dirty.add(y)

    def repeat(self, count: int) -> None:
        """REP: the last graphic character again ``count`` times."""
        if self._last_char:
            self.draw(self._last_char * min(max(count, 1), self.columns * self.lines))
