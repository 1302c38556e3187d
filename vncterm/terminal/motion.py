"""Cursor motion inside the margins, as xterm 379 moves the cursor (its cursor.c and tabs.c;
the DEC VT510 manual; ctlseqs).

Every motion ends a pending wrap (``wrap_pending``, xterm's ``ResetWrap``) except TAB, which
keeps it. In origin mode (DECOM) the absolute positions (CUP, HVP, CHA, HPA, VPA) and the
relative ones (HPR, VPR) count from the scroll region's top left corner and stop at its
bottom right one; outside origin mode they may leave the region. CUF, CUB, CR and TAB stop at
the left and right margins when they start inside them.
"""

from __future__ import annotations

from pyte import modes as mo

from .grid import LRMM, GridScreen

#: Reverse wraparound (xterm's mode 45): BS and CUB go on into the row above.
REVERSE_WRAP = 45 << 5
#: xterm's curses fix (``CSI ? 41 h``, "more(1) fix"): TAB with a wrap pending wraps first.
MORE_FIX = 41 << 5


class MotionScreen(GridScreen):
    """The grid with margin-aware cursor motion (see the module docstring)."""

    # -- absolute positions ----------------------------------------------------------------------

    def _set_cursor(self, row: int, col: int) -> None:
        """Move to ``row``, ``col`` (0-based), relative to the region's top left in origin
        mode and then kept inside it, else kept on the screen (xterm's CursorSet)."""
        max_row, max_col = self.lines - 1, self.columns - 1
        if mo.DECOM in self.mode:
            top, max_row = self.tb()
            left, max_col = self.lr()
            row, col = row + top, col + left
        self.cursor.x = min(max(col, 0), max_col)
        self.cursor.y = min(max(row, 0), max_row)
        self.wrap_pending = False

    def _origin_row(self) -> int:
        """The cursor's row as CUP would give it (relative to the top margin in origin mode)."""
        row: int = self.cursor.y
        return max(row - self.tb()[0], 0) if mo.DECOM in self.mode else row

    def _origin_col(self) -> int:
        col: int = self.cursor.x
        return max(col - self.lr()[0], 0) if mo.DECOM in self.mode else col

    def reported_position(self) -> tuple[int, int]:
        """The cursor's (row, column), 1-based, as CPR and DECXCPR report it: relative to the
        region's top left in origin mode (xterm's CursorRow/CursorCol)."""
        return self._origin_row() + 1, self._origin_col() + 1

    def cursor_position(self, line: int | None = None, column: int | None = None) -> None:
        """CUP, HVP (1-based; origin mode: from the region's top left, kept inside it)."""
        self._set_cursor((line or 1) - 1, (column or 1) - 1)

    def cursor_to_column(self, column: int | None = None) -> None:
        """CHA, HPA (xterm: CursorSet with the row kept)."""
        self._set_cursor(self._origin_row(), (column or 1) - 1)

    def cursor_to_line(self, line: int | None = None) -> None:
        """VPA (xterm: CursorSet with the column kept)."""
        self._set_cursor((line or 1) - 1, self._origin_col())

    def cursor_relative(self, rows: int, cols: int) -> None:
        """VPR (``CSI Pn e``), HPR (``CSI Pn a``): CursorSet from the cursor, so in origin
        mode they stop at the region's bottom and right margins (xterm)."""
        self._set_cursor(self._origin_row() + rows, self._origin_col() + cols)

    # -- relative motion -------------------------------------------------------------------------

    def carriage_return(self) -> None:
        """CR: to the left margin; from left of it (outside origin mode) to column 0
        (xterm's CarriageReturn)."""
        left = self.lr()[0]
        if mo.DECOM not in self.mode and self.cursor.x < left:
            left = 0
        self.cursor.x = left
        self.wrap_pending = False

    def backspace(self) -> None:
        self.cursor_back(1)

    def cursor_forward(self, count: int | None = None) -> None:
        """CUF: right, stopping at the right margin (at the screen's edge when the cursor is
        already right of the margin)."""
        right = self.lr()[1]
        if self.cursor.x > right:
            right = self.columns - 1
        self.cursor.x = min(self.cursor.x + (count or 1), right)
        self.wrap_pending = False

    def cursor_back(self, count: int | None = None) -> None:
        """CUB and BS (xterm's CursorBack): left, stopping at the left margin (column 0 when
        the cursor starts left of it); with reverse wraparound (mode 45) and autowrap, on into
        the row above between the margins (from the region's top left to its bottom right,
        past the screen's top to its bottom), a pending wrap counting as one step."""
        n = count or 1
        reverse = REVERSE_WRAP in self.mode and mo.DECAWM in self.mode
        if reverse and self.wrap_pending:
            n -= 1
        margin, right = self.lr()
        before = self.cursor.x
        left = margin if before >= margin else 0
        x = before - n
        if x < left and reverse:
            width = right - left + 1
            y = self.cursor.y
            top, bottom = self.tb()
            offset = width * y + x - left
            if before == left and margin <= before <= right and y == top and y <= bottom:
                offset = (bottom + 1) * width - 1
            elif offset < 0:
                length = width * self.lines
                offset += (-offset // length + 1) * length
            y, x = divmod(offset, width)
            self.cursor.y = min(y, self.lines - 1)
            x += left
        self.cursor.x = min(max(x, left), self.columns - 1)
        self.wrap_pending = False

    def cursor_up(self, count: int | None = None) -> None:
        """CUU: stops at the top margin, or at the top of the screen when it started above
        the scroll region (xterm, VT510 manual)."""
        top = self.tb()[0]
        limit = top if self.cursor.y >= top else 0
        self.cursor.y = max(self.cursor.y - (count or 1), limit)
        self.wrap_pending = False

    def cursor_down(self, count: int | None = None) -> None:
        """CUD: stops at the bottom margin, or at the bottom of the screen when it started
        below the scroll region."""
        bottom = self.tb()[1]
        limit = bottom if self.cursor.y <= bottom else self.lines - 1
        self.cursor.y = min(self.cursor.y + (count or 1), limit)
        self.wrap_pending = False

    def cursor_down1(self, count: int | None = None) -> None:
        """CNL: CUD, then CR (xterm's CursorNextLine)."""
        self.cursor_down(count)
        self.carriage_return()

    def cursor_up1(self, count: int | None = None) -> None:
        """CPL: CUU, then CR."""
        self.cursor_up(count)
        self.carriage_return()

    # -- tabs ------------------------------------------------------------------------------------

    def tab(self) -> None:
        """HT: to the next tab stop, stopping at the right margin under DECLRMM, else at the
        last column (xterm's TabToNextStop); a pending wrap stays pending, unless the curses
        fix (mode 41) and autowrap are on: then the cursor goes to column 0 of the next row
        first (xterm's TabNext)."""
        if self.wrap_pending and MORE_FIX in self.mode and mo.DECAWM in self.mode:
            self.index()
            self.cursor.x = 0
        right = self.lr()[1] if LRMM in self.mode else self.columns - 1
        stops = [t for t in self.tabstops if t > self.cursor.x]
        self.cursor.x = min(min(stops) if stops else self.columns - 1, right)

    def back_tab(self, count: int | None = None) -> None:
        """CBT: back to the previous tab stop, ``count`` times; not past the left margin in
        origin mode (xterm's TabToPrevStop)."""
        low = self.lr()[0] if mo.DECOM in self.mode else 0
        for _ in range(min(count or 1, self.columns)):
            stops = [t for t in self.tabstops if t < self.cursor.x]
            x = max(max(stops) if stops else 0, min(low, self.cursor.x))
            if x == self.cursor.x:
                break
            self.cursor.x = x

    def forward_tab(self, count: int | None = None) -> None:
        """CHT: ``count`` tab stops forward (xterm stops once a tab no longer moves)."""
        for _ in range(min(count or 1, self.columns)):
            x = self.cursor.x
            self.tab()
            if self.cursor.x <= x:
                return

    # -- margins ---------------------------------------------------------------------------------

    def set_lr_margins(self, left: int, right: int) -> None:
        """DECSLRM (``CSI Pl ; Pr s``, 1-based; 0 or missing: the screen's edges): only under
        DECLRMM, and only when left < right; then the cursor goes home (xterm)."""
        right = right if 0 < right <= self.columns else self.columns
        left = max(left, 1)
        if right > left:
            self.hmargins = (left - 1, right - 1)
            self._set_cursor(0, 0)

    def set_lrmm(self, on: bool) -> None:
        """DECLRMM (``CSI ? 69 h/l``): setting it keeps the margins (full width); resetting
        it returns them to the screen's edges."""
        if on:
            self.mode.add(LRMM)
        else:
            self.mode.discard(LRMM)
            self.hmargins = None
