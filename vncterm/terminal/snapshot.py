"""The terminal's state as plain data (JSON-ready): what a restarted vncterm shows again.

:func:`dump` takes the cells with their attributes (both screens, the scrollback), the cursor
and its attributes (its pending wrap too), the saved cursors, the modes, margins (top and
bottom, left and right), tab stops, character sets, cursor shape, title and title stack, and the
colours the program changed (palette, special and dynamic colours as ``TermColours.dump`` has
them; a state saved before they were kept has none). :func:`load` puts such a state into a
fresh screen of any size (a smaller one drops lines from the top and columns on the right, as a
resize does), checking every field: a state that is not exactly of this form raises
:class:`SnapshotError` and leaves the screen as it was. Lengths are capped by the screen (its
width, its scrollback).

Rows use the scrollback's compact form (:class:`ScrollRow`): a row is
``[text, runs, fill, width, wrapped, default]``, ``text`` a string or a list of cell strings,
``runs`` ``[[first column, style], ...]``, ``fill`` and ``default`` (the blank a screen line
shows where nothing was written) ``[text, style]`` or null; a style is an index into the
state's ``styles``, each ``[fg, bg, bold, italics, underscore, strikethrough, reverse, blink,
hidden, dim]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pyte
from pyte.screens import Margins

from .charsets import CHARSET_MAPS
from .colours import TermColours
from .screen import TermScreen
from .scrollback import Char, Line, ScrollRow, build_row, fill_line, make_row, row_from_line

#: The version of the form below; another one is not read.
FORMAT = 1
#: The longest colour name or hex string a style may hold, and title.
_MAX_COLOUR = 32
_MAX_TITLE = 1024
_STYLE_FIELDS = len(Char._fields) - 1
#: The most code points one cell holds (a character and its combining marks).
_MAX_CELL = 32


class SnapshotError(ValueError):
    """A state that is not one :func:`dump` writes (damaged, hostile, another format)."""


# -- dumping ---------------------------------------------------------------------------------------


class _Styles:
    """The styles table of a state: each distinct attribute tuple once."""

    def __init__(self) -> None:
        self.index: dict[tuple[Any, ...], int] = {}

    def __call__(self, style: tuple[Any, ...]) -> int:
        got = self.index.get(style)
        if got is None:
            got = self.index[style] = len(self.index)
        return got

    def char(self, char: Any) -> list[Any] | None:
        return None if char is None else [char[0], self(tuple(char)[1:])]

    def table(self) -> list[list[Any]]:
        return [list(s) for s in self.index]


def _row(row: ScrollRow, styles: _Styles, default: Any = None) -> list[Any]:
    text = row.text if isinstance(row.text, str) else list(row.text)
    runs = [[start, styles(style)] for start, style in row.runs]
    out = [text, runs, styles.char(row.fill), row.width, int(row.wrapped)]
    if default is not None:
        out.append(styles.char(default))
    return out


def _screen_rows(buffer: dict[int, Line], cols: int, rows: int) -> list[tuple[ScrollRow, Any]]:
    """The screen's lines as (row, the line's blank), immutable: safe to encode elsewhere."""
    out = []
    for y in range(rows):
        line = buffer[y]
        out.append((row_from_line(line, cols, line.wrapped), line.default))
    return out


def _charset_code(table: Any) -> str:
    for code, known in CHARSET_MAPS.items():
        if known is table:
            return code
    return "B"


def _savepoint(point: Any, styles: _Styles) -> list[Any] | None:
    if point is None:
        return None
    c = point.cursor
    return [
        c.x,
        c.y,
        styles(tuple(c.attrs)[1:]),
        bool(c.hidden),
        _charset_code(point.g0_charset),
        _charset_code(point.g1_charset),
        int(point.charset),
        bool(point.origin),
        bool(point.wrap),
    ]


class Captured:
    """The state of a screen at one moment, to be encoded later (in any thread: it holds only
    immutable rows and copies). Taking it is cheap; encoding it is not."""

    def __init__(self, screen: TermScreen) -> None:
        cols, rows = screen.columns, screen.lines
        sb = screen.scrollback
        self.back_rows, self.back_ctx = list(sb._rows), list(sb._ctx)
        self.lines = _screen_rows(screen.buffer, cols, rows)
        other = screen._other_buffer
        self.other_lines = None if other is None else _screen_rows(other, cols, rows)
        cursor = screen.cursor
        self.cursor_at = (cursor.x, cursor.y, tuple(cursor.attrs)[1:], bool(cursor.hidden))
        self.saved = [screen._saved[False], screen._saved[True]]
        margins = screen.margins
        self.plain: dict[str, Any] = {
            "format": FORMAT,
            "cols": cols,
            "rows": rows,
            "alternate": screen.alternate,
            "modes": sorted(screen.mode),
            "margins": None if margins is None else [margins.top, margins.bottom],
            "hmargins": None if screen.hmargins is None else list(screen.hmargins),
            "wrap_pending": screen.wrap_pending,
            "tabstops": sorted(screen.tabstops),
            "charsets": [_charset_code(screen.g0_charset), _charset_code(screen.g1_charset)],
            "shift": int(screen.charset),
            "cursor_shape": screen.cursor_shape,
            "cursor_blink": screen.cursor_blink,
            "keypad_application": screen.keypad_application,
            "title": screen.title,
            "icon_name": screen.icon_name,
            "title_stack": [list(entry) for entry in screen._title_stack],
            "colours": screen.colours.dump(),
        }

    def screen_part(self, styles: _Styles) -> dict[str, Any]:
        """Everything but the scrollback and the styles table."""
        state = dict(self.plain)
        state["lines"] = [_row(r, styles, d) for r, d in self.lines]
        other = self.other_lines
        state["other"] = None if other is None else [_row(r, styles, d) for r, d in other]
        x, y, style, hidden = self.cursor_at
        state["cursor"] = [x, y, styles(style), hidden]
        state["saved"] = [_savepoint(self.saved[0], styles), _savepoint(self.saved[1], styles)]
        return state

    def scrollback(self) -> Iterator[tuple[Any, Callable[[], ScrollRow]]]:
        """Each scrollback row as (a key equal for equal rows, a function building it)."""
        for r, ctx in zip(self.back_rows, self.back_ctx, strict=True):
            if ctx is None:
                yield r, lambda r=r: r  # type: ignore[misc]
            else:
                yield (r, ctx), lambda r=r, ctx=ctx: build_row(r, ctx)  # type: ignore[misc]

    def encode(self) -> dict[str, Any]:
        """The state as JSON-ready data."""
        styles = _Styles()
        state = self.screen_part(styles)
        state["scrollback"] = [_row(make(), styles) for _, make in self.scrollback()]
        state["styles"] = styles.table()
        return state


class Encoder:
    """Turns captured states into JSON text, one after another, remembering the rows of the
    last one: scrollback rows never change, so a save after more output encodes only the new
    rows (the styles table is kept across saves, and started afresh when it grows large)."""

    #: Styles kept across saves before the table starts afresh.
    MAX_STYLES = 1 << 14

    def __init__(self) -> None:
        self.styles = _Styles()
        self.rows: dict[Any, str] = {}

    def json(self, captured: Captured, max_bytes: int = 1 << 62) -> str:
        """The state as JSON text; past ``max_bytes`` the oldest scrollback rows are left out."""
        if len(self.styles.index) > self.MAX_STYLES:
            self.styles, self.rows = _Styles(), {}
        styles, known = self.styles, self.rows
        fresh: dict[Any, str] = {}
        for key, make in captured.scrollback():
            text = known.get(key)
            if text is None:
                text = json.dumps(_row(make(), styles), ensure_ascii=False, separators=(",", ":"))
            fresh[key] = text
        self.rows = fresh
        state = captured.screen_part(styles)
        state["styles"] = styles.table()
        head = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        rows = [fresh[key] for key, _ in captured.scrollback()]
        room = max_bytes - len(head) - 100  # and the envelope around it
        first = len(rows)
        while first and room - len(rows[first - 1]) - 1 >= 0:
            first -= 1
            room -= len(rows[first]) + 1
        return head[:-1] + ',"scrollback":[' + ",".join(rows[first:]) + "]}"


def capture(screen: TermScreen) -> Captured:
    """The state of ``screen`` now (see :class:`Captured`)."""
    return Captured(screen)


def dump(screen: TermScreen) -> dict[str, Any]:
    """The state of ``screen`` (see the module docstring)."""
    return capture(screen).encode()


# -- loading ---------------------------------------------------------------------------------------


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise SnapshotError(what)


def _int(value: Any, low: int, high: int, what: str) -> int:
    _check(type(value) is int and low <= value <= high, f"{what}: not an integer in range")
    return int(value)


def _bool(value: Any, what: str) -> bool:
    _check(type(value) is bool or value in (0, 1), f"{what}: not a boolean")
    return bool(value)


def _str(value: Any, limit: int, what: str) -> str:
    _check(isinstance(value, str) and len(value) <= limit, f"{what}: not a string")
    return str(value)


def _styles(raw: Any) -> list[tuple[Any, ...]]:
    _check(isinstance(raw, list) and len(raw) <= 1 << 20, "styles: not a list")
    out = []
    for s in raw:
        _check(isinstance(s, list) and len(s) == _STYLE_FIELDS, "a style of the wrong length")
        fg = _str(s[0], _MAX_COLOUR, "fg")
        bg = _str(s[1], _MAX_COLOUR, "bg")
        out.append((fg, bg, *(_bool(b, "attribute") for b in s[2:])))
    return out


class _Loader:
    def __init__(self, styles: list[tuple[Any, ...]], max_width: int) -> None:
        self.styles = styles
        self.max_width = max_width

    def style(self, i: Any) -> tuple[Any, ...]:
        return self.styles[_int(i, 0, len(self.styles) - 1, "style index")]

    def attrs(self, i: Any) -> Any:
        """A cursor's attributes (a blank cell of style ``i``)."""
        return Char(" ", *self.style(i))

    def char(self, raw: Any) -> Char | None:
        if raw is None:
            return None
        _check(isinstance(raw, list) and len(raw) == 2, "a cell: not [text, style]")
        text = _str(raw[0], _MAX_CELL, "a cell's text")
        return Char(text, *self.style(raw[1]))

    def row(self, raw: Any) -> tuple[ScrollRow, Char | None]:
        _check(isinstance(raw, list) and len(raw) in (5, 6), "a row: not a list of 5 or 6")
        text, runs, fill, width, wrapped = raw[:5]
        width = _int(width, 1, self.max_width, "row width")
        if isinstance(text, list):
            cells = [_str(c, _MAX_CELL, "a cell") for c in text]
        else:
            cells = list(_str(text, width, "row text"))
        _check(len(cells) <= width, "row text longer than the row")
        _check(isinstance(runs, list) and len(runs) <= width, "runs: not a list")
        pieces: list[tuple[str | list[str], tuple[Any, ...]]] = []
        starts = []
        for run in runs:
            _check(isinstance(run, list) and len(run) == 2, "a run: not [column, style]")
            starts.append(_int(run[0], 0, max(0, len(cells) - 1), "run start"))
        _check(starts == sorted(set(starts)) and (not cells or starts[:1] == [0]), "bad runs")
        for i, run in enumerate(runs):
            stop = starts[i + 1] if i + 1 < len(starts) else len(cells)
            pieces.append((cells[starts[i] : stop], self.style(run[1])))
        fill_char = self.char(fill)
        _check(fill_char is not None or len(cells) == width, "a short row without a fill")
        default = self.char(raw[5]) if len(raw) == 6 else None
        blank = fill_char or Char(" ")
        row = make_row(pieces, width, blank, _bool(wrapped, "wrapped"))
        return row, default

    def lines(self, raw: Any, rows: int, cols: int, blank: Char) -> dict[int, Line]:
        _check(isinstance(raw, list) and len(raw) == rows, "screen lines: wrong count")
        buffer: dict[int, Line] = {}
        for y, item in enumerate(raw):
            row, default = self.row(item)
            _check(row.width == cols, "a screen line of the wrong width")
            line = Line(default or blank)
            fill_line(line, row)
            line.wrapped = row.wrapped
            buffer[y] = line
        return buffer

    def savepoint(self, raw: Any, cols: int, rows: int) -> pyte.screens.Savepoint | None:
        if raw is None:
            return None
        _check(isinstance(raw, list) and len(raw) == 9, "a saved cursor: not a list of 9")
        x = _int(raw[0], 0, cols, "saved x")
        y = _int(raw[1], 0, rows - 1, "saved y")
        cursor = pyte.screens.Cursor(x, y, self.attrs(raw[2]))
        cursor.hidden = _bool(raw[3], "saved hidden")
        return pyte.screens.Savepoint(
            cursor,
            _charset(raw[4]),
            _charset(raw[5]),
            _int(raw[6], 0, 1, "saved shift"),
            _bool(raw[7], "saved origin"),
            _bool(raw[8], "saved wrap"),
        )


def _stacked_title(entry: Any) -> tuple[str, str]:
    """A title stack entry: [icon name, title] (a bare title from an older file: both)."""
    if isinstance(entry, str):
        text = _str(entry, _MAX_TITLE, "a stacked title")
        return text, text
    _check(isinstance(entry, list) and len(entry) == 2, "a stacked title: not a pair")
    return (
        _str(entry[0], _MAX_TITLE, "a stacked icon name"),
        _str(entry[1], _MAX_TITLE, "a stacked title"),
    )


def _charset(code: Any) -> Any:
    _check(isinstance(code, str) and code in CHARSET_MAPS, "an unknown character set")
    return CHARSET_MAPS[code]


def _columns_state(
    state: dict[str, Any], cursor: pyte.screens.Cursor, cols: int
) -> tuple[tuple[int, int] | None, bool]:
    """The left and right margins and the pending wrap. Files written before they were kept
    have neither: the full width, and a pending wrap as the cursor one column past the last
    (then moved onto it)."""
    raw = state.get("hmargins")
    hmargins = None
    if raw is not None:
        _check(isinstance(raw, list) and len(raw) == 2, "hmargins: not a pair")
        left = _int(raw[0], 0, cols - 2, "left margin")
        hmargins = (left, _int(raw[1], left + 1, cols - 1, "right margin"))
    pending = _bool(state.get("wrap_pending", False), "wrap pending")
    if cursor.x >= cols:
        cursor.x, pending = cols - 1, True
    return hmargins, pending


def load(screen: TermScreen, state: Any) -> None:
    """Put ``state`` (from :func:`dump`) into ``screen``, a fresh one of any size; SnapshotError
    (the screen untouched) when it is not exactly such a state."""
    _check(isinstance(state, dict), "not an object")
    _check(state.get("format") == FORMAT, f"format {state.get('format')!r}, not {FORMAT}")
    cols = _int(state.get("cols"), 2, 1000, "cols")
    rows = _int(state.get("rows"), 1, 500, "rows")
    loader = _Loader(_styles(state.get("styles")), 1000)
    blank = Char(" ")
    sb_raw = state.get("scrollback")
    _check(isinstance(sb_raw, list), "scrollback: not a list")
    keep = screen.scrollback.maxlen
    scrollback = [loader.row(r)[0] for r in sb_raw[-keep:]] if keep else []
    lines = loader.lines(state.get("lines"), rows, cols, blank)
    other_raw = state.get("other")
    other = None if other_raw is None else loader.lines(other_raw, rows, cols, blank)
    cur = state.get("cursor")
    _check(isinstance(cur, list) and len(cur) == 4, "cursor: not a list of 4")
    cursor = pyte.screens.Cursor(
        _int(cur[0], 0, cols, "cursor x"),
        _int(cur[1], 0, rows - 1, "cursor y"),
        loader.attrs(cur[2]),
    )
    cursor.hidden = _bool(cur[3], "cursor hidden")
    saved = state.get("saved")
    _check(isinstance(saved, list) and len(saved) == 2, "saved: not a list of 2")
    saved_points = [loader.savepoint(p, cols, rows) for p in saved]
    modes = state.get("modes")
    _check(isinstance(modes, list) and len(modes) <= 256, "modes: not a list")
    mode_set = {_int(m, 0, 1 << 24, "mode") for m in modes}
    margins = state.get("margins")
    if margins is not None:
        _check(isinstance(margins, list) and len(margins) == 2, "margins: not a pair")
        top = _int(margins[0], 0, rows - 1, "top margin")
        margins = Margins(top, _int(margins[1], top, rows - 1, "bottom margin"))
    hmargins, wrap_pending = _columns_state(state, cursor, cols)
    tabs = state.get("tabstops")
    _check(isinstance(tabs, list) and len(tabs) <= cols, "tabstops: not a list")
    tabstops = {_int(t, 0, cols - 1, "tab stop") for t in tabs}
    charsets = state.get("charsets")
    _check(isinstance(charsets, list) and len(charsets) == 2, "charsets: not a pair")
    g0, g1 = _charset(charsets[0]), _charset(charsets[1])
    shift = _int(state.get("shift"), 0, 1, "shift")
    shape = state.get("cursor_shape")
    _check(shape in ("block", "underline", "bar"), "cursor shape")
    blink = _bool(state.get("cursor_blink"), "cursor blink")
    keypad = _bool(state.get("keypad_application"), "keypad")
    alternate = _bool(state.get("alternate"), "alternate")
    _check(not alternate or other is not None, "the alternate screen without the main one")
    title = _str(state.get("title"), _MAX_TITLE, "title")
    stack = state.get("title_stack")
    _check(isinstance(stack, list) and len(stack) <= 10, "title stack: not a list")
    titles = [_stacked_title(t) for t in stack]
    icon = _str(state.get("icon_name", title), _MAX_TITLE, "icon name")
    colours = TermColours()
    try:
        colours.load(state.get("colours", {}))  # a state saved before colours were kept has none
    except ValueError as e:
        raise SnapshotError(str(e)) from None
    # every field checked: now change the screen
    screen.resize(rows, cols)
    screen.scrollback.clear()
    screen.scrollback.extend(scrollback)
    screen.buffer.clear()
    screen.buffer.update(lines)
    screen._other_buffer = None
    if other is not None:
        screen._other_buffer = screen._new_buffer()
        screen._other_buffer.update(other)
    screen.alternate = alternate
    screen.cursor = cursor
    screen._saved = {False: saved_points[0], True: saved_points[1]}
    screen.mode = mode_set
    screen.margins = margins
    screen.hmargins, screen.wrap_pending = hmargins, wrap_pending
    screen.tabstops = tabstops
    screen.g0_charset, screen.g1_charset = g0, g1
    screen.charset = shift
    screen.cursor_shape, screen.cursor_blink = str(shape), blink
    screen.keypad_application = keypad
    screen.title, screen.title_changed = title, bool(title)
    screen.icon_name = icon
    screen._title_stack = titles
    screen.colours = colours
    screen.rows_clean = False
    screen.dirty.update(range(rows))


def note_row(text: str, width: int) -> ScrollRow:
    """A row of vncterm's own (in reverse video) for the scrollback, cut to ``width``."""
    text = "".join(c if c.isprintable() and ord(c) < 0x300 else "?" for c in text)[:width]
    style = tuple(Char(" ", reverse=True))[1:]
    return make_row([(text.ljust(width), style)], width, Char(" ", reverse=True), False)


def add_note(screen: TermScreen, text: str) -> None:
    """Append vncterm's own line ``text`` to the scrollback (above the screen)."""
    screen.scrollback.append(note_row(text, screen.columns))
    screen.scrollback_appended += 1
