"""The cell grid of the terminal model: screen lines, and the edits that move or blank them.

Erasing, inserting, deleting and scrolling blank cells in the current background colour
(xterm's background colour erase). Lines leaving the top of the main screen go to the
scrollback by the rule of :meth:`GridScreen.push_rows`; every line carries a ``wrapped`` flag.
Text drawing is ``drawing.py``'s, the rest of the terminal state ``screen.py``'s.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyte
from pyte import modes as mo
from pyte.screens import Margins

from .scrollback import Char, Line, Scrollback, row_from_line


class GridScreen(pyte.Screen):
    """pyte's Screen with our cells, the scrollback, and background colour erase."""

    # Cells are our Char (pyte's fields plus hidden and dim).
    buffer: dict[int, Line]  # type: ignore[assignment]
    cursor: Any

    def __init__(self, columns: int, lines: int, scrollback: int, scrollback_memory: int) -> None:
        #: Lines that scrolled off the top of the main screen, oldest first (see push_rows).
        self.scrollback = Scrollback(scrollback, scrollback_memory)
        #: Rows ever appended to the scrollback (it only grows; rows beyond the cap drop out).
        self.scrollback_appended = 0
        #: Bumped when the scrollback is cleared (ED 3): positions into it are void.
        self.scrollback_generation = 0
        #: Every ``Line.row`` on the screen is true (see Line); the parser clears this when it
        #: runs anything but plain text, CR, LF, TAB, BEL and SGR.
        self.rows_clean = False
        #: The alternate screen is shown (its lines never go to the scrollback).
        self.alternate = False
        #: How protected cells are honoured: "off", "dec" (DECSCA: by the selective erases
        #: only) or "iso" (SPA: by every erase), as xterm's protected_mode.
        self.protection = "off"
        super().__init__(columns, lines)
        self.buffer = self._new_buffer()

    # -- state -----------------------------------------------------------------------------------

    @property
    def default_char(self) -> Char:  # type: ignore[override]
        return Char(data=" ")

    def _new_buffer(self) -> defaultdict[int, Line]:
        return defaultdict(lambda: Line(self.default_char))

    def wrapped(self, y: int) -> bool:
        """Row ``y`` goes on in row ``y + 1`` (autowrap)."""
        return bool(self.buffer[y].wrapped) if 0 <= y < self.lines else False

    def push_rows(self, lines: list[Line]) -> None:
        """Append screen lines that scrolled off the top of the main screen to the scrollback.

        Scrollback takes the lines that leave the top of the main screen while the scroll
        region starts at its first row (any bottom margin): line feed, IND, NEL and autowrap
        at the bottom margin, SU (CSI S), and lines a resize drops from the top. Never lines
        of the alternate screen, nor lines removed by DL, ED or a scroll region not at the top.
        """
        self.scrollback_appended += len(lines)
        sb = self.scrollback
        keep = sb.maxlen or 0
        if not keep:
            return
        clean = self.rows_clean
        cols = self.columns
        for line in lines[-keep:]:
            row = line.row if clean else None
            sb.append(row if row is not None else row_from_line(line, cols, line.wrapped))

    def clear_scrollback(self) -> None:
        """Forget the scrollback (ED 3)."""
        self.scrollback.clear()
        self.scrollback_generation += 1

    def _erase_char(self) -> Char:
        """What erased cells become: blank, in the current background colour (xterm's BCE)."""
        attrs = self.cursor.attrs
        return Char(" ", bg=attrs.bg)

    @property
    def display(self) -> list[str]:
        """The screen as text, one string per line (wide characters once, stubs skipped)."""
        out = []
        for y in range(self.lines):
            line = self.buffer[y]
            out.append("".join(line[x].data for x in range(self.columns)))
        return out

    # -- erasing and scrolling (background colour erase) -----------------------------------------

    def _keeps_protected(self, selective: bool) -> bool:
        """Protected cells survive this erase: SPA's protection always, DECSCA's only against
        the selective erases (DECSED, DECSEL, DECSERA), as xterm's do_erase_*."""
        return self.protection == "iso" or (self.protection == "dec" and selective)

    def _blank_cells(self, line: Line, xs: range, blank: Char, keep: bool) -> None:
        for x in xs:
            if not (keep and line[x].protected):
                line[x] = blank

    def _cancel_wrap(self) -> None:
        """An erase in the cursor's line cancels a pending wrap: the cursor is back on the last
        column, which the erase includes (xterm's ClearInLine2 does ResetWrap)."""
        self.cursor.x = min(self.cursor.x, self.columns - 1)

    def erase_characters(self, count: int | None = None) -> None:
        """ECH: ``count`` cells from the cursor, never past the line's end."""
        self._cancel_wrap()
        self.dirty.add(self.cursor.y)
        line = self.buffer[self.cursor.y]
        xs = range(self.cursor.x, min(self.cursor.x + (count or 1), self.columns))
        self._blank_cells(line, xs, self._erase_char(), self._keeps_protected(False))

    def erase_in_line(self, how: int = 0, private: bool = False, selective: bool = False) -> None:
        """EL, or DECSEL with ``selective``."""
        self._cancel_wrap()
        y, x = self.cursor.y, self.cursor.x
        self.dirty.add(y)
        blank = self._erase_char()
        keep = self._keeps_protected(selective)
        if how == 2 and not keep:
            self.buffer[y] = Line(blank)
            return
        line = self.buffer[y]
        if how == 0:
            line.wrapped = False
        xs = {0: range(x, self.columns), 1: range(x + 1), 2: range(self.columns)}.get(how)
        if xs is not None:
            self._blank_cells(line, xs, blank, keep)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """ED, or DECSED with ``selective=True``."""
        if how == 3:
            self.clear_scrollback()  # the screen stays (xterm)
            return
        self._cancel_wrap()
        if how == 0:
            rows = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            rows = range(self.cursor.y)
        elif how == 2:
            rows = range(self.lines)
        else:
            return
        selective = bool(kwargs.get("selective"))
        keep = self._keeps_protected(selective)
        blank = self._erase_char()
        for y in rows:
            if keep:
                self._blank_cells(self.buffer[y], range(self.columns), blank, True)
            else:
                self.buffer[y] = Line(blank)
        self.dirty.update(rows)
        if how in (0, 1):
            self.erase_in_line(how, selective=selective)

    def clear_all(self) -> None:
        """The whole screen blank, protected cells too (xterm's ClearScreen: DECCOLM, 1049)."""
        blank = self._erase_char()
        for y in range(self.lines):
            self.buffer[y] = Line(blank)
        self.dirty.update(range(self.lines))

    def delete_characters(self, count: int | None = None) -> None:
        self.dirty.add(self.cursor.y)
        count = min(count or 1, self.columns - self.cursor.x)
        line = self.buffer[self.cursor.y]
        blank = self._erase_char()
        for x in range(self.cursor.x, self.columns):
            if x + count < self.columns:
                line[x] = line[x + count]
            else:
                line[x] = blank

    def insert_characters(self, count: int | None = None) -> None:
        self.dirty.add(self.cursor.y)
        x0 = min(self.cursor.x, self.columns - 1)
        count = min(count or 1, self.columns - x0)
        line = self.buffer[self.cursor.y]
        blank = self._erase_char()
        for x in range(self.columns - 1, x0 - 1, -1):
            line[x] = line[x - count] if x - count >= x0 else blank

    def _scroll(self, count: int, up: bool) -> None:
        """Move the lines between the margins up (or down) by ``count``; blank the rest."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        count = min(max(count, 1), bottom - top + 1)
        blank = self._erase_char()
        buf = self.buffer
        if up:
            if not top and not self.alternate:
                self.push_rows([buf[y] for y in range(count)])
            for y in range(top, bottom + 1 - count):
                buf[y] = buf[y + count]
            for y in range(bottom + 1 - count, bottom + 1):
                buf[y] = Line(blank)
        else:
            for y in range(bottom, top - 1 + count, -1):
                buf[y] = buf[y - count]
            for y in range(top, top + count):
                buf[y] = Line(blank)
        self.dirty.update(range(top, bottom + 1))

    def scroll_up(self, count: int | None = None) -> None:
        """CSI S (SU)."""
        self._scroll(count or 1, up=True)

    def scroll_down(self, count: int | None = None) -> None:
        """CSI T (SD)."""
        self._scroll(count or 1, up=False)

    def index(self) -> None:
        _top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == bottom:
            self._scroll(1, up=True)
        elif self.cursor.y < self.lines - 1:
            self.cursor.y += 1

    def reverse_index(self) -> None:
        top, _bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == top:
            self._scroll(1, up=False)
        elif self.cursor.y > 0:
            self.cursor.y -= 1

    def next_line(self) -> None:
        """NEL."""
        self.carriage_return()
        self.index()

    def insert_lines(self, count: int | None = None) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if top <= self.cursor.y <= bottom:
            saved = self.margins
            self.margins = Margins(self.cursor.y, bottom)
            self._scroll(count or 1, up=False)
            self.margins = saved
            self.carriage_return()

    def delete_lines(self, count: int | None = None) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if top <= self.cursor.y <= bottom:
            saved = self.margins
            self.margins = Margins(self.cursor.y, bottom)
            self._scroll(count or 1, up=True)
            self.margins = saved
            self.carriage_return()

    def scroll_columns(self, count: int, left: bool, at: int) -> None:
        """Every row of the scroll region loses (``left``) or gets ``count`` blank columns at
        column ``at``, when the cursor is inside the region (xterm's xtermColScroll: SL/SR,
        DECIC/DECDC, DECBI/DECFI); the cursor stays."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        y, x = self.cursor.y, self.cursor.x
        if not top <= y <= bottom:
            return
        self.cursor.x = min(at, self.columns - 1)
        for row in range(top, bottom + 1):
            self.cursor.y = row
            if left:
                self.delete_characters(count)
            else:
                self.insert_characters(count)
        self.cursor.y, self.cursor.x = y, x

    def back_index(self) -> None:
        """DECBI: left one column; at the left edge the region's columns move right."""
        if self.cursor.x == 0:
            self.scroll_columns(1, False, 0)
        else:
            self.cursor_back(1)

    def forward_index(self) -> None:
        """DECFI: right one column; at the right edge the region's columns move left."""
        if self.cursor.x >= self.columns - 1:
            self.scroll_columns(1, True, 0)
        else:
            self.cursor_forward(1)

    def alignment_display(self) -> None:
        """DECALN: fill the screen with E, reset the margins, home the cursor."""
        self.margins = None
        e = Char("E")
        for y in range(self.lines):
            self.buffer[y] = Line(e)
        self.dirty.update(range(self.lines))
        self.cursor.x = self.cursor.y = 0

    def cursor_back(self, count: int | None = None) -> None:
        """CUB and BS (xterm's CursorBack): left, stopping at the left edge; with reverse
        wraparound (mode 45) and autowrap, on into the line above (from the region's top to
        its bottom right, past the screen's top to its bottom), a pending wrap counting as
        one step."""
        n = count or 1
        reverse = (45 << 5) in self.mode and mo.DECAWM in self.mode
        if reverse and self.cursor.x >= self.columns:
            n -= 1
        before = x = min(self.cursor.x, self.columns - 1)
        x -= n
        if x < 0 and reverse:
            top, bottom = self.margins or Margins(0, self.lines - 1)
            offset = self.columns * self.cursor.y + x
            if before == 0 and self.cursor.y == top:
                offset = (bottom + 1) * self.columns - 1
            elif offset < 0:
                length = self.columns * self.lines
                offset += (-offset // length + 1) * length
            self.cursor.y, x = divmod(offset, self.columns)
        self.cursor.x = max(x, 0)

    def cursor_up(self, count: int | None = None) -> None:
        """CUU: stops at the top margin, or at the top of the screen when it started above
        the scroll region (xterm, VT510 manual)."""
        top = self.margins.top if self.margins is not None else 0
        limit = top if self.cursor.y >= top else 0
        self.cursor.y = max(self.cursor.y - (count or 1), limit)
        self.cursor.x = min(self.cursor.x, self.columns - 1)  # a pending wrap is cancelled

    def cursor_down(self, count: int | None = None) -> None:
        """CUD: stops at the bottom margin, or at the bottom of the screen when it started
        below the scroll region."""
        bottom = self.margins.bottom if self.margins is not None else self.lines - 1
        limit = bottom if self.cursor.y <= bottom else self.lines - 1
        self.cursor.y = min(self.cursor.y + (count or 1), limit)
        self.cursor.x = min(self.cursor.x, self.columns - 1)

    def back_tab(self, count: int | None = None) -> None:
        """CBT: back to the previous tab stop, ``count`` times."""
        for _ in range(min(count or 1, self.columns)):
            stops = [t for t in self.tabstops if t < self.cursor.x]
            self.cursor.x = max(stops) if stops else 0

    def forward_tab(self, count: int | None = None) -> None:
        """CHT: ``count`` tab stops forward (xterm stops once a tab no longer moves)."""
        for _ in range(min(count or 1, self.columns)):
            x = self.cursor.x
            self.tab()
            if self.cursor.x == x:
                return

    def tab(self) -> None:
        """HT: to the next tab stop or the last column; at the last column with a wrap
        pending, the wrap stays pending (xterm)."""
        if self.cursor.x >= self.columns:
            return
        stops = [t for t in self.tabstops if t > self.cursor.x]
        self.cursor.x = min(stops) if stops else self.columns - 1
