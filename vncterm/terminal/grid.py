"""The cell grid of the terminal model: screen lines, and the edits that move or blank them.

Erasing, inserting, deleting and scrolling blank cells in the current background colour
(xterm's background colour erase). Lines leaving the top of the main screen go to the
scrollback by the rule of :meth:`GridScreen.push_rows`; every line carries a ``wrapped`` flag.
Text drawing is ``drawing.py``'s, cursor motion ``motion.py``'s, the rest of the terminal
state ``screen.py``'s.

Margins (VT420; xterm's ctlseqs): the scroll region is a rectangle, rows from DECSTBM
(``margins``) and, while DECLRMM (``CSI ? 69 h``) is on, columns from DECSLRM (``hmargins``).
Scrolling, line and character insertion and deletion stay inside it; only a region as wide as
the screen moves whole lines (and feeds the scrollback).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyte
from pyte import modes as mo
from pyte.screens import Margins

from .scrollback import Char, Line, Scrollback, row_from_line

#: DECLRMM (``CSI ? 69 h``, VT420): DECSLRM may set left and right margins.
LRMM = 69 << 5


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
        #: Left and right margins (0-based, inclusive) set by DECSLRM; None is the full width.
        #: Only set while DECLRMM is on (resetting it clears them, as in xterm).
        self.hmargins: tuple[int, int] | None = None
        #: A wrap is pending (xterm's do_wrap, DEC's last column flag): the cursor is on the
        #: right margin, which the last character printed reached; the next one wraps first.
        self.wrap_pending = False
        super().__init__(columns, lines)
        self.buffer = self._new_buffer()

    # -- state -----------------------------------------------------------------------------------

    @property
    def default_char(self) -> Char:  # type: ignore[override]
        return Char(data=" ")

    def _new_buffer(self) -> defaultdict[int, Line]:
        return defaultdict(lambda: Line(self.default_char))

    def lr(self) -> tuple[int, int]:
        """The left and right margins (0-based): DECSLRM's, else the screen's edges."""
        m = self.hmargins
        return m if m is not None else (0, self.columns - 1)

    def tb(self) -> tuple[int, int]:
        """The top and bottom margins (0-based): DECSTBM's, else the screen's edges."""
        m = self.margins
        return (m.top, m.bottom) if m is not None else (0, self.lines - 1)

    def in_columns(self) -> bool:
        """The cursor is between the left and right margins."""
        left, right = self.lr()
        return bool(left <= self.cursor.x <= right)

    def in_region(self) -> bool:
        """The cursor is inside the scroll region (both pairs of margins)."""
        top, bottom = self.tb()
        return top <= self.cursor.y <= bottom and self.in_columns()

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

    def erase_characters(self, count: int | None = None) -> None:
        """ECH; like EL, it ends a pending wrap (xterm's ClearInLine2)."""
        self.wrap_pending = False
        self.dirty.add(self.cursor.y)
        line = self.buffer[self.cursor.y]
        xs = range(self.cursor.x, min(self.cursor.x + (count or 1), self.columns))
        self._blank_cells(line, xs, self._erase_char(), self._keeps_protected(False))

    def erase_in_line(self, how: int = 0, private: bool = False, selective: bool = False) -> None:
        """EL, or DECSEL with ``selective``; it ends a pending wrap (xterm's ClearRight)."""
        self.wrap_pending = False
        y, x = self.cursor.y, min(self.cursor.x, self.columns - 1)
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
        self.wrap_pending = False  # as EL (xterm resets the wrap for every ED)
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
        """DCH: the cells from the cursor to the right margin move left, blanks come in at
        the margin; nothing outside the left and right margins (xterm's DeleteChar)."""
        self.wrap_pending = False
        if not self.in_columns():
            return
        self._shift_cells(self.cursor.y, self.cursor.x, count or 1, left=True)

    def insert_characters(self, count: int | None = None) -> None:
        """ICH: blanks at the cursor, the cells up to the right margin moving right (those
        pushed past it are lost); nothing outside the margins (xterm's InsertChar)."""
        self.wrap_pending = False
        if not self.in_columns():
            return
        self._shift_cells(self.cursor.y, self.cursor.x, count or 1, left=False)

    def _shift_cells(self, y: int, x0: int, count: int, left: bool) -> None:
        """Cells x0..right margin of row ``y`` move ``count`` left (or right), blanks filling."""
        self.dirty.add(y)
        right = self.lr()[1]
        count = min(count, right + 1 - x0)
        line = self.buffer[y]
        line.row = None
        blank = self._erase_char()
        if left:
            for x in range(x0, right + 1):
                line[x] = line[x + count] if x + count <= right else blank
        else:
            for x in range(right, x0 - 1, -1):
                line[x] = line[x - count] if x - count >= x0 else blank

    def _scroll(self, count: int, up: bool) -> None:
        """Move the lines between the margins up (or down) by ``count``; blank the rest."""
        top, bottom = self.tb()
        count = min(max(count, 1), bottom - top + 1)
        blank = self._erase_char()
        buf = self.buffer
        if self.hmargins is not None and self.hmargins != (0, self.columns - 1):
            self._scroll_columns(count, up, top, bottom)
        elif up:
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

    def _scroll_columns(self, count: int, up: bool, top: int, bottom: int) -> None:
        """``_scroll`` inside left and right margins: cells move between rows, the lines and
        their wrap flags stay, nothing goes to the scrollback."""
        left, right = self.lr()
        blank = self._erase_char()
        buf = self.buffer
        rows = range(top, bottom + 1) if up else range(bottom, top - 1, -1)
        for y in rows:
            src = y + count if up else y - count
            line = buf[y]
            line.row = None
            if top <= src <= bottom:
                source = buf[src]
                for x in range(left, right + 1):
                    line[x] = source[x]
            else:
                for x in range(left, right + 1):
                    line[x] = blank

    def scroll_up(self, count: int | None = None) -> None:
        """CSI S (SU)."""
        self._scroll(count or 1, up=True)

    def scroll_down(self, count: int | None = None) -> None:
        """CSI T (SD)."""
        self._scroll(count or 1, up=False)

    def index(self) -> None:
        """IND (and LF): down a row; at the bottom margin, with the cursor between the left
        and right margins, the region scrolls up instead (xterm's xtermIndex); outside them it
        stays."""
        self.wrap_pending = False
        _top, bottom = self.tb()
        if self.cursor.y == bottom:
            if self.in_columns():
                self._scroll(1, up=True)
        elif self.cursor.y < self.lines - 1:
            self.cursor.y += 1

    def reverse_index(self) -> None:
        """RI: up a row; at the top margin, between the left and right margins, the region
        scrolls down (xterm's RevIndex)."""
        self.wrap_pending = False
        top, _bottom = self.tb()
        if self.cursor.y == top:
            if self.in_columns():
                self._scroll(1, up=False)
        elif self.cursor.y > 0:
            self.cursor.y -= 1

    def next_line(self) -> None:
        """NEL: IND, then CR (in that order, as xterm: the column before the CR decides
        whether the region scrolls)."""
        self.index()
        self.carriage_return()

    def insert_lines(self, count: int | None = None) -> None:
        """IL: blank rows at the cursor's, inside the scroll region (xterm's InsertLine)."""
        self._lines_at_cursor(count or 1, up=False)

    def delete_lines(self, count: int | None = None) -> None:
        """DL: the cursor's rows leave, inside the scroll region (xterm's DeleteLine)."""
        self._lines_at_cursor(count or 1, up=True)

    def _lines_at_cursor(self, count: int, up: bool) -> None:
        """IL/DL: only with the cursor inside the scroll region (both pairs of margins); the
        rows from the cursor's to the bottom margin move, and the cursor goes to the left
        margin."""
        if not self.in_region():
            return
        saved = self.margins
        self.margins = Margins(self.cursor.y, self.tb()[1])
        self._scroll(count, up=up)
        self.margins = saved
        self.cursor.x = self.lr()[0]
        self.wrap_pending = False

    def scroll_columns(self, count: int, left: bool, at: int | None) -> None:
        """Every row of the scroll region loses (``left``) or gets ``count`` blank columns at
        column ``at`` (None: the left margin), the columns up to the right margin moving,
        when the cursor is inside the region (xterm's xtermColScroll: SL/SR, DECIC/DECDC,
        DECBI/DECFI); the cursor stays."""
        if not self.in_region():
            return
        top, bottom = self.tb()
        x0 = self.lr()[0] if at is None else at
        for row in range(top, bottom + 1):
            self._shift_cells(row, x0, count, left)
        self.wrap_pending = False

    def back_index(self) -> None:
        """DECBI: left one column; at the left margin the region's columns move right
        (xterm's xtermColIndex)."""
        if self.in_columns() and self.cursor.x == self.lr()[0]:
            self.scroll_columns(1, False, self.cursor.x)
        else:
            self.cursor_back(1)

    def forward_index(self) -> None:
        """DECFI: right one column; at the right margin the region's columns move left."""
        if self.in_columns() and self.cursor.x == self.lr()[1]:
            self.scroll_columns(1, True, None)
        else:
            self.cursor_forward(1)

    def alignment_display(self) -> None:
        """DECALN: fill the screen with E, reset the margins and origin mode, home the
        cursor (xterm)."""
        self.margins = self.hmargins = None
        self.mode.discard(mo.DECOM)
        self.wrap_pending = False
        e = Char("E")
        for y in range(self.lines):
            self.buffer[y] = Line(e)
        self.dirty.update(range(self.lines))
        self.cursor.x = self.cursor.y = 0
