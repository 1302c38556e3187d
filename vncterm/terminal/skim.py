"""The flood skim's row builder: simple input turned into rows without drawing a cell.

:class:`Skim` takes a stretch of simple input that ``flood.py`` found (its module docstring has
what "simple" means and the state the skim needs) and builds the rows the cell-by-cell model
would leave: rows that leave the screen go to the scrollback, the last screenful becomes
screen lines. It must be exact; the differential tests (``tests/test_terminal_fastpath.py``)
compare it with ``fast=False``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from itertools import compress, count, repeat
from operator import not_
from typing import Any

from .screen import TermScreen
from .scrollback import (
    Line,
    Piece,
    RowContext,
    ScrollRow,
    build_row,
    line_from_row,
    make_row,
    plain_row,
    style_of,
)
from .sequences import csi, esc
from .widths import widths_of

_VT_FF = re.compile("[\x0b\x0c]")
#: What a line of a CR LF stretch may hold besides text (then it is not a plain line).
_LINE_CONTROLS = "\t\x0b\x0c\x1b\x07"
_TOKEN = re.compile(
    r"([^\x00-\x1f\x7f-\x9f]+)|(\r\n)|\x1b\[([0-9;:]*)m|([\n\x0b\x0c])|(\r)|(\t)|(\x07)|(\x1b\(B)"
)


class Skim:
    """Simple input turned into rows (see the module docstring); :meth:`commit` applies it."""

    def __init__(self, screen: TermScreen) -> None:
        self.screen = screen
        self.cols = screen.columns
        self.lines = screen.lines
        line = screen.buffer[self.lines - 1]
        self.fill: Any = line.default
        self.fill_style = style_of(self.fill)
        self.cur_wrapped = bool(line.wrapped)
        self.pieces: list[Piece] = []
        self.end = 0
        if line:  # the bottom row already holds cells: they stay, as a prefix
            self.end = min(max(line) + 1, self.cols)
            for x in range(self.end):
                cell = line[x]
                st = style_of(cell)
                if self.pieces and self.pieces[-1][1] == st:
                    data = self.pieces[-1][0]
                    assert isinstance(data, list)
                    data.append(cell[0])
                else:
                    self.pieces.append(([cell[0]], st))
        #: The cursor's column; ``cols`` while a wrap is pending (flood.can_skim: the pending
        #: wrap of a full-width screen is at its last column).
        self.x = screen.cursor.x + screen.wrap_pending
        self.attrs = screen.cursor.attrs
        self.style = style_of(self.attrs)
        #: Finished rows, oldest first: built, or bare texts of plain lines beside their
        #: context in ``out_ctx`` (None for a built row); ``out_fills``: each one's blank.
        self.out: list[ScrollRow | str] = []
        self.out_ctx: list[RowContext | None] = []
        self.out_fills: list[Any] = []
        self.bells = 0
        self.last_char: str | None = None
        self.tabstops = sorted(screen.tabstops)
        self._erase_for: Any = None
        self._erase: Any = None

    # -- rows ------------------------------------------------------------------------------------

    def _new_fill(self) -> Any:
        """The blank a line feed scrolls in now (background colour erase)."""
        attrs = self.screen.cursor.attrs
        if attrs is not self._erase_for:
            self._erase_for = attrs
            self._erase = self.screen._erase_char()
        return self._erase

    def newrow(self, wrapped: bool) -> None:
        """Finish the current row (autowrap when ``wrapped``) and start a blank one."""
        pieces = self.pieces
        wrapped = wrapped or self.cur_wrapped
        if not pieces:
            row = plain_row("", self.style, self.fill, self.cols, wrapped)
        elif len(pieces) == 1 and isinstance(pieces[0][0], str):
            row = plain_row(pieces[0][0], pieces[0][1], self.fill, self.cols, wrapped)
        else:
            row = make_row(pieces, self.cols, self.fill, wrapped)
        self.out.append(row)
        self.out_ctx.append(None)
        self.out_fills.append(self.fill)
        self.pieces = []
        self.end = 0
        self.cur_wrapped = False
        fill = self._new_fill()
        if fill is not self.fill:
            self.fill = fill
            self.fill_style = style_of(fill)

    def _gap(self, x: int) -> None:
        """Cells end..x-1 are the row's blank (a tab or a bare line feed skipped them)."""
        self.pieces.append((self.fill[0] * (x - self.end), self.fill_style))
        self.end = x

    # -- input -----------------------------------------------------------------------------------

    def run(self, s: str, pos: int, end: int) -> int:
        """Take simple input from ``s[pos:end]``; where it stopped."""
        seg = s[pos:end]
        lines = seg.split("\r\n")
        lfs, crs = seg.count("\n"), seg.count("\r")
        if len(lines) - 1 == lfs == crs:  # no lone CR or LF
            return self._crlf_lines(seg, lines, pos)
        if len(lines) - 1 == lfs == crs - 1 and seg[-1] == "\r":  # a CR LF cut in two
            lines[-1] = lines[-1][:-1]
            stop = self._crlf_lines(seg[:-1], lines, pos)
            if stop == end - 1:
                self.x = 0
                return end
            return stop
        return self._tokens(s, pos, end)

    def _tokens(self, s: str, pos: int, end: int) -> int:
        """Simple input from ``s[pos:end]`` token by token; where it stopped."""
        match = _TOKEN.match
        while pos < end:
            m = match(s, pos)
            assert m is not None
            kind = m.lastindex
            if kind == 1:
                if not self.text(m.group(1)):
                    return pos
            elif kind == 2:
                self.newrow(False)
                self.x = 0
            elif kind == 3:
                csi(self.screen, m.group(3), "", "m")
                attrs = self.screen.cursor.attrs
                if attrs is not self.attrs:
                    self.attrs = attrs
                    self.style = style_of(attrs)
            elif kind == 4:
                self.linefeed()
            elif kind == 5:
                self.x = 0
            elif kind == 6:
                self.tab()
            elif kind == 7:
                self.bells += 1
            else:
                esc(self.screen, "(", "B")
            pos = m.end()
        return pos

    def linefeed(self) -> None:
        """LF (VT, FF) on the bottom row: a new row, the column kept, a pending wrap ended."""
        self.newrow(False)
        if self.x >= self.cols:
            self.x = self.cols - 1

    def tab(self) -> None:
        """To the next tab stop, or the last column (as TermScreen.tab)."""
        if self.x >= self.cols:
            return  # a pending wrap stays pending
        i = bisect_right(self.tabstops, self.x)
        self.x = self.tabstops[i] if i < len(self.tabstops) else self.cols - 1

    def _line(self, line: str, at: int) -> int:
        """A line's simple input at the cursor (no CR or LF in it); -1 when done, else where
        (``at`` is where the line starts) it had to stop."""
        if "\x1b" in line or "\x07" in line:  # SGR, ESC ( B, BEL: token by token
            stop = self._tokens(line, 0, len(line))
            return -1 if stop == len(line) else at + stop
        if "\x0b" in line or "\x0c" in line:  # line feeds that keep the column
            for i, part in enumerate(_VT_FF.split(line)):
                if i:
                    self.linefeed()
                    at += 1
                stop = self._line(part, at)
                if stop >= 0:
                    return stop
                at += len(part)
            return -1
        if "\t" not in line:
            return -1 if not line or self.text(line) else at
        for i, part in enumerate(line.split("\t")):
            if i:
                self.tab()
                at += 1
            if part and not self.text(part):
                return at
            at += len(part)
        return -1

    def _crlf_lines(self, seg: str, lines: list[str], pos: int) -> int:
        """``seg`` (split into ``lines``): simple input in lines ended by CR LF; blocks of
        plain lines whole, the others one by one."""
        stop = self._line(lines[0], pos)
        if stop >= 0:
            return stop
        if len(lines) == 1:
            return pos + len(seg)
        at = pos + len(lines[0]) + 2
        self.newrow(False)
        self.x = 0
        mids = lines[1:-1]
        # lines that are not plain ASCII text go the slow way, one by one; the rest in blocks
        special: set[int] = set()  # (C-level passes over the lines, only for what occurs)
        if not seg.isascii():
            special.update(compress(count(), map(not_, map(str.isascii, mids))))
        for ch in _LINE_CONTROLS:
            if ch in seg:
                special.update(compress(count(), map(str.__contains__, mids, repeat(ch))))
        slow = sorted(special)
        slow.append(len(mids))
        start = 0
        last = ""
        for j in slow:
            if j > start:
                block = mids[start:j]
                last = self._plain_rows(block) or last
                at += sum(map(len, block)) + 2 * len(block)
            if j == len(mids):
                break
            line = mids[j]
            at += len(line) + 2
            start = j + 1
            if self._wide_row(line):
                last = line[-1]
                continue
            if last:
                self.last_char = last
                last = ""
            stop = self._line(line, at - len(line) - 2)
            if stop >= 0:
                return stop
            self.newrow(False)
            self.x = 0
        if last:
            self.last_char = last
        stop = self._line(lines[-1], at)  # on a fresh row: only a combining mark stops it
        return stop if stop >= 0 else pos + len(seg)

    def _wide_row(self, line: str) -> bool:
        """A whole line of characters of one or two cells (no controls, no combining marks)
        that fits its fresh row, kept as bare text; False (nothing done) for any other."""
        if any(ch in line for ch in _LINE_CONTROLS):
            return False
        widths = widths_of(line)
        if min(widths) <= 0 or sum(widths) > self.cols:
            return False
        self.out.append(line)
        self.out_ctx.append((self.style, self.fill, self.cols, False, True))
        self.out_fills.append(self.fill)
        return True

    def _plain_rows(self, lines: list[str]) -> str:
        """Whole plain lines (ASCII without controls), each from column 0 of a fresh row, kept
        as bare texts (see Scrollback); returns the last character drawn ("" for none)."""
        cols, style, fill = self.cols, self.style, self.fill
        ctx: RowContext = (style, fill, cols, False, False)
        texts: list[str] = lines
        ctxs: Any = repeat(ctx, len(lines))
        long = list(compress(count(), map(cols.__lt__, map(len, lines))))
        if long:  # long lines wrap: all but their last piece go on
            wrap: RowContext = (style, fill, cols, True, False)
            texts, ctxs = [], []
            start = 0
            for j in long:
                texts.extend(lines[start:j])
                ctxs.extend(repeat(ctx, j - start))
                line = lines[j]
                last = (len(line) - 1) // cols * cols
                for i in range(0, last, cols):
                    texts.append(line[i : i + cols])
                    ctxs.append(wrap)
                texts.append(line[last:])
                ctxs.append(ctx)
                start = j + 1
            texts.extend(lines[start:])
            ctxs.extend(repeat(ctx, len(lines) - start))
        self.out.extend(texts)
        self.out_ctx.extend(ctxs)
        self.out_fills.extend(repeat(fill, len(texts)))
        for line in reversed(lines):
            if line:
                return line[-1]
        return ""

    def text(self, t: str) -> bool:
        """Printable text at the cursor; False (nothing done) if it must go the normal way."""
        x = self.x
        cols = self.cols
        if x < self.end and x < cols:
            return False  # would overwrite cells of this row
        if not t.isascii():
            return self._text_wide(t)
        pos, n = 0, len(t)
        style = self.style
        pieces = self.pieces
        while True:
            if x >= cols:
                self.newrow(True)
                pieces = self.pieces
                x = 0
            if x > self.end:
                self._gap(x)
            take = min(n - pos, cols - x)
            pieces.append((t[pos : pos + take] if pos or take < n else t, style))
            x += take
            self.end = x
            pos += take
            if pos >= n:
                break
        self.x = x
        self.last_char = t[-1]
        return True

    def _text_wide(self, t: str) -> bool:
        """Text with non-ASCII characters, one at a time as the screen's draw does. (Whole row
        pieces from C-level width and cell passes measured no faster: CJK lines are short.)"""
        widths = widths_of(t)
        if self.x == 0:
            for w in widths:
                if w == 0:
                    return False  # would combine with the last cell of the row above
                if w > 0:
                    break
        cols = self.cols
        style = self.style
        cur: list[str] | None = None
        for ch, w in zip(t, widths, strict=True):
            if w <= 0:
                if w == 0:
                    self._combine(ch)
                    self.last_char = ""  # as the screen: nothing for REP to repeat
                    cur = None
                continue
            x = self.x
            if x + w > cols:
                if x < cols and w == 2:  # a wide character does not fit: blank the last cell
                    if x > self.end:
                        self._gap(x)
                    self.pieces.append((" ", style))
                    self.end = x + 1
                self.newrow(True)
                self.x = x = 0
                cur = None
            if x > self.end:
                self._gap(x)
                cur = None
            if cur is None:
                cur = []
                self.pieces.append((cur, style))
            cur.append(ch)
            if w == 2:
                cur.append("")
            self.x = self.end = x + w
            self.last_char = ch
        return True

    def _combine(self, ch: str) -> None:
        """A zero-width character joins the cell before the cursor (as TermScreen._combine)."""
        tx = self.x - 1  # >= 0: text at column 0 starting with one was refused
        if tx >= self.end:
            self._gap(tx + 1)
        cell = self._cell(tx)
        if cell == "" and tx:
            tx -= 1
            cell = self._cell(tx)
        if not cell or len(cell) > 16:
            return
        self._set_cell(tx, unicodedata.normalize("NFC", cell + ch))

    def _find(self, x: int) -> tuple[int, int]:
        """(piece index, offset in it) of column ``x`` < end."""
        start = self.end
        for i in range(len(self.pieces) - 1, -1, -1):
            start -= len(self.pieces[i][0])
            if start <= x:
                return i, x - start
        raise AssertionError(x)

    def _cell(self, x: int) -> str:
        i, off = self._find(x)
        return self.pieces[i][0][off]

    def _set_cell(self, x: int, data: str) -> None:
        i, off = self._find(x)
        cells, style = self.pieces[i]
        cells = list(cells)
        cells[off] = data
        self.pieces[i] = (cells, style)

    # -- applying --------------------------------------------------------------------------------

    def commit(self) -> None:
        """Apply: rows that left the screen to the scrollback, the rest as screen lines."""
        screen = self.screen
        buf = screen.buffer
        keep = self.lines - 1
        current = make_row(self.pieces, self.cols, self.fill, self.cur_wrapped)
        out, ctxs, fills = self.out, self.out_ctx, self.out_fills
        n = len(out)
        existing = [buf[y] for y in range(keep)]
        if n >= keep:
            screen.push_rows(existing)
            gone = n - keep
            screen.scrollback_appended += gone
            cap = screen.scrollback.maxlen
            if cap:
                start = max(0, gone - cap)
                screen.scrollback.extend_mixed(out[start:gone], ctxs[start:gone])
            rows: list[Line] = []
            first = gone
        else:
            screen.push_rows(existing[:n])
            rows = existing[n:]
            for line in rows:
                line.row = None
            first = 0
        for i in range(first, n):
            row = out[i]
            if isinstance(row, str):
                ctx = ctxs[i]
                assert ctx is not None
                row = build_row(row, ctx)
            line = line_from_row(row, fills[i])
            line.row = row
            rows.append(line)
        for y, line in enumerate(rows):
            buf[y] = line
        buf[keep] = line_from_row(current, self.fill)
        screen.cursor.x = min(self.x, self.cols - 1)
        screen.wrap_pending = self.x >= self.cols
        screen.bells += self.bells
        if self.last_char is not None:
            screen._last_char = self.last_char
        screen.dirty.update(range(self.lines))
        screen.rows_clean = True
