"""How many cells a character takes (wcwidth, cached), and its cells as drawn.

0 means it combines with the cell before; -1 that it draws nothing (controls, surrogates);
characters wcwidth does not know take one cell, as in xterm.
"""

from __future__ import annotations

import unicodedata
from itertools import chain

from wcwidth import wcwidth

#: Cached display widths (see char_width).
WIDTHS: dict[str, int] = {}
#: Cached cells of characters that take one or two cells: (ch,) or (ch, "").
_CELLS: dict[str, tuple[str, ...]] = {}
_CACHE_CAP = 65536


def char_width(char: str) -> int:
    """Cells ``char`` takes: 0 (combines with the previous cell), 1 or 2; -1 to skip it."""
    width = WIDTHS.get(char)
    if width is None:
        width = wcwidth(char)
        if width < 0:
            width = -1 if unicodedata.category(char) in ("Cc", "Cs") else 1
        if len(WIDTHS) < _CACHE_CAP:
            WIDTHS[char] = width
    return width


def widths_of(text: str) -> list[int]:
    """``char_width`` of every character of ``text`` (a C-level pass once they are cached)."""
    widths = list(map(WIDTHS.get, text))
    if None in widths:
        widths = list(map(char_width, text))
    return widths  # type: ignore[return-value]


def cells_of(text: str) -> list[str]:
    """The cells of ``text`` whose characters all take one or two cells: each character, and
    "" for the right half of a wide one."""
    got = list(map(_CELLS.get, text))
    if None in got:
        if len(_CELLS) >= _CACHE_CAP:
            _CELLS.clear()
        for ch in set(text) - _CELLS.keys():
            _CELLS[ch] = (ch, "") if char_width(ch) == 2 else (ch,)
        got = list(map(_CELLS.__getitem__, text))
    return list(chain.from_iterable(got))  # type: ignore[arg-type]
