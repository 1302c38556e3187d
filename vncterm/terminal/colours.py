"""Terminal colours as 0x00RRGGBB integers: the 16 ANSI colours, the 256 palette, truecolor;
and :class:`TermColours`, the colours of one terminal that its program may change (OSC 4, 5,
10-19: xterm's ctlseqs, "Operating System Commands").

Cells name their colours (``Char.fg``/``Char.bg``): ``"default"``, one of the 16 ANSI names
of SGR 30-37/90-97 (``"red"``, ``"brightred"``), ``"p"`` and the palette index of SGR 38;5
(``"p196"``; ``"p1"`` is palette entry 1 without SGR 31's bold brightening), or six hex digits
of direct RGB. Names and indices are resolved through the terminal's palette when drawn, so a
palette change recolours what is on the screen; direct RGB stays as it is.
"""

from __future__ import annotations

import itertools
from typing import Any

# xterm's default 16-colour palette.
ANSI_16 = (
    0x000000,
    0xCD0000,
    0x00CD00,
    0xCDCD00,
    0x0000EE,
    0xCD00CD,
    0x00CDCD,
    0xE5E5E5,
    0x7F7F7F,
    0xFF0000,
    0x00FF00,
    0xFFFF00,
    0x5C5CFF,
    0xFF00FF,
    0x00FFFF,
    0xFFFFFF,
)
_NAMES = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")
# pyte names colours after SGR 30-37 ("brown" is yellow) and 90-97 ("bright" + name).
NAMED: dict[str, int] = {name: ANSI_16[i] for i, name in enumerate(_NAMES)}
NAMED.update({"bright" + name: ANSI_16[8 + i] for i, name in enumerate(_NAMES)})
NAMED["yellow"] = NAMED["brown"]
NAMED["brightyellow"] = NAMED["brightbrown"]

DEFAULT_FG = 0xE5E5E5
DEFAULT_BG = 0x000000


def palette_256() -> list[int]:
    """The xterm 256-colour palette: 16 ANSI, a 6x6x6 cube, 24 greys."""
    levels = (0, 95, 135, 175, 215, 255)
    cube = [
        (levels[r] << 16) | (levels[g] << 8) | levels[b]
        for r in range(6)
        for g in range(6)
        for b in range(6)
    ]
    greys = [((8 + 10 * i) * 0x010101) for i in range(24)]
    return list(ANSI_16) + cube + greys


#: The 256-colour palette as drawn (colours 16-255 are also what SGR 38;5 / 48;5 select).
PALETTE_256: tuple[int, ...] = tuple(palette_256())

#: A cell colour name -> its palette index (the 16 ANSI colours).
NAME_INDEX: dict[str, int] = {name: i for i, name in enumerate(_NAMES)}
NAME_INDEX.update({"bright" + name: 8 + i for i, name in enumerate(_NAMES)})
NAME_INDEX["yellow"], NAME_INDEX["brightyellow"] = 3, 11


_CELL_COLOURS = tuple(f"p{index}" for index in range(256))


def cell_colour(index: int) -> str:
    """How a cell names palette entry ``index`` (0-255) that SGR 38;5 / 48;5 chose."""
    return _CELL_COLOURS[index]


def palette_index(colour: str) -> int | None:
    """The palette index a cell colour names (see the module docstring), else None."""
    index = NAME_INDEX.get(colour)
    if index is None and colour[:1] == "p" and colour[1:].isdigit() and len(colour) <= 4:
        index = int(colour[1:])
        if index > 255:
            return None
    return index


def resolve(colour: str, default: int, palette: Any = PALETTE_256) -> int:
    """A cell colour (see the module docstring) as 0x00RRGGBB through ``palette``."""
    if colour == "default":
        return default
    index = palette_index(colour)
    if index is not None:
        return int(palette[index])
    try:
        return int(colour, 16) & 0xFFFFFF
    except ValueError:
        return default


#: Colours of OSC 5 (0 bold, 1 underline, 2 blink, 3 reverse, 4 italic); OSC 4 reaches them
#: past the palette, as 256-260.
SPECIAL = 5
#: The dynamic colours of OSC 10-19 that start as the default background (the others start
#: as the foreground): 11 text background, 14 pointer background, 16 Tektronix background,
#: 19 highlight foreground.
_DYNAMIC_BG = (11, 14, 16, 19)
#: Each change of any terminal's colours takes the next number (a renderer compares them).
_GENERATIONS = itertools.count(1)


class TermColours:
    """The colours of one terminal that its program may change: the 256-colour palette, the
    special colours (OSC 5) and the dynamic colours (OSC 10-19: 10 text foreground, 11 text
    background, 12 cursor, 13/14 pointer, 15/16/18 Tektronix, 17/19 highlight background and
    foreground). :attr:`generation` changes whenever a colour the screen shows changes."""

    def __init__(self) -> None:
        self.palette: list[int] = list(PALETTE_256)
        self.special: list[int] = [DEFAULT_FG] * SPECIAL
        self.dynamic: dict[int, int] = {}
        self.generation = next(_GENERATIONS)

    @property
    def fg(self) -> int:
        return self.dynamic.get(10, DEFAULT_FG)

    @property
    def bg(self) -> int:
        return self.dynamic.get(11, DEFAULT_BG)

    @property
    def cursor(self) -> int | None:
        """The cursor colour (OSC 12) when a program set one, else None (drawn reversed)."""
        return self.dynamic.get(12)

    def changed(self) -> None:
        self.generation = next(_GENERATIONS)

    def get(self, index: int) -> int:
        """Palette entry ``index`` (0-255), or special colour ``index - 256`` (256-260)."""
        return self.palette[index] if index < 256 else self.special[index - 256]

    def set(self, index: int, colour: int) -> None:
        if colour == self.get(index):
            return
        if index < 256:
            self.palette[index] = colour
        else:
            self.special[index - 256] = colour
        self.changed()

    def reset(self, index: int) -> None:
        self.set(index, PALETTE_256[index] if index < 256 else DEFAULT_FG)

    def get_dynamic(self, code: int) -> int:
        """Dynamic colour ``code`` (10-19)."""
        default = DEFAULT_BG if code in _DYNAMIC_BG else DEFAULT_FG
        return self.dynamic.get(code, default)

    def set_dynamic(self, code: int, colour: int | None) -> None:
        """Set dynamic colour ``code`` (10-19); None resets it."""
        if self.dynamic.get(code) == colour:
            return
        if colour is None:
            self.dynamic.pop(code, None)
        else:
            self.dynamic[code] = colour
        self.changed()

    def reset_palette(self) -> None:
        """RIS and DECSTR: the 256 palette entries back to their defaults (xterm keeps the
        others)."""
        if self.palette != list(PALETTE_256):
            self.palette = list(PALETTE_256)
            self.changed()

    def dump(self) -> dict[str, Any]:
        """What differs from the defaults, JSON-ready (``{}`` when nothing does)."""
        out: dict[str, Any] = {}
        changed = {str(i): c for i, c in enumerate(self.palette) if c != PALETTE_256[i]}
        if changed:
            out["palette"] = changed
        if any(c != DEFAULT_FG for c in self.special):
            out["special"] = list(self.special)
        if self.dynamic:
            out["dynamic"] = {str(k): v for k, v in sorted(self.dynamic.items())}
        return out

    def load(self, state: Any) -> None:
        """Take a :meth:`dump`; ValueError (nothing changed) when it is not one."""
        if not isinstance(state, dict) or set(state) - {"palette", "special", "dynamic"}:
            raise ValueError("colours: not an object of palette, special, dynamic")
        palette = list(PALETTE_256)
        for key, colour in _entries(state.get("palette", {}), 0, 255):
            palette[key] = colour
        special = state.get("special", [DEFAULT_FG] * SPECIAL)
        if not isinstance(special, list) or len(special) != SPECIAL:
            raise ValueError("colours: special is not a list of 5")
        special = [_colour(c) for c in special]
        dynamic = dict(_entries(state.get("dynamic", {}), 10, 19))
        self.palette, self.special, self.dynamic = palette, special, dynamic
        self.changed()


def _colour(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFF:
        raise ValueError("colours: a colour is not an integer 0-0xffffff")
    return value


def _entries(raw: Any, low: int, high: int) -> list[tuple[int, int]]:
    """``{"index": colour}`` checked: indices ``low``-``high``, colours 24-bit."""
    if not isinstance(raw, dict) or len(raw) > 256:
        raise ValueError("colours: not an object of at most 256 entries")
    out = []
    for key, colour in raw.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) <= 3):
            raise ValueError("colours: an index is not a number")
        if not low <= int(key) <= high:
            raise ValueError("colours: an index out of range")
        out.append((int(key), _colour(colour)))
    return out
