"""Cells, shared cells, and scrollback rows: the compact form of lines that left the screen.

A screen line is a dict of column -> ``Char`` with a default; a :class:`ScrollRow` keeps the
same cells as a string (or a tuple of cell strings when a cell is not one code point: wide
characters and their empty right halves, combining marks) plus attribute runs, so 10 000 rows
of 80 columns take a few MB instead of a hundred. Rows are canonical: the same cells always
give an equal ``ScrollRow``, however they were produced (drawn cell by cell or built from a
skipped flood), which is what the differential tests compare.

:class:`Scrollback` holds the rows; a flood hands it whole blocks of plain lines as bare strings
with one shared :data:`RowContext`, and a row is only built (by :func:`build_row`, so it is the
same canonical row) when something reads it.

``cells_for(style)`` hands out shared ``Char`` objects per attribute style, so drawing a run
of text is a dict update from a cache instead of one namedtuple per character.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice, repeat
from operator import itemgetter
from typing import Any, NamedTuple

from pyte.screens import StaticDefaultDict

from .widths import widths_of


class Char(NamedTuple):
    """pyte's Char (same fields, same order) plus the attributes pyte does not keep."""

    data: str
    fg: str = "default"
    bg: str = "default"
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    hidden: bool = False
    dim: bool = False
    #: DECSCA or SPA protected the cell from (selective) erasing.
    protected: bool = False


#: A cell's attributes without its text: ``tuple(char)[1:]``.
Style = tuple[Any, ...]

_STYLE = itemgetter(*range(1, len(Char._fields)))
_DATA = itemgetter(0)
_new = tuple.__new__


class CellCache(dict[str, Char]):
    """``cache[ch]`` is the shared ``Char`` of text ``ch`` in one style."""

    __slots__ = ("style",)

    def __init__(self, style: Style) -> None:
        super().__init__()
        self.style = style

    def __missing__(self, ch: str) -> Char:
        cell: Char = _new(Char, (ch, *self.style))
        if len(self) < 4096:
            self[ch] = cell
        return cell


_CACHES: dict[Style, CellCache] = {}


def cells_for(style: Style) -> CellCache:
    """The cell cache of ``style`` (a tuple of the attribute fields)."""
    cache = _CACHES.get(style)
    if cache is None:
        if len(_CACHES) > 4096:
            _CACHES.clear()
        cache = _CACHES[style] = CellCache(style)
    return cache


def style_of(char: Any) -> Style:
    """The attributes of a ``Char`` as a hashable tuple."""
    return tuple(char)[1:]


_RUNS: dict[Style, tuple[tuple[int, Style]]] = {}
_FILLS: dict[Any, Char] = {}


def _one_run(style: Style) -> tuple[tuple[int, Style]]:
    runs = _RUNS.get(style)
    if runs is None:
        if len(_RUNS) > 4096:
            _RUNS.clear()
        runs = _RUNS[style] = ((0, style),)
    return runs


def _intern_fill(fill: Any) -> Char:
    got = _FILLS.get(fill)
    if got is None:
        if len(_FILLS) > 4096:
            _FILLS.clear()
        got = _FILLS[fill] = _new(Char, tuple(fill))
    return got


class ScrollRow(NamedTuple):
    """One line that scrolled off the top of the main screen.

    ``text`` holds cells 0 .. n-1: a str when every such cell is one code point, else a tuple
    of the cells' strings ("" for the right half of a wide character). ``runs`` gives the
    attributes of those cells as (first column, style) pairs. Cells n .. width-1 all equal
    ``fill`` (None when n == width). ``wrapped``: the line went on in the next row because of
    autowrap (copy it without a newline).
    """

    text: str | tuple[str, ...]
    runs: tuple[tuple[int, Style], ...]
    fill: Char | None
    width: int
    wrapped: bool

    @property
    def cells(self) -> tuple[Char, ...]:
        """All ``width`` cells as ``Char``."""
        out: list[Char] = []
        text, runs = self.text, self.runs
        for i, (start, style) in enumerate(runs):
            stop = runs[i + 1][0] if i + 1 < len(runs) else len(text)
            cache = cells_for(style)
            out.extend(map(cache.__getitem__, text[start:stop]))
        if self.fill is not None:
            out.extend(repeat(self.fill, self.width - len(text)))
        return tuple(out)

    def cell(self, x: int) -> Char:
        """Cell ``x`` (0 <= x < width)."""
        if x >= len(self.text):
            assert self.fill is not None
            return self.fill
        style = self.runs[0][1]
        for start, s in self.runs:
            if start > x:
                break
            style = s
        return cells_for(style)[self.text[x]]

    def string(self) -> str:
        """The row as a user copies it: wide characters once, trailing blanks dropped."""
        return "".join(self.text).rstrip()


class Line(StaticDefaultDict[int, Any]):
    """A screen row: column -> Char, ``default`` for the rest.

    ``wrapped``: the row's text went on in the next row because of autowrap (set when the
    cursor wraps, cleared by erasing to the end of the row; it moves with the row when it
    scrolls). ``row``: the row's scrollback form when the flood path built the line from one
    and nothing has written to it since (only trusted while ``TermScreen.rows_clean``).
    """

    wrapped = False
    row: ScrollRow | None = None


def line_from_row(row: ScrollRow, default: Any) -> Line:
    """A screen line with the cells of ``row`` on ``default`` (the fill it was drawn on)."""
    line = Line(default)
    fill_line(line, row)
    line.wrapped = row.wrapped
    return line


Piece = tuple[str | list[str], Style]

#: How a bare text becomes its row (:func:`build_row`): (style, fill, width, wrapped, wide). A
#: ``wide`` text holds characters of one or two cells (no combining marks) and fits its row.
RowContext = tuple[Style, Any, int, bool, bool]


def build_row(text: str, context: RowContext) -> ScrollRow:
    """The row a bare text stands for: what drawing it from column 0 of a fresh row of
    ``fill`` cells, in ``style``, would leave."""
    style, fill, width, wrapped, wide = context
    if not wide:
        return plain_row(text, style, fill, width, wrapped)
    cells: list[str] = []
    for ch, w in zip(text, widths_of(text), strict=True):
        cells.append(ch)
        if w == 2:
            cells.append("")
    return make_row([(cells, style)], width, fill, wrapped)


#: Estimated bytes of a row besides its text: the row tuple and its slots in the deques.
ROW_BYTES = 160
#: ... of one attribute run: the (column, style) pair, the style tuple and its colour strings,
#: when nothing is shared (every cell in its own 24-bit colour: measured 240 per cell).
RUN_BYTES = 240
#: ... of one cell string of a row kept as a tuple of cells (wide or combining characters).
CELL_BYTES = 58


def text_bytes(text: str | tuple[str, ...]) -> int:
    """The estimated size of a row's text (a str: 1 or 4 bytes a character)."""
    if isinstance(text, str):
        return 50 + (len(text) if text.isascii() else 4 * len(text))
    return 56 + CELL_BYTES * len(text)


def row_bytes(row: ScrollRow | str) -> int:
    """The estimated memory of a scrollback row, cheaply (no walk of its cells): 0-40% above
    tracemalloc's count for plain, CJK and all-truecolour rows of 200 columns (410, 639 and
    48410 bytes estimated; 330, 461 and 48488 measured)."""
    if isinstance(row, str):
        return ROW_BYTES + text_bytes(row)
    return ROW_BYTES + text_bytes(row.text) + RUN_BYTES * len(row.runs)


#: :func:`row_bytes` of a bare ASCII text, less its length.
_TEXT_ROW_BYTES = ROW_BYTES + 50


def _row_sizes(rows: list[ScrollRow | str]) -> list[int]:
    """:func:`row_bytes` of each row, bare texts (a flood's rows) inline: a flood appends
    hundreds of thousands of rows a second, and a call per row costs twice as much."""
    base, other = _TEXT_ROW_BYTES, row_bytes
    return [
        (base + len(r) if r.isascii() else base + 4 * len(r)) if type(r) is str else other(r)
        for r in rows
    ]


class Scrollback:
    """Rows that scrolled off the top of the main screen, oldest first; at most ``maxlen``
    rows and about ``max_bytes`` of memory (estimated per row by :func:`row_bytes`): past
    either, the oldest rows go.

    Reads as a sequence of :class:`ScrollRow`. A row is stored either built, or (from a flood)
    as its text beside the :data:`RowContext` that builds it, so a flood of plain lines costs
    no Python work per line but its size estimate; reading such a row builds it.
    """

    __slots__ = ("_ctx", "_rows", "_sizes", "bytes", "max_bytes", "maxlen")

    def __init__(self, maxlen: int, max_bytes: int = 64 << 20) -> None:
        self.maxlen = max(0, maxlen)
        self.max_bytes = max_bytes
        self._rows: deque[ScrollRow | str] = deque(maxlen=self.maxlen)
        self._ctx: deque[RowContext | None] = deque(maxlen=self.maxlen)
        self._sizes: deque[int] = deque(maxlen=self.maxlen)
        #: The estimated bytes of the rows kept.
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> ScrollRow:
        row = self._rows[i]
        if isinstance(row, str):
            ctx = self._ctx[i]
            assert ctx is not None
            return build_row(row, ctx)
        return row

    def __iter__(self) -> Iterator[ScrollRow]:
        for row, ctx in zip(self._rows, self._ctx, strict=True):
            if isinstance(row, str):
                assert ctx is not None
                row = build_row(row, ctx)
            yield row

    def append(self, row: ScrollRow) -> None:
        self.extend_mixed((row,), (None,))

    def extend(self, rows: Sequence[ScrollRow]) -> None:
        self.extend_mixed(rows, repeat(None, len(rows)))

    def extend_mixed(
        self, rows: Iterable[ScrollRow | str], contexts: Iterable[RowContext | None]
    ) -> None:
        """Rows and bare texts; ``contexts`` has each text's context, None for a built row."""
        if not self.maxlen:
            return
        if type(rows) is not list:  # the skim hands lists: no copy then
            rows = list(rows)
        if type(contexts) is not list:
            contexts = list(contexts)
        if len(rows) > self.maxlen:
            rows, contexts = rows[-self.maxlen :], contexts[-self.maxlen :]
        sizes = _row_sizes(rows)
        # the rows the deques' maxlen is about to push out leave the count first (the batch
        # is at most maxlen rows, so only rows kept before it go)
        gone = len(self._sizes) + len(sizes) - self.maxlen
        if gone > 0:
            self.bytes -= sum(islice(self._sizes, gone))
        self._rows.extend(rows)
        self._ctx.extend(contexts)
        self._sizes.extend(sizes)
        self.bytes += sum(sizes)
        while self.bytes > self.max_bytes and self._sizes:
            self.bytes -= self._sizes.popleft()
            self._rows.popleft()
            self._ctx.popleft()

    def clear(self) -> None:
        self._rows.clear()
        self._ctx.clear()
        self._sizes.clear()
        self.bytes = 0


def plain_row(text: str, style: Style, fill: Any, width: int, wrapped: bool) -> ScrollRow:
    """``make_row([(text, style)], width, fill, wrapped)``, quicker (len(text) <= width)."""
    n = len(text)
    if n < width:
        if fill[0] != " ":
            return make_row([(text, style)], width, fill, wrapped)
        if style == _STYLE(fill):
            text = text.rstrip(" ")
        return ScrollRow(text, _one_run(style) if text else (), _intern_fill(fill), width, wrapped)
    if text[-1] != " ":
        return ScrollRow(text, _one_run(style), None, width, wrapped)
    return make_row([(text, style)], width, fill, wrapped)


def make_row(pieces: list[Piece], width: int, fill: Any, wrapped: bool) -> ScrollRow:
    """The canonical row of cells ``pieces`` (contiguous from column 0) then ``fill`` cells.

    ``pieces`` is consumed (modified).
    """
    end = 0
    merged: list[list[Any]] = []
    for data, style in pieces:
        if not data:
            continue
        end += len(data)
        if merged and merged[-1][1] == style:
            prev = merged[-1][0]
            if isinstance(prev, str) and isinstance(data, str):
                merged[-1][0] = prev + data
            else:
                merged[-1][0] = [*prev, *data]
        else:
            merged.append([data, style])
    if end < width:
        last_data, last_style = fill[0], _STYLE(fill)
    else:
        last_data, last_style = merged[-1][0][-1], merged[-1][1]
    row_fill: Char | None = None
    if last_data == " ":
        row_fill = _intern_fill((" ", *last_style))
        while merged and merged[-1][1] == last_style:
            data = merged[-1][0]
            if isinstance(data, str):
                data = data.rstrip(" ")
            else:
                while data and data[-1] == " ":
                    data.pop()
            if data:
                merged[-1][0] = data
                break
            merged.pop()
    elif end < width:  # a fill that is not a blank (DECALN's E): spell it out
        merged.append([fill[0] * (width - end), last_style])
        if len(merged) > 1 and merged[-2][1] == last_style:
            tail = merged.pop()[0]
            prev = merged[-1][0]
            merged[-1][0] = prev + tail if isinstance(prev, str) else [*prev, *tail]
    if not merged:
        return ScrollRow("", (), row_fill, width, wrapped)
    if len(merged) == 1:
        data, style = merged[0]
        text: str | tuple[str, ...] = data
        if not isinstance(data, str):
            joined = "".join(data)
            text = joined if len(joined) == len(data) and "" not in data else tuple(data)
        return ScrollRow(text, _one_run(style), row_fill, width, wrapped)
    runs: list[tuple[int, Style]] = []
    pos = 0
    parts: list[str | list[str]] = []
    all_str = True
    for data, style in merged:
        runs.append((pos, style))
        pos += len(data)
        parts.append(data)
        if not isinstance(data, str):
            all_str = False
    if all_str:
        return ScrollRow("".join(parts), tuple(runs), row_fill, width, wrapped)  # type: ignore
    flat = [cell for part in parts for cell in part]
    joined = "".join(flat)
    text = joined if len(joined) == len(flat) and "" not in flat else tuple(flat)
    return ScrollRow(text, tuple(runs), row_fill, width, wrapped)


def row_from_line(line: Any, width: int, wrapped: bool) -> ScrollRow:
    """The scrollback row of a screen line (a dict column -> Char with a ``default``)."""
    cells = list(map(line.get, range(width), repeat(line.default)))
    styles = list(map(_STYLE, cells))
    first = styles[0]
    if styles.count(first) == width:
        return make_row([(list(map(_DATA, cells)), first)], width, None, wrapped)
    pieces: list[Piece] = []
    start = 0
    for x in range(1, width):
        if styles[x] != styles[x - 1]:
            pieces.append((list(map(_DATA, cells[start:x])), styles[start]))
            start = x
    pieces.append((list(map(_DATA, cells[start:])), styles[start]))
    return make_row(pieces, width, None, wrapped)


def fill_line(line: Any, row: ScrollRow) -> None:
    """Write the cells of ``row`` into the empty screen ``line`` (whose default is the fill
    the row was drawn on): what the row's text covers, and the fill if it differs."""
    text, runs = row.text, row.runs
    for i, (start, style) in enumerate(runs):
        stop = runs[i + 1][0] if i + 1 < len(runs) else len(text)
        line.update(
            zip(
                range(start, stop), map(cells_for(style).__getitem__, text[start:stop]), strict=True
            )
        )
    if row.fill is not None and row.fill != line.default:
        line.update(zip(range(len(text), row.width), repeat(row.fill)))
