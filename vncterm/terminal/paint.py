"""The screen as the escape sequences that draw it (ECMA-48 CUP, SGR, EL; xterm's 38;2 colours):
what a recording starts with when vncterm comes back with a restored screen, so a player shows
it instead of an empty terminal.

Played on a fresh terminal of the same size, the text sets the palette and default colours
the program changed (OSC 4, 10-12) and draws the same cells (colours, attributes,
wide and combining characters), sets the title and leaves the cursor where it was, hidden if it
was, with attributes reset. Modes, margins and the scrollback are not drawn.
"""

from __future__ import annotations

from typing import Any

from pyte import modes as mo

from .colours import PALETTE_256, TermColours, palette_index
from .screen import TermScreen
from .xcolours import xrgb

#: SGR codes of the attributes, in ``Char`` field order after fg and bg.
_FLAGS = (("bold", 1), ("italics", 3), ("underscore", 4), ("strikethrough", 9), ("reverse", 7))
_MORE = (("blink", 5), ("hidden", 8), ("dim", 2))


def _colour(colour: str, base: int) -> str:
    """SGR parameters for a colour (``base`` 30 foreground, 40 background)."""
    if colour == "default":
        return str(base + 9)
    index = palette_index(colour)
    if index is not None and colour[0] == "p":
        return f"{base + 8};5;{index}"
    if index is not None:
        return str(base + index if index < 8 else base + 52 + index)
    try:
        r, g, b = int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)
    except ValueError:
        return str(base + 9)
    return f"{base + 8};2;{r};{g};{b}"


def sgr(cell: Any) -> str:
    """The SGR sequence giving a cell's attributes from a reset."""
    params = ["0"]
    for name, code in (*_FLAGS, *_MORE):
        if getattr(cell, name):
            params.append(str(code))
    if cell.fg != "default":
        params.append(_colour(cell.fg, 30))
    if cell.bg != "default":
        params.append(_colour(cell.bg, 40))
    return f"\x1b[{';'.join(params)}m"


def _colours(colours: TermColours) -> str:
    """OSC 4 and OSC 10-12 for the colours the program changed (xterm's ctlseqs)."""
    out = []
    for index, rgb in enumerate(colours.palette):
        if rgb != PALETTE_256[index]:
            out.append(f"\x1b]4;{index};{xrgb(rgb)}\x1b\\")
    for code in (10, 11, 12):
        if code in colours.dynamic:
            out.append(f"\x1b]{code};{xrgb(colours.dynamic[code])}\x1b\\")
    return "".join(out)


def paint(screen: TermScreen) -> str:
    """Sequences drawing ``screen``'s cells, title and cursor (see the module docstring)."""
    out = ["\x1b[0m\x1b[H\x1b[2J", _colours(screen.colours)]
    if screen.title:
        out.append(f"\x1b]2;{screen.title}\x07")
    for y in range(screen.lines):
        line = screen.buffer[y]
        out.append(f"\x1b[{y + 1};1H")
        style = None
        for x in range(screen.columns):
            cell = line[x]
            if cell.data == "":  # the right half of a wide character
                continue
            attrs = tuple(cell)[1:]
            if attrs != style:
                out.append(sgr(cell))
                style = attrs
            out.append(cell.data or " ")
    cursor = screen.cursor
    out.append(f"\x1b[0m\x1b[{cursor.y + 1};{min(cursor.x, screen.columns - 1) + 1}H")
    if mo.DECTCEM not in screen.mode or cursor.hidden:
        out.append("\x1b[?25l")
    return "".join(out)
