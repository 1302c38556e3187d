"""Colour specifications as X11's XParseColor reads them (Xlib manual, "Color Strings"), for
the colours a program sets with OSC 4/5/10-19.

Forms: ``#rgb`` .. ``#rrrrggggbbbb`` (each channel's digits are its high bits), ``rgb:r/g/b``
(1-4 hex digits a channel, scaled to the full range), ``rgbi:r/g/b`` (intensities 0.0-1.0),
the device-independent forms of Xcms (``CIEXYZ:``, ``CIEuvY:``, ``CIExyY:``, ``CIELab:``,
``CIELuv:``, ``TekHVC:``, in ``xcms.py``) and a short table of X colour names. A colour is
0x00RRGGBB: the value an X server with 8 bits a channel gives, which is what xterm reports.
"""

from __future__ import annotations

import functools
import re

from . import xcms

#: The longest specification read (X names are under 30 characters).
MAX_SPEC = 64

_HEX = re.compile(r"[0-9a-fA-F]{1,4}\Z")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?\Z")

#: Some X11 colour names (rgb.txt's values); lookups ignore case and spaces inside a name.
NAMES: dict[str, int] = {
    "black": 0x000000,
    "white": 0xFFFFFF,
    "red": 0xFF0000,
    "green": 0x00FF00,
    "blue": 0x0000FF,
    "yellow": 0xFFFF00,
    "cyan": 0x00FFFF,
    "magenta": 0xFF00FF,
    "gray": 0xBEBEBE,
    "grey": 0xBEBEBE,
    "darkgray": 0xA9A9A9,
    "darkgrey": 0xA9A9A9,
    "lightgray": 0xD3D3D3,
    "lightgrey": 0xD3D3D3,
    "dimgray": 0x696969,
    "dimgrey": 0x696969,
    "orange": 0xFFA500,
    "purple": 0xA020F0,
    "pink": 0xFFC0CB,
    "brown": 0xA52A2A,
    "navy": 0x000080,
    "navyblue": 0x000080,
    "darkred": 0x8B0000,
    "darkgreen": 0x006400,
    "darkblue": 0x00008B,
    "darkcyan": 0x008B8B,
    "darkmagenta": 0x8B008B,
    "darkorange": 0xFF8C00,
    "lightblue": 0xADD8E6,
    "lightgreen": 0x90EE90,
    "lightyellow": 0xFFFFE0,
    "lightgoldenrodyellow": 0xFAFAD2,
    "skyblue": 0x87CEEB,
    "gold": 0xFFD700,
    "violet": 0xEE82EE,
    "maroon": 0xB03060,
    "turquoise": 0x40E0D0,
    "beige": 0xF5F5DC,
    "wheat": 0xF5DEB3,
    "salmon": 0xFA8072,
    "coral": 0xFF7F50,
    "tomato": 0xFF6347,
    "khaki": 0xF0E68C,
    "orchid": 0xDA70D6,
    "plum": 0xDDA0DD,
    "tan": 0xD2B48C,
    "ivory": 0xFFFFF0,
    "snow": 0xFFFAFA,
    "linen": 0xFAF0E6,
    "lavender": 0xE6E6FA,
    "silver": 0xC0C0C0,
    "darkslategray": 0x2F4F4F,
    "darkslategrey": 0x2F4F4F,
    "slategray": 0x708090,
    "slategrey": 0x708090,
    "forestgreen": 0x228B22,
    "seagreen": 0x2E8B57,
    "steelblue": 0x4682B4,
    "royalblue": 0x4169E1,
    "dodgerblue": 0x1E90FF,
    "midnightblue": 0x191970,
    "firebrick": 0xB22222,
    "indianred": 0xCD5C5C,
    "goldenrod": 0xDAA520,
    "chocolate": 0xD2691E,
    "sienna": 0xA0522D,
}
# xterm's own resource defaults use the numbered shades ("red3", "blue2", "gray90", ...)
NAMES.update({"red3": 0xCD0000, "green3": 0x00CD00, "yellow3": 0xCDCD00, "blue2": 0x0000EE})
NAMES.update({"magenta3": 0xCD00CD, "cyan3": 0x00CDCD, "gray90": 0xE5E5E5, "gray50": 0x7F7F7F})


def _grey(name: str) -> int | None:
    """``grayN`` / ``greyN`` (N 0-100): N percent of white, as rgb.txt rounds it."""
    for prefix in ("gray", "grey"):
        if name.startswith(prefix) and name[4:].isdigit() and len(name) <= 7:
            level = int(name[4:])
            if level <= 100:
                return int(level * 2.55 + 0.5) * 0x010101
    return None


def to_8bit(value: int) -> int:
    """A 16-bit X colour channel as 8 bits: its high byte, as the X server gives xterm."""
    return value >> 8


def _rgb16(r: int, g: int, b: int) -> int:
    return to_8bit(r) << 16 | to_8bit(g) << 8 | to_8bit(b)


def _hash(digits: str) -> int | None:
    """``#RGB``, ``#RRGGBB``, ``#RRRGGGBBB``, ``#RRRRGGGGBBBB``: the high bits of each channel."""
    n, extra = divmod(len(digits), 3)
    if extra or not 1 <= n <= 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        return None
    shift = 16 - 4 * n
    r, g, b = (int(digits[i * n : (i + 1) * n], 16) << shift for i in range(3))
    return _rgb16(r, g, b)


def _rgb(body: str) -> int | None:
    """``rgb:R/G/B``, 1 to 4 hex digits each, scaled to 16 bits (further ``/`` fields are
    ignored, as Xlib ignores them)."""
    parts = body.split("/", 3)[:3]
    if len(parts) != 3 or not all(_HEX.match(p) for p in parts):
        return None
    r, g, b = (int(p, 16) * 0xFFFF // ((1 << (4 * len(p))) - 1) for p in parts)
    return _rgb16(r, g, b)


def _floats(body: str) -> tuple[float, float, float] | None:
    parts = body.split("/")
    if len(parts) != 3 or not all(_NUMBER.match(p) for p in parts):
        return None
    return float(parts[0]), float(parts[1]), float(parts[2])


@functools.lru_cache(maxsize=1024)
def parse(spec: str) -> int | None:
    """``spec`` as 0x00RRGGBB, or None when XParseColor would refuse it. (Cached: the
    device-independent forms cost tens of microseconds, and programs repeat their colours.)"""
    if not spec or len(spec) > MAX_SPEC or not spec.isascii():
        return None
    if spec[0] == "#":
        return _hash(spec[1:])
    prefix, colon, body = spec.partition(":")
    if colon:
        prefix = prefix.lower()
        if prefix == "rgb":
            return _rgb(body)
        values = _floats(body)
        if values is None:
            return None
        rgbi = xcms.to_rgbi(prefix, values)
        return None if rgbi is None else xcms.device(rgbi)
    if spec != spec.strip():
        return None
    name = spec.lower().replace(" ", "")
    return NAMES.get(name, _grey(name))


def xrgb(colour: int) -> str:
    """0x00RRGGBB as X11's ``rgb:RRRR/GGGG/BBBB`` (each channel's byte twice, as xterm)."""
    r, g, b = colour >> 16 & 0xFF, colour >> 8 & 0xFF, colour & 0xFF
    return f"rgb:{r:02x}{r:02x}/{g:02x}{g:02x}/{b:02x}{b:02x}"
