"""Terminal colours as 0x00RRGGBB integers: the 16 ANSI colours, the 256 palette, truecolor."""

from __future__ import annotations

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


def resolve(colour: str, default: int) -> int:
    """A pyte colour ("default", a name, or six hex digits) as 0x00RRGGBB."""
    if colour == "default":
        return default
    named = NAMED.get(colour)
    if named is not None:
        return named
    try:
        return int(colour, 16) & 0xFFFFFF
    except ValueError:
        return default


#: The 256-colour palette as drawn (colours 16-255 are also what SGR 38;5 / 48;5 select).
PALETTE_256: tuple[int, ...] = tuple(palette_256())
