"""SGR (ECMA-48 8.3.117, and xterm's extensions): what a parameter list does to attributes.

Parameters come parsed (``sequences.parse_params``): ``;`` groups of ``:`` sub-parameters.
Colours are spelled as ``colours.py`` says: names (``"red"``, ``"brightred"``, ``"default"``),
``p`` + index for the palette entries of ``38;5;n``, and six hex
digits for direct RGB (``38;2;r;g;b`` or ``38:2::r:g:b``).
"""

from __future__ import annotations

from typing import Any

from .colours import cell_colour
from .scrollback import Char

_NAMES = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")
#: What SGR 0 resets: everything but the text and the protection (DECSCA is not an SGR).
_PLAIN = {k: v for k, v in Char(data=" ")._asdict().items() if k not in ("data", "protected")}
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


def rendition(params: list[list[int | None]]) -> dict[str, Any]:
    """The attribute changes of one SGR (for ``Char._replace``); empty if it changes nothing.
    (Screen reverse video, DECSCNM, is drawn by the renderer: SGR 0 is the plain cell.)"""
    replace: dict[str, Any] = {}
    i = 0
    while i < len(params):
        group = params[i]
        code = group[0] or 0
        i += 1
        if code == 0:
            replace = dict(_PLAIN)
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
    return replace


def _extended_colour(values: list[int | None], colon: bool) -> str | None:
    """The colour of ``5:n`` or ``2:[colourspace:]r:g:b`` (values after the 38/48)."""
    if not values:
        return None
    kind = values[0]
    if kind == 5 and len(values) >= 2 and values[1] is not None:
        return cell_colour(values[1]) if values[1] < 256 else None
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
