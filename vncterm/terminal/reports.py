"""What the terminal answers when a program asks about it: mode and status reports, settings,
the checksum of a rectangle, window reports. Each is built as xterm 379 builds it (xterm's
ctlseqs; the DEC VT510 manual for the DEC reports), and queued with
``TermScreen.write_process_input``. ``sequences.py`` maps the requests here.

Window operations (``CSI t``) are gated per kind by :attr:`TermScreen.window_ops` (the
``--window-ops`` option): ``size`` (14/15/16/18/19 and 11/13), ``title`` (20/21, off by default:
they echo text a program set, an injection path on shared consoles), ``resize`` (``CSI 8 ;
rows ; cols t``, ``CSI 4 ; height ; width t``, DECSLPP; only where the console may be
resized), ``checksum`` (DECRQCRA).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyte.screens import Margins

from .. import __version__
from .colours import palette_index
from .rectangles import parse_rect
from .screen import MAX_SIZE, TermScreen

log = logging.getLogger(__name__)

DCS, ST = "\x1bP", "\x1b\\"
#: DA1 as xterm 379 answers as a VT420 (``-ti vt420``, xterm's default): level 4, 132 columns,
#: printer, selective erase, national and technical character sets, locator, state reports,
#: windowing, horizontal scrolling, colour, rectangles.
PRIMARY_DA = "\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c"
#: DA2: a VT420 (41), firmware version 379 (the xterm patch this terminal is measured
#: against), no ROM cartridge.
SECONDARY_DA = "\x1b[>41;379;0c"

# DECRQM answers (VT510 manual, DECRPM): 0 not recognised, 1 set, 2 reset, 3/4 permanently.
_UNKNOWN, _SET, _RESET, _ALWAYS_SET, _ALWAYS_RESET = range(5)
#: ANSI modes xterm reports as permanently reset (GATM, SRTM, VEM, HEM, PUM, FEAM ... EBM).
_ANSI_ALWAYS_RESET = {1, 5, 7, 10, 11, 13, 14, 15, 16, 17, 18, 19}
#: ANSI modes kept in the screen's mode set (KAM, CRM, IRM, SRM, LNM).
_ANSI_TRACKED = {2, 3, 4, 12, 20}
#: DEC private modes kept in the screen's mode set, reported set or reset (DECSCLM 4, the
#: printer's DECPFF 18 and DECPEX 19, DECNRCM 42 are only kept; DECBKM 67 picks what the
#: BackSpace key sends).
_DEC_TRACKED = {
    1, 4, 5, 6, 7, 9, 12, 18, 19, 25, 40, 42, 45, 67, 69,
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1015, 1016, 2004,
}  # fmt: skip


def _mode(on: bool) -> int:
    return _SET if on else _RESET


def request_mode(s: TermScreen, mode: int, private: bool) -> None:
    """DECRQM (``CSI ? Ps $ p`` / ``CSI Ps $ p``) -> DECRPM ``CSI ? Ps ; Pm $ y``."""
    if private:
        value = _dec_mode(s, mode)
        s.write_process_input(f"\x1b[?{mode};{value}$y")
        return
    if mode in _ANSI_ALWAYS_RESET:
        value = _ALWAYS_RESET
    elif mode in _ANSI_TRACKED:
        value = _mode(mode in s.mode)
    else:
        value = _UNKNOWN
    s.write_process_input(f"\x1b[{mode};{value}$y")


def _dec_mode(s: TermScreen, mode: int) -> int:
    if mode == 2:  # DECANM: ANSI, never VT52 here
        return _SET
    if mode == 3:
        return _mode(s.column_132)
    if mode == 8:  # DECARM: autorepeat is the viewer's
        return _ALWAYS_RESET
    if mode in (47, 1047, 1049):
        return _mode(s.alternate)
    if mode == 66:  # DECNKM
        return _mode(s.keypad_application)
    if mode in _DEC_TRACKED:
        return _mode((mode << 5) in s.mode)
    return _UNKNOWN


def save_modes(s: TermScreen, modes: list[int]) -> None:
    """XTSAVE (``CSI ? Pm s``): remember the listed DEC private modes that are known."""
    for mode in modes:
        value = _dec_mode(s, mode)
        if value in (_SET, _RESET):
            s.saved_modes[mode] = value == _SET


def restore_modes(s: TermScreen, modes: list[int]) -> None:
    """XTRESTORE (``CSI ? Pm r``): put the listed modes back as XTSAVE found them; as in xterm
    the screens switch without clearing, DECOM homes the cursor, DECCOLM acts again."""
    for mode in modes:
        on = s.saved_modes.get(mode)
        if on is None or (_dec_mode(s, mode) == _mode(on) and mode not in (3, 6)):
            continue
        if mode in (47, 1047, 1049):
            s.switch_screen(on)
        elif mode in (3, 5, 6, 66, 69):
            (s.set_mode if on else s.reset_mode)(mode, private=True)
        elif mode == 25:
            (s.set_mode if on else s.reset_mode)(mode, private=True)
            s.cursor.hidden = not on
        elif on:
            s.mode.add(mode << 5)
        else:
            s.mode.discard(mode << 5)


def device_status(s: TermScreen, code: int, private: bool, args: list[int]) -> None:
    """DSR (``CSI Ps n``) and DEC's extended DSR (``CSI ? Ps n``), as xterm answers a VT420."""
    if not private:
        s.report_device_status(code)
        return
    reply = {
        5: "\x1b[?0n",
        15: "\x1b[?13n",  # no printer
        25: "\x1b[?20n",  # user-defined keys unlocked
        26: "\x1b[?27;1;0;0n",  # North American keyboard, ready, LK201
        53: "\x1b[?53n",  # no locator
        55: "\x1b[?53n",
        56: "\x1b[?57;0n",  # locator type unknown
        62: "\x1b[0000*{",  # no macro space
        75: "\x1b[?70n",  # data integrity: no errors
        85: "\x1b[?83n",  # multiple sessions: not configured
    }.get(code)
    if code == 6:  # DECXCPR: the cursor position and the page
        row, col = _cursor_report(s)
        reply = f"\x1b[?{row};{col};1R"
    elif code == 63:  # DECCKSR: the memory checksum (no macros: 0)
        pid = args[1] if len(args) > 1 else 0
        reply = f"{DCS}{pid}!~0000{ST}"
    if reply is not None:
        s.write_process_input(reply)


def _cursor_report(s: TermScreen) -> tuple[int, int]:
    """The cursor, 1-based, relative to the scroll region's top left in origin mode."""
    return s.reported_position()


# -- DECRQSS -------------------------------------------------------------------------------------

_SGR_FLAGS = (
    ("bold", "1"),
    ("underscore", "4"),
    ("blink", "5"),
    ("reverse", "7"),
    ("hidden", "8"),
    ("dim", "2"),
    ("italics", "3"),
    ("strikethrough", "9"),
)


def _sgr_colour(colour: str, base: int) -> str:
    """One colour as xterm reports it in DECRQSS SGR (``base`` 30 for fg, 40 for bg)."""
    if colour == "default":
        return ""
    index = palette_index(colour)
    if index is None:
        try:
            r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            return ""
        return f";{base + 8}:2::{r}:{g}:{b}"
    if index < 8:
        return f";{base + index}"
    if index < 16:
        return f";{base + 60 + index - 8}"
    return f";{base + 8}:5:{index}"


def sgr_setting(attrs: Any) -> str:
    """The current SGR as xterm's DECRQSS answers it: ``0`` then each attribute set."""
    out = "0" + "".join(f";{code}" for name, code in _SGR_FLAGS if getattr(attrs, name, False))
    return out + _sgr_colour(attrs.fg, 30) + _sgr_colour(attrs.bg, 40)


def request_setting(s: TermScreen, setting: str) -> None:
    """DECRQSS (``DCS $ q Pt ST``) -> DECRPSS ``DCS 1 $ r value Pt ST``, or ``DCS 0 $ r ST``
    for a setting not known."""
    margins = s.margins or Margins(0, s.lines - 1)
    settings: dict[str, Callable[[], str]] = {
        "m": lambda: sgr_setting(s.cursor.attrs),
        "r": lambda: f"{margins.top + 1};{margins.bottom + 1}",
        "s": lambda: "{};{}".format(*(m + 1 for m in s.lr())),  # DECSLRM
        " q": lambda: str(_cursor_style_code(s)),
        '"q': lambda: "1" if s.protection == "dec" and s.cursor.attrs.protected else "0",
        '"p': lambda: f"{60 + s.vt_level};1",  # DECSCL: the level, 7-bit controls
        "$|": lambda: "132" if s.column_132 else "80",  # DECSCPP
        "*|": lambda: str(s.lines),  # DECSNLS
        "t": lambda: str(s.lines),  # DECSLPP
        "*x": lambda: str(s.attribute_extent),  # DECSACE
        "$}": lambda: "0",  # DECSASD: the main display (there is no status line)
        "$~": lambda: "0",  # DECSSDT: no status line
    }
    value = settings.get(setting)
    if value is None:
        s.write_process_input(f"{DCS}0$r{ST}")
    else:
        s.write_process_input(f"{DCS}1$r{value()}{setting}{ST}")


def _cursor_style_code(s: TermScreen) -> int:
    """DECSCUSR's number for the cursor now (1 blinking block ... 6 steady bar)."""
    steady = {"block": 2, "underline": 4, "bar": 6}.get(s.cursor_shape, 2)
    return steady - 1 if s.cursor_blink else steady


# -- DECRQCRA ------------------------------------------------------------------------------------


#: What each video attribute adds to a cell's value in the checksum (xterm's DEC default).
_CHECKSUM_ATTRS = (("underscore", 0x10), ("reverse", 0x20), ("blink", 0x40), ("bold", 0x80))


def _cell_value(cell: Any) -> int:
    data = cell.data
    value = (ord(data[0]) & 0xFF) if data else 0x20
    for name, add in _CHECKSUM_ATTRS:
        if getattr(cell, name, False):
            value += add
    return value


def rectangle_checksum(s: TermScreen, params: list[int]) -> int:
    """The checksum xterm's DECRQCRA computes by default (its ``checksumExtension`` 0, which
    matches DEC's terminals): each cell's character (8 bits) plus its video attributes,
    blanks left out except the rectangle's first cell, the sum negated, 16 bits.

    xterm also counts a space a program printed (a "drawn" cell); this model does not keep
    that distinction, so such spaces are left out like erased ones."""
    if len(params) > 2:
        params = params[2:]
    rect = parse_rect(s, params)
    total = 0
    if rect is not None:
        top, left, bottom, right = rect
        first = True
        for y in range(top - 1, bottom):
            line = s.buffer[y]
            for x in range(left - 1, right):
                value = _cell_value(line[x])
                if first or value != 0x20:
                    total += value
                first = False
    return -total & 0xFFFF


#: Cells DECRQCRA may sum per console read: a flood of whole-screen requests (6 bytes each)
#: would otherwise cost seconds of CPU per 64 KiB; past it requests go unanswered (logged once).
CHECKSUM_BUDGET = 200_000


def checksum_report(s: TermScreen, args: list[int]) -> None:
    """DECRQCRA (``CSI Pi ; Pg ; Pt ; Pl ; Pb ; Pr * y``) -> ``DCS Pi ! ~ xxxx ST``."""
    if "checksum" not in s.window_ops:
        return
    rect = parse_rect(s, args[2:] if len(args) > 2 else args)
    cells = (rect[2] - rect[0] + 1) * (rect[3] - rect[1] + 1) if rect is not None else 0
    if cells > s.checksum_budget:
        if not s.checksum_refusal_logged:
            s.checksum_refusal_logged = True
            log.warning(
                "terminal: DECRQCRA requests over %d cells in one read; the rest go unanswered",
                CHECKSUM_BUDGET,
            )
        return
    s.checksum_budget -= cells
    checksum = rectangle_checksum(s, args)
    s.write_process_input(f"{DCS}{args[0]}!~{checksum:04X}{ST}")


# -- identification ------------------------------------------------------------------------------


def version_report(s: TermScreen) -> None:
    """XTVERSION (``CSI > q``) -> ``DCS > | name(version) ST``."""
    s.write_process_input(f"{DCS}>|vncterm({__version__}){ST}")


def tertiary_attributes(s: TermScreen) -> None:
    """DA3 (``CSI = c``) -> DECRPTUI ``DCS ! | 00000000 ST`` (the unit id, zero as xterm)."""
    s.write_process_input(f"{DCS}!|00000000{ST}")


# -- window operations ---------------------------------------------------------------------------


def window_report(s: TermScreen, args: list[int]) -> bool:
    """The reports of ``CSI t`` that ``window_ops`` allows; True when ``args`` was one."""
    op = args[0]
    ops = s.window_ops
    cell_w, cell_h = s.cell_pixels
    sizes = {
        11: "\x1b[1t",  # not iconified
        13: "\x1b[3;0;0t",  # the window's position
        14: f"\x1b[4;{s.lines * cell_h};{s.columns * cell_w}t",
        16: f"\x1b[6;{cell_h};{cell_w}t",
        18: f"\x1b[8;{s.lines};{s.columns}t",
        15: f"\x1b[5;{s.lines * cell_h};{s.columns * cell_w}t",  # the screen: the framebuffer
        19: f"\x1b[9;{s.lines};{s.columns}t",
    }
    if op in sizes:
        if "size" in ops:
            s.write_process_input(sizes[op])
        return True
    if op in (20, 21):
        if "title" in ops:
            text = s.icon_name if op == 20 else s.title
            label = ("L" if op == 20 else "l") + s.title_report(text)  # icon label, title
            s.write_process_input(f"\x1b]{label}{ST}")
        return True
    if op in (4, 8) or op >= 24:
        _program_size(s, *_asked_size(s, args))
        return True
    return False


def set_lines(s: TermScreen, rows: int) -> None:
    """DECSNLS (``CSI Ps * |``): that many lines, under ``--window-ops resize``."""
    if rows:
        _program_size(s, s.columns, rows)


def _program_size(s: TermScreen, cols: int, rows: int) -> None:
    """A size the program asked for, where ``--window-ops resize`` and the console allow it:
    the terminal takes it at once, so the next report in the same output already says it (as
    in xterm); the server follows with the console, the framebuffer and the viewers (and
    undoes a size over its own caps)."""
    allowed = "resize" in s.window_ops and s.allow_column_mode
    if not allowed or (cols, rows) == (s.columns, s.lines):
        return
    if cols > MAX_SIZE[0] or rows > MAX_SIZE[1]:
        log.info("terminal: %dx%d asked by the program is over %dx%d", cols, rows, *MAX_SIZE)
        return
    s.resize(rows, cols)
    s.resize_request = (cols, rows)


def _asked_size(s: TermScreen, args: list[int]) -> tuple[int, int]:
    """(columns, rows) of a resize: ``8 ; rows ; cols`` in characters, ``4 ; height ; width``
    in pixels (whole cells), DECSLPP ``rows`` (24 and up); 0 or missing keeps a side."""
    op = args[0]
    if op >= 24:
        return s.columns, op
    unit_w, unit_h = s.cell_pixels if op == 4 else (1, 1)
    rows = args[1] // unit_h if len(args) > 1 and args[1] else s.lines
    cols = args[2] // unit_w if len(args) > 2 and args[2] else s.columns
    return max(cols, 1), max(rows, 1)
