"""The terminal model: pyte's Screen, extended with what real programs use and pyte 0.8.2 lacks.

``Emulator.feed(bytes)`` decodes console output (UTF-8, CP437 or Latin-1) and parses it with our
own parser (``parser.py``) into ``TermScreen``, a pyte Screen subclass that adds the alternate
screen (modes 47/1047/1049), CSI S/T scrolling, SGR 2/8 (faint, hidden) with colon
sub-parameters, DECSCUSR cursor shapes, DECCOLM, window titles (OSC 0/2 and the title stack),
REP, CBT, DECSTR, the DEC line-drawing character set in UTF-8 mode, background colour erase,
and wide/zero-width character handling that never loses text.

Replies the terminal owes the program (device attributes, status and cursor position reports,
colour queries: OSC 4/10/11) collect for the session to write back to the console; bells are
counted; title changes and program-driven resizes (DECCOLM) are queued for the server.

Lines leaving the top of the main screen go to a capped scrollback of ``ScrollRow``
(``scrollback.py``; the rule is in :meth:`TermScreen.push_rows`), and every screen row carries
a ``wrapped`` flag. Fast paths (bulk drawing from shared cells, an SGR cache, and the flood skim
of ``flood.py``, which turns text that would scroll away unseen into rows without drawing it)
are on by default; ``fast=False`` is the reference model they are tested against.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections import defaultdict
from typing import Any

import pyte
from pyte import modes as mo
from pyte.screens import Margins
from wcwidth import wcwidth

from .charsets import CHARSET_MAPS, canonical, make_decoder
from .colours import DEFAULT_BG, DEFAULT_FG, PALETTE_256
from .parser import Parser
from .scrollback import (
    CellCache,
    Char,
    Line,
    Scrollback,
    ScrollRow,
    cells_for,
    row_from_line,
)
from .widths import WIDTHS, char_width

#: pyte keeps private (DEC) modes shifted left by 5 bits.
DECCKM = 1 << 5
BRACKETED_PASTE = 2004 << 5
_ALT_MODES = {47 << 5, 1047 << 5, 1049 << 5}
_SAVE_CURSOR_MODE = 1048 << 5

#: DECSCUSR parameter -> (shape, blinking).
CURSOR_STYLES: dict[int, tuple[str, bool]] = {
    0: ("block", True),
    1: ("block", True),
    2: ("block", False),
    3: ("underline", True),
    4: ("underline", False),
    5: ("bar", True),
    6: ("bar", False),
}
_MAX_TITLE = 1024
#: The longest SGR parameter string the SGR cache keeps (a hostile one may be 64 KiB).
_SGR_CACHE_KEY = 64
_MAX_CLIPBOARD = 1 << 20
_TITLE_STACK = 10
_NAMES = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")


__all__ = ["Char", "Emulator", "Line", "ScrollRow", "TermScreen"]


#: The xterm 256-colour palette as pyte spells colours (six hex digits).
_PALETTE: list[str] = list(pyte.graphics.FG_BG_256)
_SGR_FLAGS: dict[int, tuple[str, bool]] = {
    1: ("bold", True),
    2: ("dim", True),
    3: ("italics", True),
    4: ("underscore", True),
    5: ("blink", True),
    6: ("blink", True),
    7: ("reverse", True),
    8: ("hidden", True),
    9: ("strikethrough", True),
    21: ("underscore", True),
    23: ("italics", False),
    24: ("underscore", False),
    25: ("blink", False),
    27: ("reverse", False),
    28: ("hidden", False),
    29: ("strikethrough", False),
}


#: The largest numeric parameter (larger ones clamp to it, as xterm clamps to its own limit).
MAX_PARAM = 9999
#: Parameters (``;`` groups) read from one CSI, and sub-parameters (``:``) from one group; the
#: rest are ignored, as xterm ignores those beyond its 30.
MAX_PARAMS = 30
MAX_SUBPARAMS = 16


def number(text: str, cap: int = MAX_PARAM) -> int | None:
    """``text`` as a decimal number clamped to ``cap``; None unless it is ASCII digits.

    The digits' count is checked before ``int()``, which refuses strings of more than 4300
    digits (and a guest may send 5000)."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    return min(int(digits), cap) if len(digits) <= len(str(cap)) else cap


def _params(raw: str) -> list[list[int | None]]:
    """``"38:2::1:2:3;1"`` -> ``[[38, 2, None, 1, 2, 3], [1]]`` (values clamped to MAX_PARAM,
    at most MAX_PARAMS groups of at most MAX_SUBPARAMS values)."""
    return [
        [number(v) for v in group.split(":", MAX_SUBPARAMS)[:MAX_SUBPARAMS]]
        for group in raw.split(";", MAX_PARAMS)[:MAX_PARAMS]
    ]


def _clean_title(text: str) -> str:
    text = "".join(c for c in text if unicodedata.category(c) != "Cc")
    return text[:_MAX_TITLE]


class TermScreen(pyte.Screen):
    """pyte's Screen with the emulation gaps closed (see the module docstring)."""

    # Cells are our Char (pyte's fields plus hidden and dim).
    buffer: dict[int, Line]  # type: ignore[assignment]
    cursor: Any

    def __init__(
        self,
        columns: int,
        lines: int,
        allow_column_mode: bool = False,
        scrollback: int = 10000,
        fast: bool = True,
        scrollback_memory: int = 64 << 20,
    ) -> None:
        #: Lines that scrolled off the top of the main screen, oldest first (see push_rows).
        self.scrollback = Scrollback(scrollback, scrollback_memory)
        #: Rows ever appended to the scrollback (it only grows; rows beyond the cap drop out).
        self.scrollback_appended = 0
        #: Bumped when the scrollback is cleared (ED 3): positions into it are void.
        self.scrollback_generation = 0
        #: The fast paths (bulk drawing, SGR cache, the flood skim); False is the reference.
        self.fast = fast
        #: Every ``Line.row`` on the screen is true (see Line); the parser clears this when it
        #: runs anything but plain text, CR, LF, TAB, BEL and SGR.
        self.rows_clean = False
        self._cells_attrs: Any = None
        self._cells_cache: CellCache | None = None
        self._sgr_cache: dict[tuple[str, Any, bool], Any] = {}
        self.replies = bytearray()
        self.bells = 0
        self.title = ""
        self.title_changed = False
        self.clipboard: str | None = None  # set by OSC 52, taken by the session
        self.allow_column_mode = allow_column_mode
        self.resize_request: tuple[int, int] | None = None
        self.cursor_shape = "block"
        self.cursor_blink = True
        self.keypad_application = False
        self._title_stack: list[str] = []
        self._other_buffer: dict[int, Line] | None = None
        self._saved: dict[bool, pyte.screens.Savepoint | None] = {False: None, True: None}
        self._saved_1049: pyte.screens.Savepoint | None = None
        self._last_char = ""
        self.alternate = False
        super().__init__(columns, lines)
        self.buffer = self._new_buffer()

    # -- state -----------------------------------------------------------------------------------

    @property
    def default_char(self) -> Char:  # type: ignore[override]
        return Char(data=" ", reverse=mo.DECSCNM in self.mode)

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
        return Char(" ", bg=attrs.bg, reverse=mo.DECSCNM in self.mode)

    @property
    def display(self) -> list[str]:
        """The screen as text, one string per line (wide characters once, stubs skipped)."""
        out = []
        for y in range(self.lines):
            line = self.buffer[y]
            out.append("".join(line[x].data for x in range(self.columns)))
        return out

    def reset(self) -> None:
        """RIS: everything back to power-on state, on the main screen."""
        if getattr(self, "alternate", False) and self._other_buffer is not None:
            self.buffer = self._other_buffer
        self._other_buffer = None
        self.alternate = False
        title = getattr(self, "title", "")
        super().reset()
        self.title = title  # RIS keeps the window title (xterm does)
        self.cursor.attrs = self.default_char
        self.g0_charset = self.g1_charset = None  # type: ignore[assignment]
        self._saved = {False: None, True: None}
        self._saved_1049 = None
        self.cursor_shape, self.cursor_blink = "block", True
        self.keypad_application = False
        self._last_char = ""

    def soft_reset(self) -> None:
        """DECSTR: modes, margins, attributes and the saved cursor to defaults; text stays."""
        self.mode.difference_update({mo.IRM, mo.DECOM, DECCKM})
        self.mode.update({mo.DECAWM, mo.DECTCEM})
        self.cursor.hidden = False
        self.margins = None
        self.charset = 0
        self.g0_charset = self.g1_charset = None  # type: ignore[assignment]
        self.cursor.attrs = self.default_char
        self._saved[self.alternate] = None
        self.keypad_application = False

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Change the size; lines that no longer fit are dropped from the top (both screens)."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        self.rows_clean = False
        buffers = [self.buffer] + ([self._other_buffer] if self._other_buffer is not None else [])
        if lines < self.lines:
            shift = max(0, self.cursor.y - (lines - 1))  # keep the cursor's line
            main = self._other_buffer if self.alternate else self.buffer
            if shift and main is not None:
                self.push_rows([main[y] for y in range(shift)])
            for i, buf in enumerate(buffers):
                if shift:
                    moved = {y - shift: line for y, line in buf.items() if y >= shift}
                    buf.clear()
                    buf.update(moved)
                for y in [y for y in buf if y >= lines]:
                    del buf[y]
                if i == 0:
                    self.cursor.y -= shift
        if columns < self.columns:
            for buf in buffers:
                for line in buf.values():
                    for x in [x for x in line if x >= columns]:
                        del line[x]
        self.lines, self.columns = lines, columns
        self.margins = None
        self.tabstops = {t for t in self.tabstops if t < columns} | set(
            range(max(8, (self.columns // 8) * 8), columns, 8)
        )
        self.cursor.x = min(self.cursor.x, columns - 1)
        self.cursor.y = min(max(self.cursor.y, 0), lines - 1)
        self.dirty.update(range(lines))

    # -- parser entry points ---------------------------------------------------------------------

    def control(self, c: str) -> None:
        """A C0 control character."""
        if c == "\n" or c == "\x0b" or c == "\x0c":
            self.linefeed()
        elif c == "\r":
            self.carriage_return()
        elif c == "\x08":
            self.backspace()
        elif c == "\t":
            self.tab()
        elif c == "\x07":
            self.bell()
        elif c == "\x0e":
            self.shift_out()
        elif c == "\x0f":
            self.shift_in()

    def esc(self, inter: str, final: str) -> None:
        """``ESC [intermediates] final``."""
        if not inter:
            handler = {
                "7": self.save_cursor,
                "8": self.restore_cursor,
                "D": self.index,
                "E": self._next_line,
                "M": self.reverse_index,
                "H": self.set_tab_stop,
                "c": self.reset,
            }.get(final)
            if handler is not None:
                handler()
            elif final == "=":
                self.keypad_application = True
            elif final == ">":
                self.keypad_application = False
        elif inter in "()*+" and len(inter) == 1:
            if inter in "()":
                self.define_charset(final, inter)
        elif inter == "#" and final == "8":
            self.alignment_display()

    def osc(self, body: str, terminator: str = "\x1b\\") -> None:
        """An operating system command: window title and icon name, clipboard, colour queries
        (answered with ``terminator``, the one the query ended with)."""
        code, _, text = body.partition(";")
        if code in ("0", "2"):
            self.set_title(text)
        if code in ("0", "1"):
            self.set_icon_name(text)
        if code == "52":
            self._set_clipboard(text)
        elif code == "4":
            self._palette_query(text, terminator)
        elif code in ("10", "11"):
            self._dynamic_colour_query(int(code), text, terminator)

    def _palette_query(self, text: str, terminator: str) -> None:
        """OSC 4 ``; index ; ? ...``: each queried palette entry, one reply apiece, as
        ``OSC 4 ; index ; rgb:RRRR/GGGG/BBBB``. Setting entries is not supported."""
        params = text.split(";", 2 * len(PALETTE_256))[: 2 * len(PALETTE_256)]  # one per entry
        for index, spec in zip(params[::2], params[1::2], strict=False):
            entry = number(index)
            if spec == "?" and entry is not None and entry < 256:
                rgb = _xrgb(PALETTE_256[entry])
                self.write_process_input(f"\x1b]4;{entry};{rgb}{terminator}")

    def _dynamic_colour_query(self, code: int, text: str, terminator: str) -> None:
        """OSC 10/11 ``; ?``: the default foreground / background. Further parameters go to the
        following colours (``OSC 10 ; ? ; ?`` asks for both), as in xterm."""
        colours = {10: DEFAULT_FG, 11: DEFAULT_BG}
        for i, spec in enumerate(text.split(";")):
            if spec == "?" and code + i in colours:
                rgb = _xrgb(colours[code + i])
                self.write_process_input(f"\x1b]{code + i};{rgb}{terminator}")

    def _set_clipboard(self, text: str) -> None:
        """OSC 52 ``Pc ; base64``: the program sets the clipboard. Queries (``?``) are not
        answered: a program may not read the viewers' clipboards."""
        _, _, data = text.partition(";")
        if data == "?" or len(data) > 4 * (_MAX_CLIPBOARD // 3) + 4:
            return
        try:
            self.clipboard = base64.b64decode(data, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return

    def csi(self, raw: str, inter: str, final: str) -> None:
        """``CSI params [intermediates] final``."""
        if (
            final == "m"
            and not inter
            and self.fast
            and len(raw) <= _SGR_CACHE_KEY
            and not (raw and raw[0] in "<=>?")
        ):
            key = (raw, self.cursor.attrs, mo.DECSCNM in self.mode)
            attrs = self._sgr_cache.get(key)
            if attrs is None:
                self.select_graphic_rendition_params(_params(raw) if raw else [[None]])
                if len(self._sgr_cache) > 1024:
                    self._sgr_cache.clear()
                self._sgr_cache[key] = self.cursor.attrs
            else:
                self.cursor.attrs = attrs
            return
        prefix = ""
        if raw and raw[0] in "<=>?":
            prefix, raw = raw[0], raw[1:]
        params: list[list[int | None]] = _params(raw) if raw else [[None]]
        args = [group[0] or 0 for group in params]
        first = args[0]
        if inter:
            if inter == " " and final == "q" and not prefix:
                self.cursor_shape, self.cursor_blink = CURSOR_STYLES.get(
                    first, (self.cursor_shape, self.cursor_blink)
                )
            elif inter == "!" and final == "p":
                self.soft_reset()
            return
        if prefix == "?":
            if final == "h":
                self.set_mode(*args, private=True)
            elif final == "l":
                self.reset_mode(*args, private=True)
            elif final == "J":
                self.erase_in_display(first)
            elif final == "K":
                self.erase_in_line(first)
            return
        if prefix == ">":
            if final == "c" and first == 0:
                self.write_process_input("\x1b[>0;10;1c")
            return
        if prefix:
            return
        if final == "m":
            self.select_graphic_rendition_params(params)
            return
        handler = _CSI_HANDLERS.get(final)
        if handler is not None:
            handler(self, args)

    # -- text ------------------------------------------------------------------------------------

    def define_charset(self, code: str, mode: str) -> None:
        if code in CHARSET_MAPS:
            table = CHARSET_MAPS[code]
            if mode == "(":
                self.g0_charset = table  # type: ignore[assignment]
            elif mode == ")":
                self.g1_charset = table  # type: ignore[assignment]

    def draw(self, data: str) -> None:
        """Write text at the cursor: wrapping, wide characters, zero-width ones on their base."""
        table = self.g1_charset if self.charset else self.g0_charset
        if table is not None and not isinstance(table, str):
            data = data.translate(table)
        if not self.fast:
            self._draw_reference(data)
        elif data.isascii() and mo.IRM not in self.mode:
            self._draw_ascii(data)
        else:
            self._draw_chars(data)

    def _autowrap(self) -> None:
        """Autowrap: CR LF from the cursor's row, which is then marked as wrapped."""
        y = self.cursor.y
        line = self.buffer[y]
        self.dirty.add(y)
        line.wrapped = True  # before the line feed: it may take the line into the scrollback
        self.carriage_return()
        self.linefeed()
        if self.cursor.y == y and self.buffer[y] is line:
            line.wrapped = False  # below the scroll region at the bottom: nowhere to wrap to

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
        columns = self.columns
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
                continue
            if cursor.x + width > columns:
                if wrap:
                    if cursor.x < columns and width == 2:
                        line[cursor.x] = attrs._replace(data=" ")
                    self._autowrap()
                    line = self.buffer[cursor.y]
                else:
                    cursor.x = columns - width
            if insert:
                self.insert_characters(width)
            x = cursor.x
            self._unsplit(line, x, width)
            line[x] = attrs._replace(data=char)
            if width == 2:
                line[x + 1] = attrs._replace(data="")
            cursor.x = x + width
            self._last_char = char
        self.dirty.add(cursor.y)

    def _draw_chars(self, data: str) -> None:
        """``_draw_reference`` with cached widths and shared cells."""
        cursor = self.cursor
        columns = self.columns
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
                continue
            if cursor.x + width > columns:
                if wrap:
                    if cursor.x < columns and width == 2:
                        line[cursor.x] = cells[" "]
                    self._autowrap()
                    line = self.buffer[cursor.y]
                else:
                    cursor.x = columns - width
            if insert:
                self.insert_characters(width)
            x = cursor.x
            self._unsplit(line, x, width)
            line[x] = cells[char]
            if width == 2:
                line[x + 1] = cells[""]
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
            if cursor.x >= columns:
                if wrap:
                    self._autowrap()
                else:
                    cursor.x = columns - 1
            line = self.buffer[cursor.y]
            x = cursor.x
            take = min(n - pos, columns - x)
            self._unsplit(line, x, take)
            line.update(zip(range(x, x + take), map(get, data[pos : pos + take]), strict=True))
            pos += take
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
        x, y = self.cursor.x - 1, self.cursor.y
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

    # -- erasing and scrolling (background colour erase) -----------------------------------------

    def erase_characters(self, count: int | None = None) -> None:
        self.dirty.add(self.cursor.y)
        line = self.buffer[self.cursor.y]
        blank = self._erase_char()
        for x in range(self.cursor.x, min(self.cursor.x + (count or 1), self.columns)):
            line[x] = blank

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        y, x = self.cursor.y, min(self.cursor.x, self.columns - 1)
        self.dirty.add(y)
        blank = self._erase_char()
        if how == 2:
            self.buffer[y] = Line(blank)
            return
        line = self.buffer[y]
        if how == 0:
            line.wrapped = False
        for i in range(x, self.columns) if how == 0 else range(x + 1) if how == 1 else ():
            line[i] = blank

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        if how == 3:
            self.clear_scrollback()  # the screen stays (xterm)
            return
        if how == 0:
            rows = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            rows = range(self.cursor.y)
        elif how == 2:
            rows = range(self.lines)
        else:
            return
        blank = self._erase_char()
        for y in rows:
            self.buffer[y] = Line(blank)
        self.dirty.update(rows)
        if how in (0, 1):
            self.erase_in_line(how)

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

    def _next_line(self) -> None:
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

    def alignment_display(self) -> None:
        """DECALN: fill the screen with E, reset the margins, home the cursor."""
        self.margins = None
        e = Char("E", reverse=mo.DECSCNM in self.mode)
        for y in range(self.lines):
            self.buffer[y] = Line(e)
        self.dirty.update(range(self.lines))
        self.cursor.x = self.cursor.y = 0

    def back_tab(self, count: int | None = None) -> None:
        """CBT: back to the previous tab stop, ``count`` times."""
        for _ in range(count or 1):
            stops = [t for t in self.tabstops if t < self.cursor.x]
            self.cursor.x = max(stops) if stops else 0

    def tab(self) -> None:
        stops = [t for t in self.tabstops if t > self.cursor.x]
        self.cursor.x = min(stops) if stops else self.columns - 1

    # -- modes -----------------------------------------------------------------------------------

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        private = bool(kwargs.get("private"))
        shifted = [m << 5 for m in modes] if private else list(modes)
        rest = []
        for mode in shifted:
            if mode in _ALT_MODES:
                if mode == 1049 << 5:
                    self._saved_1049 = self._savepoint()
                    self._switch_screen(True)
                    self.erase_in_display(2)
                else:
                    self._switch_screen(True)
            elif mode == _SAVE_CURSOR_MODE:
                self._saved_1049 = self._savepoint()
            elif mode == mo.DECCOLM:
                self._column_mode(132)
            else:
                rest.append(mode)
        if rest:
            super().set_mode(*rest)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        private = bool(kwargs.get("private"))
        shifted = [m << 5 for m in modes] if private else list(modes)
        rest = []
        for mode in shifted:
            if mode in _ALT_MODES:
                if mode == 1047 << 5 and self.alternate:
                    self.erase_in_display(2)
                self._switch_screen(False)
                if mode == 1049 << 5:
                    self._restore(self._saved_1049)
            elif mode == _SAVE_CURSOR_MODE:
                self._restore(self._saved_1049)
            elif mode == mo.DECCOLM:
                self._column_mode(80)
            else:
                rest.append(mode)
        if rest:
            super().reset_mode(*rest)

    def _switch_screen(self, alternate: bool) -> None:
        if alternate == self.alternate:
            return
        other = self._other_buffer if self._other_buffer is not None else self._new_buffer()
        self._other_buffer = self.buffer
        self.buffer = other
        self.alternate = alternate
        self.dirty.update(range(self.lines))

    def _column_mode(self, columns: int) -> None:
        """DECCOLM: clear, home, reset margins; resize only where the server allows it."""
        if self.allow_column_mode and columns != self.columns:
            self.resize(self.lines, columns)
            self.resize_request = (columns, self.lines)
        self.margins = None
        self.erase_in_display(2)
        self.cursor.x = self.cursor.y = 0

    # -- cursor save/restore: one slot per screen, as in xterm -----------------------------------

    def _savepoint(self) -> pyte.screens.Savepoint:
        cursor = pyte.screens.Cursor(self.cursor.x, self.cursor.y, self.cursor.attrs)
        cursor.hidden = self.cursor.hidden
        return pyte.screens.Savepoint(
            cursor,
            self.g0_charset,
            self.g1_charset,
            self.charset,
            mo.DECOM in self.mode,
            mo.DECAWM in self.mode,
        )

    def _restore(self, point: pyte.screens.Savepoint | None) -> None:
        if point is None:
            self.mode.discard(mo.DECOM)
            self.cursor.x = self.cursor.y = 0
            return
        self.g0_charset, self.g1_charset = point.g0_charset, point.g1_charset
        self.charset = point.charset
        if point.origin:
            self.mode.add(mo.DECOM)
        else:
            self.mode.discard(mo.DECOM)
        if point.wrap:
            self.mode.add(mo.DECAWM)
        else:
            self.mode.discard(mo.DECAWM)
        hidden = self.cursor.hidden
        self.cursor = pyte.screens.Cursor(point.cursor.x, point.cursor.y, point.cursor.attrs)
        self.cursor.hidden = hidden
        self.ensure_hbounds()
        self.ensure_vbounds()

    def save_cursor(self) -> None:
        self._saved[self.alternate] = self._savepoint()

    def restore_cursor(self) -> None:
        self._restore(self._saved[self.alternate])

    # -- attributes ------------------------------------------------------------------------------

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        self.select_graphic_rendition_params([[a] for a in attrs] or [[0]])

    def select_graphic_rendition_params(self, params: list[list[int | None]]) -> None:
        """SGR with ``;`` parameters and ``:`` sub-parameters (``38:2::r:g:b``, ``4:3``)."""
        replace: dict[str, Any] = {}
        i = 0
        while i < len(params):
            group = params[i]
            code = group[0] or 0
            i += 1
            if code == 0:
                replace = dict(self.default_char._asdict())
                del replace["data"]
            elif code in _SGR_FLAGS:
                name, on = _SGR_FLAGS[code]
                if code == 4 and len(group) > 1:
                    on = bool(group[1])  # 4:0 is "no underline", 4:1..4:5 the styles
                replace[name] = on
            elif code == 22:
                replace["bold"] = replace["dim"] = False
            elif 30 <= code <= 37:
                replace["fg"] = _NAMES[code - 30]
            elif 40 <= code <= 47:
                replace["bg"] = _NAMES[code - 40]
            elif 90 <= code <= 97:
                replace["fg"] = "bright" + _NAMES[code - 90]
            elif 100 <= code <= 107:
                replace["bg"] = "bright" + _NAMES[code - 100]
            elif code == 39:
                replace["fg"] = "default"
            elif code == 49:
                replace["bg"] = "default"
            elif code in (38, 48, 58):
                if len(group) > 1:  # colon form: everything is in this group
                    colour = _extended_colour(group[1:], colon=True)
                else:
                    colour, used = _extended_colour_semicolon(params, i)
                    i += used
                if colour is not None and code != 58:
                    replace["fg" if code == 38 else "bg"] = colour
        if replace:
            self.cursor.attrs = self.cursor.attrs._replace(**replace)

    # -- reports and titles ----------------------------------------------------------------------

    def write_process_input(self, data: str) -> None:
        """Queue a reply for the program (DA, DSR, CPR)."""
        self.replies += data.encode()

    def bell(self, *args: object) -> None:
        self.bells += 1

    def set_title(self, param: str) -> None:
        title = _clean_title(param)
        if title != self.title:
            self.title = title
            self.title_changed = True

    def window_op(self, args: list[int]) -> None:
        """CSI t: size report (18) and the title stack (22/23)."""
        op = args[0]
        if op == 18:
            self.write_process_input(f"\x1b[8;{self.lines};{self.columns}t")
        elif op == 22 and (len(args) < 2 or args[1] in (0, 2)):
            self._title_stack = (self._title_stack + [self.title])[-_TITLE_STACK:]
        elif op == 23 and (len(args) < 2 or args[1] in (0, 2)) and self._title_stack:
            self.set_title(self._title_stack.pop())

    def report_device_status(self, mode: int = 0, **kwargs: Any) -> None:
        if mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if mo.DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self.write_process_input(f"\x1b[{y};{x}R")
        elif mode == 5:
            self.write_process_input("\x1b[0n")


def _xrgb(colour: int) -> str:
    """0x00RRGGBB as X11's ``rgb:RRRR/GGGG/BBBB`` (each channel's byte twice, as xterm)."""
    r, g, b = colour >> 16 & 0xFF, colour >> 8 & 0xFF, colour & 0xFF
    return f"rgb:{r:02x}{r:02x}/{g:02x}{g:02x}/{b:02x}{b:02x}"


def _extended_colour(values: list[int | None], colon: bool) -> str | None:
    """The colour of ``5:n`` or ``2:[colourspace:]r:g:b`` (values after the 38/48)."""
    if not values:
        return None
    kind = values[0]
    if kind == 5 and len(values) >= 2 and values[1] is not None:
        return _PALETTE[values[1]] if values[1] < 256 else None
    if kind == 2:
        rgb = values[1:]
        if colon and len(rgb) >= 4:
            rgb = rgb[1:4]  # skip the colour space id
        if len(rgb) >= 3:
            r, g, b = (min(v or 0, 255) for v in rgb[:3])
            return f"{r:02x}{g:02x}{b:02x}"
    return None


def _extended_colour_semicolon(params: list[list[int | None]], i: int) -> tuple[str | None, int]:
    """``38;5;n`` / ``38;2;r;g;b`` starting at ``params[i]``: (colour, groups consumed)."""
    if i >= len(params):
        return None, 0
    kind = params[i][0]
    if kind == 5:
        return _extended_colour([g[0] for g in params[i : i + 2]], colon=False), 2
    if kind == 2:
        return _extended_colour([g[0] for g in params[i : i + 4]], colon=False), 4
    return None, 1


def _cup(s: TermScreen, a: list[int]) -> None:
    s.cursor_position(a[0], a[1] if len(a) > 1 else 0)


def _margins(s: TermScreen, a: list[int]) -> None:
    if len(a) == 1 and a[0] == 0:
        s.set_margins()
        s.cursor_position()
    else:
        s.set_margins(a[0] or None, a[1] if len(a) > 1 and a[1] else None)


def _da(s: TermScreen, a: list[int]) -> None:
    if a[0] == 0:
        s.write_process_input("\x1b[?6c")


def _scroll_down(s: TermScreen, a: list[int]) -> None:
    if len(a) == 1:  # five parameters is xterm's mouse highlight tracking, not SD
        s.scroll_down(a[0])


_CSI_HANDLERS: dict[str, Any] = {
    "@": lambda s, a: s.insert_characters(a[0]),
    "A": lambda s, a: s.cursor_up(a[0]),
    "B": lambda s, a: s.cursor_down(a[0]),
    "C": lambda s, a: s.cursor_forward(a[0]),
    "D": lambda s, a: s.cursor_back(a[0]),
    "E": lambda s, a: s.cursor_down1(a[0]),
    "F": lambda s, a: s.cursor_up1(a[0]),
    "G": lambda s, a: s.cursor_to_column(a[0]),
    "H": _cup,
    "f": _cup,
    "J": lambda s, a: s.erase_in_display(a[0]),
    "K": lambda s, a: s.erase_in_line(a[0]),
    "L": lambda s, a: s.insert_lines(a[0]),
    "M": lambda s, a: s.delete_lines(a[0]),
    "P": lambda s, a: s.delete_characters(a[0]),
    "S": lambda s, a: s.scroll_up(a[0]),
    "T": _scroll_down,
    "X": lambda s, a: s.erase_characters(a[0]),
    "Z": lambda s, a: s.back_tab(a[0]),
    "`": lambda s, a: s.cursor_to_column(a[0]),
    "a": lambda s, a: s.cursor_forward(a[0]),
    "b": lambda s, a: s.repeat(a[0]),
    "c": _da,
    "d": lambda s, a: s.cursor_to_line(a[0]),
    "e": lambda s, a: s.cursor_down(a[0]),
    "g": lambda s, a: s.clear_tab_stop(a[0]),
    "h": lambda s, a: s.set_mode(*a),
    "l": lambda s, a: s.reset_mode(*a),
    "n": lambda s, a: s.report_device_status(a[0]),
    "r": _margins,
    "s": lambda s, a: s.save_cursor(),
    "t": lambda s, a: s.window_op(a),
    "u": lambda s, a: s.restore_cursor(),
}


class Emulator:
    """A terminal of ``cols`` x ``rows`` fed with console bytes.

    ``charset`` is how the console encodes text: "utf-8" (default), "cp437" or "latin-1".
    ``allow_column_mode`` lets DECCOLM (``CSI ? 3 h/l``) resize the terminal to 132/80 columns;
    the new size is then offered by :meth:`take_resize_request`. Without it, DECCOLM only
    clears the screen, as in tmux.

    ``scrollback`` caps :attr:`scrollback` (rows), ``scrollback_memory`` its estimated bytes.
    ``fast=False`` turns every fast path off:
    the reference model the differential tests compare against.
    """

    def __init__(
        self,
        cols: int,
        rows: int,
        charset: str = "utf-8",
        allow_column_mode: bool = False,
        scrollback: int = 10000,
        fast: bool = True,
        scrollback_memory: int = 64 << 20,
    ) -> None:
        self.charset = canonical(charset)
        self.screen = TermScreen(
            cols,
            rows,
            allow_column_mode,
            scrollback=scrollback,
            fast=fast,
            scrollback_memory=scrollback_memory,
        )
        self.parser = Parser(self.screen)
        self._decode = make_decoder(self.charset)

    # -- scrollback ------------------------------------------------------------------------------

    @property
    def scrollback(self) -> Scrollback:
        """Rows that scrolled off the top of the main screen, oldest first (capped)."""
        return self.screen.scrollback

    @property
    def scrollback_appended(self) -> int:
        """How many rows were ever appended (grows by the rows each feed scrolled off)."""
        return self.screen.scrollback_appended

    @property
    def scrollback_generation(self) -> int:
        """Changes when the scrollback is cleared (ED 3), so saved positions are void."""
        return self.screen.scrollback_generation

    def wrapped(self, row: int) -> bool:
        """Screen row ``row`` goes on in ``row + 1`` because of autowrap."""
        return self.screen.wrapped(row)

    @property
    def cols(self) -> int:
        return int(self.screen.columns)

    @property
    def rows(self) -> int:
        return int(self.screen.lines)

    def feed(self, data: bytes) -> None:
        """Parse console output."""
        self.parser.feed(self._decode(data))

    def resize(self, cols: int, rows: int) -> None:
        """Change the terminal size (the server resized it, e.g. for SetDesktopSize)."""
        self.screen.resize(rows, cols)

    def take_replies(self) -> bytes:
        """Replies owed to the program since the last call."""
        out = bytes(self.screen.replies)
        self.screen.replies.clear()
        return out

    def take_bells(self) -> int:
        """Bells rung since the last call."""
        n = self.screen.bells
        self.screen.bells = 0
        return n

    def take_clipboard(self) -> str | None:
        """Text the program put on the clipboard with OSC 52 since the last call."""
        text, self.screen.clipboard = self.screen.clipboard, None
        return text

    def take_title(self) -> str | None:
        """The window title if it changed since the last call (OSC 0/2, title stack)."""
        if not self.screen.title_changed:
            return None
        self.screen.title_changed = False
        return self.screen.title

    def take_resize_request(self) -> tuple[int, int] | None:
        """(cols, rows) the program switched the terminal to (DECCOLM), once; else None.

        The screen has already been resized; the server should follow with the renderer, the
        console's window size and the viewers.
        """
        request, self.screen.resize_request = self.screen.resize_request, None
        return request

    @property
    def title(self) -> str:
        return self.screen.title

    @property
    def allow_column_mode(self) -> bool:
        return self.screen.allow_column_mode

    @allow_column_mode.setter
    def allow_column_mode(self, value: bool) -> None:
        self.screen.allow_column_mode = value

    @property
    def cursor_shape(self) -> str:
        """ "block", "underline" or "bar" (DECSCUSR)."""
        return self.screen.cursor_shape

    @property
    def cursor_blink(self) -> bool:
        return self.screen.cursor_blink

    @property
    def application_cursor_keys(self) -> bool:
        return DECCKM in self.screen.mode

    @property
    def application_keypad(self) -> bool:
        return self.screen.keypad_application

    @property
    def bracketed_paste(self) -> bool:
        return BRACKETED_PASTE in self.screen.mode

    @property
    def alternate_screen(self) -> bool:
        return self.screen.alternate

    @property
    def cursor_visible(self) -> bool:
        return mo.DECTCEM in self.screen.mode and not self.screen.cursor.hidden

    def text(self) -> list[str]:
        """The screen as lines of text (for tests and logs)."""
        return list(self.screen.display)
