"""How many cells a character takes (wcwidth, cached).

0 means it combines with the cell before; -1 that it draws nothing (controls, surrogates);
characters wcwidth does not know take one cell, as in xterm.
"""

from __future__ import annotations

import unicodedata

from wcwidth import wcwidth

#: Cached display widths (see char_width).
WIDTHS: dict[str, int] = {}
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
