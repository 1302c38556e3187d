"""Escape sequences -> ``TermScreen`` calls: the dispatch tables and parameter parsing.

The parser (``parser.py``) finds each sequence's shape (ECMA-48 5.4) and calls :func:`csi`,
:func:`esc` or :func:`osc` here, or looks a C0 control up in :data:`CONTROLS`. Each table maps
what selects a handler to the handler:

* :data:`CONTROLS`: the control character;
* :data:`ESC`: intermediates + final byte (``"7"``, ``"#8"``, ``"(0"``);
* :data:`CSI`: private marker + intermediates + final byte (``"H"``, ``"?h"``, ``" q"``),
  the handler taking the parameters twice: first values (defaults 0) and the parsed groups;
* :data:`OSC`: the command number before the first ``;``.

Supporting a new sequence is one entry here (and the screen method it calls, if new). A
sequence with no entry is ignored. Parameters are clamped and their count capped (xterm's
limits), so hostile ones cost no more than ordinary ones.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from . import rectangles, reports
from .charsets import CHARSET_MAPS
from .colours import DEFAULT_BG, DEFAULT_FG, PALETTE_256
from .screen import TermScreen

#: The largest numeric parameter (larger ones clamp to it, as xterm clamps to its own limit).
MAX_PARAM = 65535
#: Parameters (``;`` groups) read from one CSI, and sub-parameters (``:``) from one group; the
#: rest are ignored, as xterm ignores those beyond its 30.
MAX_PARAMS = 30
MAX_SUBPARAMS = 16
#: The longest SGR parameter string the SGR cache keeps (a hostile one may be 64 KiB).
_SGR_CACHE_KEY = 64
_MAX_CLIPBOARD = 1 << 20

Params = list[list[int | None]]
CsiHandler = Callable[[TermScreen, list[int], Params], None]
OscHandler = Callable[[TermScreen, str, str], None]


def number(text: str, cap: int = MAX_PARAM) -> int | None:
    """``text`` as a decimal number clamped to ``cap``; None unless it is ASCII digits.

    The digits' count is checked before ``int()``, which refuses strings of more than 4300
    digits (and a guest may send 5000)."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    return min(int(digits), cap) if len(digits) <= len(str(cap)) else cap


def parse_params(raw: str) -> Params:
    """``"38:2::1:2:3;1"`` -> ``[[38, 2, None, 1, 2, 3], [1]]`` (values clamped to MAX_PARAM,
    at most MAX_PARAMS groups of at most MAX_SUBPARAMS values)."""
    return [
        [number(v) for v in group.split(":", MAX_SUBPARAMS)[:MAX_SUBPARAMS]]
        for group in raw.split(";", MAX_PARAMS)[:MAX_PARAMS]
    ]


# -- C0 controls ---------------------------------------------------------------------------------

#: C0 control -> handler; the others are ignored. (VT and FF act as LF.)
CONTROLS: dict[str, Callable[[TermScreen], None]] = {
    "\n": TermScreen.linefeed,
    "\x0b": TermScreen.linefeed,
    "\x0c": TermScreen.linefeed,
    "\r": TermScreen.carriage_return,
    "\x08": TermScreen.backspace,
    "\t": TermScreen.tab,
    "\x07": TermScreen.bell,
    "\x0e": TermScreen.shift_out,
    "\x0f": TermScreen.shift_in,
}


def control(screen: TermScreen, c: str) -> None:
    """A C0 control character (the parser's loops look :data:`CONTROLS` up themselves)."""
    handler = CONTROLS.get(c)
    if handler is not None:
        handler(screen)


# -- ESC -----------------------------------------------------------------------------------------


def _keypad(application: bool) -> Callable[[TermScreen], None]:
    def handler(s: TermScreen) -> None:
        s.keypad_application = application

    return handler


def _designate(code: str, mode: str) -> Callable[[TermScreen], None]:
    return lambda s: s.define_charset(code, mode)


#: Intermediates + final -> handler (``ESC 7``, ``ESC # 8``, ``ESC ( 0``).
ESC: dict[str, Callable[[TermScreen], None]] = {
    "7": lambda s: s.save_cursor(),  # DECSC
    "8": lambda s: s.restore_cursor(),  # DECRC
    "D": lambda s: s.index(),  # IND
    "E": lambda s: s.next_line(),  # NEL
    "M": lambda s: s.reverse_index(),  # RI
    "H": lambda s: s.set_tab_stop(),  # HTS
    "c": lambda s: s.reset(),  # RIS
    "=": _keypad(True),  # DECKPAM
    ">": _keypad(False),  # DECKPNM
    "#8": lambda s: s.alignment_display(),  # DECALN
    "Z": lambda s: _da(s, [0], [[None]]),  # DECID: answered as DA
    "V": lambda s: s.protect(True, "iso"),  # SPA
    "W": lambda s: s.protect(False, "iso"),  # EPA
    "6": lambda s: s.back_index(),  # DECBI
    "9": lambda s: s.forward_index(),  # DECFI
    # G0 and G1 designation (SCS); G2 and G3 are not supported
    **{mode + code: _designate(code, mode) for code in CHARSET_MAPS for mode in "()"},
}


def esc(screen: TermScreen, inter: str, final: str) -> None:
    """``ESC [intermediates] final``."""
    handler = ESC.get(inter + final)
    if handler is not None:
        handler(screen)


# -- OSC -----------------------------------------------------------------------------------------


def _xrgb(colour: int) -> str:
    """0x00RRGGBB as X11's ``rgb:RRRR/GGGG/BBBB`` (each channel's byte twice, as xterm)."""
    r, g, b = colour >> 16 & 0xFF, colour >> 8 & 0xFF, colour & 0xFF
    return f"rgb:{r:02x}{r:02x}/{g:02x}{g:02x}/{b:02x}{b:02x}"


def _palette_query(s: TermScreen, text: str, terminator: str) -> None:
    """OSC 4 ``; index ; ? ...``: each queried palette entry, one reply apiece, as
    ``OSC 4 ; index ; rgb:RRRR/GGGG/BBBB``. Setting entries is not supported."""
    params = text.split(";", 2 * len(PALETTE_256))[: 2 * len(PALETTE_256)]  # one per entry
    for index, spec in zip(params[::2], params[1::2], strict=False):
        entry = number(index)
        if spec == "?" and entry is not None and entry < 256:
            rgb = _xrgb(PALETTE_256[entry])
            s.write_process_input(f"\x1b]4;{entry};{rgb}{terminator}")


def _dynamic_colour_query(code: int) -> OscHandler:
    """OSC 10/11 ``; ?``: the default foreground / background. Further parameters go to the
    following colours (``OSC 10 ; ? ; ?`` asks for both), as in xterm."""
    colours = {10: DEFAULT_FG, 11: DEFAULT_BG}

    def handler(s: TermScreen, text: str, terminator: str) -> None:
        for i, spec in enumerate(text.split(";")):
            if spec == "?" and code + i in colours:
                rgb = _xrgb(colours[code + i])
                s.write_process_input(f"\x1b]{code + i};{rgb}{terminator}")

    return handler


def _set_clipboard(s: TermScreen, text: str, terminator: str) -> None:
    """OSC 52 ``Pc ; base64``: the program sets the clipboard. Queries (``?``) are not
    answered: a program may not read the viewers' clipboards."""
    _, _, data = text.partition(";")
    if data == "?" or len(data) > 4 * (_MAX_CLIPBOARD // 3) + 4:
        return
    try:
        s.clipboard = base64.b64decode(data, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return


def _title_and_icon(s: TermScreen, text: str, terminator: str) -> None:
    s.set_title(text)
    s.set_icon_name(text)


#: Command number -> handler (window title and icon name, clipboard, colour queries).
OSC: dict[str, OscHandler] = {
    "0": _title_and_icon,
    "1": lambda s, text, term: s.set_icon_name(text),
    "2": lambda s, text, term: s.set_title(text),
    "4": _palette_query,
    "10": _dynamic_colour_query(10),
    "11": _dynamic_colour_query(11),
    "52": _set_clipboard,
}


def osc(screen: TermScreen, body: str, terminator: str) -> None:
    """An operating system command; replies end with ``terminator``, as the query did."""
    code, _, text = body.partition(";")
    handler = OSC.get(code)
    if handler is not None:
        handler(screen, text, terminator)


# -- DCS -----------------------------------------------------------------------------------------

DcsHandler = Callable[[TermScreen, Params, str], None]
#: Parameters, intermediates and final of a DCS (ECMA-48 8.3.27); its data follows.
_DCS_HEADER = re.compile("([0-?]*)([ -/]*)([@-~])")

#: Private marker + intermediates + final -> handler (parameters, the data string).
DCS: dict[str, DcsHandler] = {
    "$q": lambda s, p, data: reports.request_setting(s, data),  # DECRQSS
}


def dcs(screen: TermScreen, body: str) -> None:
    """A device control string (its body, without DCS and ST; the parser caps its length)."""
    m = _DCS_HEADER.match(body)
    if m is None:
        return
    raw, inter, final = m.groups()
    marker = raw[0] if raw and raw[0] in "<=>?" else ""
    handler = DCS.get(marker + inter + final)
    if handler is not None:
        raw = raw[len(marker) :]
        handler(screen, parse_params(raw) if raw else [[None]], body[m.end() :])


# -- CSI -----------------------------------------------------------------------------------------

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


def _cup(s: TermScreen, a: list[int], p: Params) -> None:
    s.cursor_position(a[0], a[1] if len(a) > 1 else 0)


def _margins(s: TermScreen, a: list[int], p: Params) -> None:
    if len(a) == 1 and a[0] == 0:
        s.set_margins()
        s.cursor_position()
    else:
        s.set_margins(a[0] or None, a[1] if len(a) > 1 and a[1] else None)


#: DA1 as a VT420 (the level vttest and others read from "?64"), with the extensions this
#: terminal has: 132 columns (1), selective erase (6), horizontal scrolling (21), ANSI colour
#: (22) and rectangular editing (28); xterm -ti vt420 adds printer, NRCS, locator, windows.
PRIMARY_DA = "\x1b[?64;1;6;21;22;28c"


def _da(s: TermScreen, a: list[int], p: Params) -> None:
    if a[0] == 0:
        s.write_process_input(PRIMARY_DA)


def _secondary_da(s: TermScreen, a: list[int], p: Params) -> None:
    if a[0] == 0:
        s.write_process_input("\x1b[>0;10;1c")


def _scroll_down(s: TermScreen, a: list[int], p: Params) -> None:
    if len(a) == 1:  # five parameters is xterm's mouse highlight tracking, not SD
        s.scroll_down(a[0])


def _cursor_style(s: TermScreen, a: list[int], p: Params) -> None:
    s.cursor_shape, s.cursor_blink = CURSOR_STYLES.get(a[0], (s.cursor_shape, s.cursor_blink))


def _soft_reset(s: TermScreen, a: list[int], p: Params) -> None:
    s.soft_reset()


def _window_op(s: TermScreen, a: list[int], p: Params) -> None:
    """xterm's window operations: the reports and resizing (``reports.py``, gated by
    ``window_ops``), else the title stack."""
    if not reports.window_report(s, a):
        s.window_op(a)


def _first_only(handler: Callable[[TermScreen], None]) -> CsiHandler:
    """A request answered only with no parameter or 0 (DA3, XTVERSION)."""
    return lambda s, a, p: handler(s) if a[0] == 0 else None


#: Private marker + intermediates + final -> handler.
CSI: dict[str, CsiHandler] = {
    "@": lambda s, a, p: s.insert_characters(a[0]),  # ICH
    "A": lambda s, a, p: s.cursor_up(a[0]),  # CUU
    "B": lambda s, a, p: s.cursor_down(a[0]),  # CUD
    "C": lambda s, a, p: s.cursor_forward(a[0]),  # CUF
    "D": lambda s, a, p: s.cursor_back(a[0]),  # CUB
    "E": lambda s, a, p: s.cursor_down1(a[0]),  # CNL
    "F": lambda s, a, p: s.cursor_up1(a[0]),  # CPL
    "G": lambda s, a, p: s.cursor_to_column(a[0]),  # CHA
    "H": _cup,  # CUP
    "f": _cup,  # HVP
    "J": lambda s, a, p: s.erase_in_display(a[0]),  # ED
    "K": lambda s, a, p: s.erase_in_line(a[0]),  # EL
    "L": lambda s, a, p: s.insert_lines(a[0]),  # IL
    "M": lambda s, a, p: s.delete_lines(a[0]),  # DL
    "P": lambda s, a, p: s.delete_characters(a[0]),  # DCH
    "S": lambda s, a, p: s.scroll_up(a[0]),  # SU
    "T": _scroll_down,  # SD
    "X": lambda s, a, p: s.erase_characters(a[0]),  # ECH
    "Z": lambda s, a, p: s.back_tab(a[0]),  # CBT
    "`": lambda s, a, p: s.cursor_to_column(a[0]),  # HPA
    "a": lambda s, a, p: s.cursor_forward(a[0]),  # HPR
    "b": lambda s, a, p: s.repeat(a[0]),  # REP
    "c": _da,  # DA
    "d": lambda s, a, p: s.cursor_to_line(a[0]),  # VPA
    "e": lambda s, a, p: s.cursor_down(a[0]),  # VPR
    "g": lambda s, a, p: s.clear_tab_stop(a[0]),  # TBC
    "h": lambda s, a, p: s.set_mode(*a),  # SM
    "l": lambda s, a, p: s.reset_mode(*a),  # RM
    "m": lambda s, a, p: s.select_graphic_rendition_params(p),  # SGR
    "n": lambda s, a, p: reports.device_status(s, a[0], False, a),  # DSR
    "?n": lambda s, a, p: reports.device_status(s, a[0], True, a),  # DEC DSR
    "$p": lambda s, a, p: reports.request_mode(s, a[0], False),  # DECRQM (ANSI)
    "?$p": lambda s, a, p: reports.request_mode(s, a[0], True),  # DECRQM (DEC private)
    "?s": lambda s, a, p: reports.save_modes(s, a),  # XTSAVE
    "?r": lambda s, a, p: reports.restore_modes(s, a),  # XTRESTORE
    "I": lambda s, a, p: s.forward_tab(a[0]),  # CHT
    " @": lambda s, a, p: s.scroll_columns(a[0] or 1, True, 0),  # SL
    " A": lambda s, a, p: s.scroll_columns(a[0] or 1, False, 0),  # SR
    "'}": lambda s, a, p: s.scroll_columns(a[0] or 1, False, s.cursor.x),  # DECIC
    "'~": lambda s, a, p: s.scroll_columns(a[0] or 1, True, s.cursor.x),  # DECDC
    "*y": lambda s, a, p: reports.checksum_report(s, a),  # DECRQCRA
    "$x": lambda s, a, p: rectangles.fill(s, a),  # DECFRA
    "$z": lambda s, a, p: rectangles.erase(s, a),  # DECERA
    "${": lambda s, a, p: rectangles.selective_erase(s, a),  # DECSERA
    "$v": lambda s, a, p: rectangles.copy(s, a),  # DECCRA
    "$r": lambda s, a, p: rectangles.change_attributes(s, p),  # DECCARA
    "$t": lambda s, a, p: rectangles.reverse_attributes(s, p),  # DECRARA
    "*x": lambda s, a, p: setattr(s, "attribute_extent", a[0]),  # DECSACE
    "*|": lambda s, a, p: reports.set_lines(s, a[0]),  # DECSNLS
    ">q": _first_only(reports.version_report),  # XTVERSION
    "=c": _first_only(reports.tertiary_attributes),  # DA3
    "r": _margins,  # DECSTBM
    "s": lambda s, a, p: s.save_cursor(),  # SCOSC
    "t": _window_op,  # xterm window operations
    "u": lambda s, a, p: s.restore_cursor(),  # SCORC
    "?h": lambda s, a, p: s.set_mode(*a, private=True),  # DECSET
    "?l": lambda s, a, p: s.reset_mode(*a, private=True),  # DECRST
    "?J": lambda s, a, p: s.erase_in_display(a[0], selective=True),  # DECSED
    "?K": lambda s, a, p: s.erase_in_line(a[0], selective=True),  # DECSEL
    '"q': lambda s, a, p: s.protect(a[0] == 1, "dec"),  # DECSCA
    ">c": _secondary_da,  # DA2
    " q": _cursor_style,  # DECSCUSR
    # DECSTR; a private marker before it has always been ignored, not the sequence
    **{marker + "!p": _soft_reset for marker in ("", "<", "=", ">", "?")},
}


def csi(screen: TermScreen, raw: str, inter: str, final: str) -> None:
    """``CSI [marker] params [intermediates] final``: ``raw`` is the marker and parameters.

    In fast mode an SGR with a short parameter string goes through the screen's cache:
    (parameters, attributes, reverse video) -> attributes. (Inline: SGR is the commonest
    sequence in coloured output.)"""
    if (
        final == "m"
        and not inter
        and screen.fast
        and len(raw) <= _SGR_CACHE_KEY
        and not (raw and raw[0] in "<=>?")
    ):
        key = (raw, screen.cursor.attrs)
        attrs = screen._sgr_cache.get(key)
        if attrs is None:
            screen.select_graphic_rendition_params(parse_params(raw) if raw else [[None]])
            if len(screen._sgr_cache) > 1024:
                screen._sgr_cache.clear()
            screen._sgr_cache[key] = screen.cursor.attrs
        else:
            screen.cursor.attrs = attrs
        return
    marker = ""
    if raw and raw[0] in "<=>?":
        marker, raw = raw[0], raw[1:]
    handler = CSI.get(marker + inter + final if marker or inter else final)
    if handler is not None:
        params: Params = parse_params(raw) if raw else [[None]]
        handler(screen, [group[0] or 0 for group in params], params)
