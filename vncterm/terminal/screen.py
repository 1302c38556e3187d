"""The terminal model: pyte's Screen, extended with what real programs use and pyte 0.8.2 lacks.

``TermScreen`` adds the alternate screen (modes 47/1047/1049), DECSCUSR cursor shapes,
DECCOLM, window titles and the title stack, DECSTR, SGR 2/8 (faint, hidden) with colon
sub-parameters, the DEC line-drawing character set in UTF-8 mode, and per-screen cursor
save/restore as in xterm. It is built in layers: ``grid.py`` (cells, erasing, scrolling, the
scrollback), ``drawing.py`` (text), and this file (the rest of the state). Escape sequences
reach it through the tables of ``sequences.py``; servers reach it through ``Emulator``.

Replies the terminal owes the program (device attributes, status and cursor position reports,
colour queries) collect in :attr:`TermScreen.replies`; bells are counted; title changes and
program-driven resizes (DECCOLM) are kept for the facade to hand on.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

import pyte
from pyte import modes as mo

from ..config import DEFAULT_WINDOW_OPS
from .charsets import CHARSET_MAPS
from .colours import TermColours
from .drawing import TextScreen
from .grid import LRMM
from .motion import REVERSE_WRAP
from .scrollback import Line
from .sgr import rendition

log = logging.getLogger(__name__)

#: pyte keeps private (DEC) modes shifted left by 5 bits.
DECCKM = 1 << 5
#: xterm's "allow 80/132 column mode" (``CSI ? 40 h``): without it DECCOLM does nothing.
ALLOW_DECCOLM = 40 << 5
BRACKETED_PASTE = 2004 << 5
#: DECBKM: the BackSpace key sends BS (else DEL).
BACKARROW = 67 << 5
_ALT_MODES = {47 << 5, 1047 << 5, 1049 << 5}
_SAVE_CURSOR_MODE = 1048 << 5
#: DECNKM: the keypad in application mode (as DECKPAM / DECKPNM).
_DECNKM = 66 << 5

_MAX_TITLE = 1024
#: The largest terminal, (columns, rows): what a program may ask for, and the server's cap on
#: any size (its framebuffer cap may refuse less).
MAX_SIZE = (1000, 500)
_TITLE_STACK = 10


def _clean_title(text: str) -> str:
    text = "".join(c for c in text if unicodedata.category(c) != "Cc")
    return text[:_MAX_TITLE]


class TermScreen(TextScreen):
    """pyte's Screen with the emulation gaps closed (see the module docstring)."""

    def __init__(
        self,
        columns: int,
        lines: int,
        allow_column_mode: bool = False,
        scrollback: int = 10000,
        fast: bool = True,
        scrollback_memory: int = 64 << 20,
    ) -> None:
        #: SGR parameter strings -> attributes (``sequences.csi`` keeps it; fast mode only).
        self._sgr_cache: dict[tuple[str, Any], Any] = {}
        #: The colours the program may change (OSC 4, 5, 10-19), drawn by the renderer.
        self.colours = TermColours()
        self.replies = bytearray()
        self.bells = 0
        self.title = ""
        self.title_changed = False
        self.clipboard: str | None = None  # set by OSC 52, taken by the session
        #: What the program itself last put on the clipboard (OSC 52), for its queries.
        self.clipboard_own = ""
        #: DECSCL's operating level (1-4: VT100 ... VT420); RIS returns to 4; DECLRMM and the
        #: VT420 sequences need 4, DECRQM 3.
        self.vt_level = 4
        #: xterm's title modes (``CSI > Ps t``): 0 set and 1 query in hex; 2 and 3 (UTF-8) are
        #: kept, titles being UTF-8 here anyway.
        self.title_modes: set[int] = set()
        self.allow_column_mode = allow_column_mode
        self.resize_request: tuple[int, int] | None = None
        #: DECCOLM last selected 132 columns (RIS returns to 80, as xterm does).
        self.column_132 = False
        self._column_refusal_logged = False
        #: The window operations (``CSI t``, DECRQCRA) answered (``reports.WINDOW_OPS``).
        self.window_ops: frozenset[str] = DEFAULT_WINDOW_OPS
        #: A character cell in pixels, for the pixel size reports (set by the server).
        self.cell_pixels = (9, 18)
        #: Cells DECRQCRA may still sum in this read (``reports.CHECKSUM_BUDGET``; the facade
        #: refills it per feed).
        self.checksum_budget = 0
        #: DECSACE: 2, DECCARA/DECRARA change a rectangle; else a stream of positions.
        self.attribute_extent = 0
        #: DEC private modes saved by XTSAVE (``CSI ? Pm s``), for XTRESTORE.
        self.saved_modes: dict[int, bool] = {}
        self.checksum_refusal_logged = False
        self.cursor_shape = "block"
        self.cursor_blink = True
        self.keypad_application = False
        #: xterm's title stack: (icon label, window title) per push (CSI 22 t / CSI 23 t).
        self._title_stack: list[tuple[str, str]] = []
        self._other_buffer: dict[int, Line] | None = None
        self._saved: dict[bool, pyte.screens.Savepoint | None] = {False: None, True: None}
        super().__init__(columns, lines, scrollback, scrollback_memory, fast)

    # -- resets and size -------------------------------------------------------------------------

    def reset(self) -> None:
        """RIS: everything back to power-on state, on the main screen."""
        if getattr(self, "alternate", False) and self._other_buffer is not None:
            self.buffer = self._other_buffer
        self._other_buffer = None
        self.alternate = False
        title = getattr(self, "title", "")
        allow_deccolm = ALLOW_DECCOLM in getattr(self, "mode", ())
        super().reset()
        self.title = title  # RIS keeps the window title (xterm does)
        if allow_deccolm:  # a setting of xterm's, not a mode RIS resets
            self.mode.add(ALLOW_DECCOLM)
        if getattr(self, "column_132", False):
            self.column_132 = False
            self._resize_columns(80)
        self.cursor.attrs = self.default_char
        self.g0_charset = self.g1_charset = None  # type: ignore[assignment]
        self._saved = {False: None, True: None}
        self.hmargins = None
        self.wrap_pending = False
        self.cursor_shape, self.cursor_blink = "block", True
        self.keypad_application = False
        self._last_char = ""
        self.attribute_extent = 0
        self.protection = "off"
        self.vt_level = 4
        self.title_modes = set()
        self.colours.reset_palette()

    def conformance(self, level: int) -> None:
        """DECSCL (``CSI 6x ; Ps " p``): a conformance level from VT100 (61) to VT420 (64),
        with a soft reset (DEC STD 070, as xterm); others are ignored. 8-bit controls (Ps 0
        or 2) are not offered: replies stay 7-bit."""
        if 61 <= level <= 64:
            self.soft_reset()
            self.vt_level = level - 60

    def soft_reset(self) -> None:
        """DECSTR: modes (DECLRMM too, as DEC STD 070 says), margins, attributes, the saved
        cursor, the protection mode, the cursor's shape and the palette to defaults (as xterm's
        soft reset); text stays."""
        self.mode.difference_update({mo.IRM, mo.DECOM, DECCKM, REVERSE_WRAP, LRMM})
        self.wrap_pending = False
        self.mode.update({mo.DECAWM, mo.DECTCEM})
        self.cursor.hidden = False
        self.margins = self.hmargins = None
        self.charset = 0
        self.g0_charset = self.g1_charset = None  # type: ignore[assignment]
        self.cursor.attrs = self.default_char
        self._saved[self.alternate] = None
        self.keypad_application = False
        self.protection = "off"
        self.cursor_shape, self.cursor_blink = "block", True
        self.colours.reset_palette()

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Change the size; lines that no longer fit are dropped from the top (both screens).
        The top and bottom margins reset; left and right ones stay while they fit."""
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
        if columns != self.columns:
            self.wrap_pending = False
            if self.hmargins is not None and self.hmargins[1] >= columns:
                self.hmargins = None
        self.lines, self.columns = lines, columns
        self.margins = None
        self.tabstops = {t for t in self.tabstops if t < columns} | set(
            range(max(8, (self.columns // 8) * 8), columns, 8)
        )
        self.cursor.x = min(self.cursor.x, columns - 1)
        self.cursor.y = min(max(self.cursor.y, 0), lines - 1)
        self.dirty.update(range(lines))

    # -- character sets --------------------------------------------------------------------------

    def define_charset(self, code: str, mode: str) -> None:
        if code in CHARSET_MAPS:
            table = CHARSET_MAPS[code]
            if mode == "(":
                self.g0_charset = table  # type: ignore[assignment]
            elif mode == ")":
                self.g1_charset = table  # type: ignore[assignment]

    # -- modes -----------------------------------------------------------------------------------

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        private = bool(kwargs.get("private"))
        shifted = [m << 5 for m in modes] if private else list(modes)
        rest = []
        for mode in shifted:
            if mode in _ALT_MODES:
                if mode == 1049 << 5:  # DECSC on the screen left, then a clear alternate
                    self.save_cursor()
                    self._switch_screen(True)
                    self.clear_all()
                else:
                    self._switch_screen(True)
            elif mode == _SAVE_CURSOR_MODE:
                self.save_cursor()
            elif mode == mo.DECCOLM:
                self._column_mode(132)
            elif mode == mo.DECSCNM:
                self._screen_reverse(True)
            elif mode == _DECNKM:
                self.keypad_application = True
            elif mode == LRMM:
                if self.vt_level >= 4:  # a VT420 mode (xterm)
                    self.set_lrmm(True)
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
                    self.clear_all()
                self._switch_screen(False)
                if mode == 1049 << 5:  # DECRC from the main screen's slot, as xterm
                    self.restore_cursor()
            elif mode == _SAVE_CURSOR_MODE:
                self.restore_cursor()
            elif mode == mo.DECCOLM:
                self._column_mode(80)
            elif mode == mo.DECSCNM:
                self._screen_reverse(False)
            elif mode == _DECNKM:
                self.keypad_application = False
            elif mode == LRMM:
                self.set_lrmm(False)
            else:
                rest.append(mode)
        if rest:
            super().reset_mode(*rest)

    def switch_screen(self, alternate: bool) -> None:
        """To the alternate screen or back, nothing cleared (XTRESTORE)."""
        self._switch_screen(alternate)

    def _switch_screen(self, alternate: bool) -> None:
        if alternate == self.alternate:
            return
        other = self._other_buffer if self._other_buffer is not None else self._new_buffer()
        self._other_buffer = self.buffer
        self.buffer = other
        self.alternate = alternate
        self.dirty.update(range(self.lines))

    @property
    def reverse_video(self) -> bool:
        """DECSCNM: the renderer draws the default colours swapped (the cells stay)."""
        return mo.DECSCNM in self.mode

    def _screen_reverse(self, on: bool) -> None:
        """DECSCNM (VT510 manual; xterm swaps its default colours): a display mode, so no
        cell changes; the renderer redraws everything."""
        if on:
            self.mode.add(mo.DECSCNM)
        else:
            self.mode.discard(mo.DECSCNM)
        self.dirty.update(range(self.lines))

    def _column_mode(self, columns: int) -> None:
        """DECCOLM (VT510 manual, DECCOLM; xterm ctlseqs ``CSI ? 3 h``): only while mode 40
        allows it, as in xterm; then clear, reset the margins, home, and switch the width."""
        if ALLOW_DECCOLM not in self.mode:
            return
        self.column_132 = columns == 132
        self._resize_columns(columns)
        self.margins = self.hmargins = None
        self.clear_all()
        self.cursor.x = self.cursor.y = 0
        self.wrap_pending = False

    def _resize_columns(self, columns: int) -> None:
        """Switch to ``columns`` where the console may be resized (the facade hands the request
        on to the server); elsewhere the width stays, said once in the log."""
        if columns == self.columns:
            return
        if self.allow_column_mode:
            self.resize(self.lines, columns)
            self.resize_request = (columns, self.lines)
        elif not self._column_refusal_logged:
            self._column_refusal_logged = True
            log.warning(
                "terminal: the program asked for %d columns (DECCOLM); this console may not "
                "be resized, so it keeps %d (--allow-resize lets it)",
                columns,
                self.columns,
            )

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
            self.wrap_pending,  # DEC's last column flag
        )

    def _restore(self, point: pyte.screens.Savepoint | None) -> None:
        self.wrap_pending = False
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
        hidden = self.cursor.hidden
        self.cursor = pyte.screens.Cursor(point.cursor.x, point.cursor.y, point.cursor.attrs)
        self.cursor.hidden = hidden
        self.ensure_hbounds()
        self.ensure_vbounds()
        # DECRC restores the last column flag, not DECAWM (xterm, DEC STD 070)
        self.wrap_pending = bool(point.wrap)

    def save_cursor(self) -> None:
        self._saved[self.alternate] = self._savepoint()

    def restore_cursor(self) -> None:
        self._restore(self._saved[self.alternate])

    # -- attributes ------------------------------------------------------------------------------

    def protect(self, on: bool, kind: str) -> None:
        """DECSCA (``kind`` "dec") or SPA/EPA ("iso"): what is printed from now on is protected
        (``on``) or not; the kind decides which erases spare it (GridScreen._keeps_protected)."""
        self.protection = kind
        if self.cursor.attrs.protected != on:
            self.cursor.attrs = self.cursor.attrs._replace(protected=on)

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        self.select_graphic_rendition_params([[a] for a in attrs] or [[0]])

    def select_graphic_rendition_params(self, params: list[list[int | None]]) -> None:
        """SGR with ``;`` parameters and ``:`` sub-parameters (``38:2::r:g:b``, ``4:3``)."""
        replace = rendition(params)
        if replace:
            self.cursor.attrs = self.cursor.attrs._replace(**replace)

    # -- reports and titles ----------------------------------------------------------------------

    def write_process_input(self, data: str) -> None:
        """Queue a reply for the program (DA, DSR, CPR)."""
        self.replies += data.encode()

    def bell(self, *args: object) -> None:
        self.bells += 1

    def set_title(self, param: str) -> None:
        text = self._title_text(param)
        if text is None:
            return
        title = _clean_title(text)
        if title != self.title:
            self.title = title
            self.title_changed = True

    def set_icon_name(self, param: str) -> None:
        text = self._title_text(param)
        if text is not None:
            self.icon_name = _clean_title(text)

    def _title_text(self, param: str) -> str | None:
        """A title as the program sent it: in hex under title mode 0 (``CSI > 0 t``), its
        bytes UTF-8 (ISO 8859-1 if they are not), as a UTF-8 xterm takes them; bad hex sets
        nothing."""
        if 0 not in self.title_modes:
            return param
        try:
            raw = bytes.fromhex(param[: 8 * _MAX_TITLE])
        except ValueError:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def title_report(self, text: str) -> str:
        """A title as a report gives it: in hex (upper case, its UTF-8 bytes, as a UTF-8
        xterm sends it) under title mode 1, else as it is."""
        return text.encode().hex().upper() if 1 in self.title_modes else text

    def title_mode(self, modes: list[int], on: bool) -> None:
        """XTSMTITLE / XTRMTITLE (``CSI > Pm t`` / ``CSI > Pm T``): title modes 0-3 on or
        off, one per parameter."""
        for mode in modes:
            if 0 <= mode <= 3:
                (self.title_modes.add if on else self.title_modes.discard)(mode)

    def window_op(self, args: list[int]) -> None:
        """CSI t: the title stack (ctlseqs: 22/23, then 0 both, 1 the icon label, 2 the window
        title; a push of one copies the other from the entry below, as xterm does); the
        reports are ``reports.py``'s."""
        op = args[0]
        which = args[1] if len(args) > 1 else 0
        if which not in (0, 1, 2):
            return
        if op == 22:
            below = self._title_stack[-1] if self._title_stack else (self.icon_name, self.title)
            icon = self.icon_name if which in (0, 1) else below[0]
            title = self.title if which in (0, 2) else below[1]
            self._title_stack = (self._title_stack + [(icon, title)])[-_TITLE_STACK:]
        elif op == 23 and self._title_stack:
            icon, title = self._title_stack.pop()
            if which in (0, 1):
                self.set_icon_name(icon)
            if which in (0, 2):
                self.set_title(title)

    def report_device_status(self, mode: int = 0, **kwargs: Any) -> None:
        if mode == 6:  # CPR: relative to the region's top left in origin mode
            y, x = self.reported_position()
            self.write_process_input(f"\x1b[{y};{x}R")
        elif mode == 5:
            self.write_process_input("\x1b[0n")
