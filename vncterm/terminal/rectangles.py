"""VT420 rectangular area operations as xterm 379 does them (ctlseqs; VT510 manual): DECFRA
(fill), DECERA (erase), DECSERA (selective erase: the characters only), DECCRA (copy), and
DECCARA/DECRARA (change/reverse attributes, over a rectangle or a stream per DECSACE).

A rectangle is parsed as xterm parses one (``parse_rect``: 1-based, defaults for 0 or missing
values, rows relative to the scroll region in origin mode, a refused rectangle does nothing).
In origin mode the scroll region is the rectangle of both pairs of margins (DECSTBM, DECSLRM).
Wide characters are not split specially.
"""

from __future__ import annotations

from typing import Any

from pyte import modes as mo

from .screen import TermScreen
from .widths import char_width

Rect = tuple[int, int, int, int]  # top, left, bottom, right: 1-based, inclusive


def _limits(s: TermScreen) -> tuple[int, int, int, int]:
    """(min row, min column, max row, max column), 1-based: the scroll region in origin
    mode, else the screen."""
    if mo.DECOM in s.mode:
        (top, bottom), (left, right) = s.tb(), s.lr()
        return top + 1, left + 1, bottom + 1, right + 1
    return 1, 1, s.lines, s.columns


def parse_rect(s: TermScreen, params: list[int]) -> Rect | None:
    """A rectangle as xterm's xtermParseRect reads one: 0 or missing takes the default,
    origin mode offsets it from the region's top left, out-of-range values clamp (the top
    and left one further, so that they can be refused); None when xterm's validRect would
    refuse it."""
    min_row, min_col, max_row, max_col = _limits(s)
    origin = mo.DECOM in s.mode
    offset, col_offset = min_row - 1 if origin else 0, min_col - 1 if origin else 0

    def value(i: int, default: int, low: int, high: int, shift: int) -> int:
        v = params[i] if len(params) > i and params[i] > 0 else default
        return min(max(v + shift, low), high)

    top = value(0, min_row, min_row, max_row + 1, offset)
    left = value(1, min_col, min_col, max_col + 1, col_offset)
    bottom = value(2, max_row, min_row, max_row, offset)
    right = value(3, max_col, min_col, max_col, col_offset)
    if top > bottom or left > right or top > max_row or right > max_col:
        return None
    return top, left, bottom, right


def _fill(s: TermScreen, rect: Rect | None, char: str) -> None:
    """Cells of ``rect`` become ``char`` in the current attributes; a cell keeps its own
    colour where the current one is the default (xterm's ScrnFillRectangle, keepColors)."""
    if rect is None:
        return
    top, left, bottom, right = rect
    attrs: Any = s.cursor.attrs
    for y in range(top - 1, bottom):
        line = s.buffer[y]
        for x in range(left - 1, right):
            old = line[x]
            line[x] = attrs._replace(
                data=char,
                fg=attrs.fg if attrs.fg != "default" else old.fg,
                bg=attrs.bg if attrs.bg != "default" else old.bg,
            )
        s.dirty.add(y)


def fill(s: TermScreen, args: list[int]) -> None:
    """DECFRA ``CSI Pch ; Pt ; Pl ; Pb ; Pr $ x``: fill with the character Pch."""
    code = args[0]
    if not code or code > 0x10FFFF or char_width(chr(code)) <= 0:
        return
    _fill(s, parse_rect(s, args[1:]), chr(code))


def erase(s: TermScreen, args: list[int]) -> None:
    """DECERA ``CSI Pt ; Pl ; Pb ; Pr $ z``: blanks, in the current attributes (xterm)."""
    _fill(s, parse_rect(s, args), " ")


def selective_erase(s: TermScreen, args: list[int]) -> None:
    """DECSERA ``CSI Pt ; Pl ; Pb ; Pr $ {``: the characters become spaces, attributes stay,
    cells DECSCA protected are spared (xterm's ScrnWipeRectangle)."""
    rect = parse_rect(s, args)
    if rect is None:
        return
    top, left, bottom, right = rect
    keep = s.protection == "dec"
    for y in range(top - 1, bottom):
        line = s.buffer[y]
        for x in range(left - 1, right):
            if not (keep and line[x].protected):
                line[x] = line[x]._replace(data=" ")
        s.dirty.add(y)


def copy(s: TermScreen, args: list[int]) -> None:
    """DECCRA ``CSI Pts ; Pls ; Pbs ; Prs ; Pps ; Ptd ; Pld ; Ppd $ v``: the source rectangle
    copied (as it was) to the destination's top left, clipped to the screen (or the scroll
    region in origin mode)."""
    source = parse_rect(s, args[:4])
    target = parse_rect(s, args[5:7])
    if source is None or target is None:
        return
    top, left, bottom, right = source
    cells = [[s.buffer[y][x] for x in range(left - 1, right)] for y in range(top - 1, bottom)]
    min_row, min_col, max_row, max_col = _limits(s)
    for j, row in enumerate(cells):
        y = target[0] - 1 + j
        if not min_row - 1 <= y <= max_row - 1:
            continue
        line = s.buffer[y]
        for k, cell in enumerate(row):
            x = target[1] - 1 + k
            if min_col - 1 <= x <= max_col - 1:
                line[x] = cell
        s.dirty.add(y)


#: DECCARA's SGR parameters: (attribute, value); 0 clears them all (xterm: bold, underline,
#: blink, inverse, invisible).
_CARA: dict[int, tuple[str, bool]] = {
    1: ("bold", True),
    4: ("underscore", True),
    5: ("blink", True),
    7: ("reverse", True),
    8: ("hidden", True),
    22: ("bold", False),
    24: ("underscore", False),
    25: ("blink", False),
    27: ("reverse", False),
    28: ("hidden", False),
}
_RARA = {1: "bold", 4: "underscore", 5: "blink", 7: "reverse", 8: "hidden"}


def _extent(s: TermScreen, rect: Rect) -> list[tuple[int, int, int]]:
    """(row, first column, last column), 0-based, that DECCARA/DECRARA change: the rectangle
    under DECSACE 2, else the stream of character positions from its top left to its bottom
    right (whole rows between), as xterm's ScrnMarkRectangle."""
    top, left, bottom, right = rect
    if s.attribute_extent == 2:
        return [(y, left - 1, right - 1) for y in range(top - 1, bottom)]
    last = s.columns - 1
    return [
        (y, left - 1 if y == top - 1 else 0, right - 1 if y == bottom - 1 else last)
        for y in range(top - 1, bottom)
    ]


def _mark(s: TermScreen, params: list[list[int | None]], reverse: bool) -> None:
    values = [group[0] for group in params]
    rect = parse_rect(s, [v or 0 for v in values[:4]])
    codes = [v for v in values[4:] if v is not None]
    if rect is None or not codes:
        return
    for y, x0, x1 in _extent(s, rect):
        line = s.buffer[y]
        for x in range(x0, x1 + 1):
            cell = line[x]
            change: dict[str, bool] = {}
            for code in codes:
                if reverse:
                    name = _RARA.get(code)
                    if name is not None:
                        change[name] = not change.get(name, getattr(cell, name))
                elif code == 0:
                    change.update(dict.fromkeys(_RARA.values(), False))
                elif code in _CARA:
                    name, on = _CARA[code]
                    change[name] = on
            if change:
                line[x] = cell._replace(**change)
        s.dirty.add(y)


def change_attributes(s: TermScreen, params: list[list[int | None]]) -> None:
    """DECCARA ``CSI Pt ; Pl ; Pb ; Pr ; Ps... $ r``: set or clear SGR attributes."""
    _mark(s, params, reverse=False)


def reverse_attributes(s: TermScreen, params: list[list[int | None]]) -> None:
    """DECRARA ``CSI Pt ; Pl ; Pb ; Pr ; Ps... $ t``: toggle SGR attributes."""
    _mark(s, params, reverse=True)
