"""Byte decoding for consoles (UTF-8, CP437, Latin-1) and the VT100 G0/G1 character sets."""

from __future__ import annotations

import codecs
from collections.abc import Callable

#: Names accepted for ``Emulator(charset=...)`` (and the CLI), mapped to the canonical name.
CHARSETS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "cp437": "cp437",
    "ibm437": "cp437",
    "437": "cp437",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
}

#: 8-bit C1 controls as their 7-bit ESC equivalents (Latin-1 consoles may send CSI as 0x9b).
_C1_TO_7BIT = {c: "\x1b" + chr(c - 0x40) for c in range(0x80, 0xA0)}


def canonical(name: str) -> str:
    """The canonical charset name for ``name``; ValueError for an unknown one."""
    try:
        return CHARSETS[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted({"utf-8", "cp437", "latin-1"}))
        raise ValueError(f"unknown charset {name!r} (known: {known})") from None


def make_decoder(name: str) -> Callable[[bytes], str]:
    """A stateful bytes -> str function for the console charset ``name``.

    UTF-8 keeps partial sequences between calls and shows invalid bytes as U+FFFD. CP437 maps
    0x80-0xFF to its line-drawing and accented glyphs while 0x00-0x1F stay control characters.
    Latin-1 treats 0x80-0x9F as the C1 controls they are in ISO 6429.
    """
    charset = canonical(name)
    if charset == "utf-8":
        return codecs.getincrementaldecoder("utf-8")("replace").decode
    if charset == "cp437":
        return lambda data: data.decode("cp437")

    def latin1(data: bytes) -> str:
        return data.decode("latin-1").translate(_C1_TO_7BIT)

    return latin1


# DEC Special Graphics (ESC ( 0): the line-drawing set, 0x5f..0x7e.
_DEC_GRAPHICS = dict(
    zip(
        range(0x5F, 0x7F),
        "\u00a0\u25c6\u2592\u2409\u240c\u240d\u240a\u00b0\u00b1\u2424\u240b\u2518\u2510\u250c"
        "\u2514\u253c\u23ba\u23bb\u2500\u23bc\u23bd\u251c\u2524\u2534\u252c\u2502\u2264\u2265"
        "\u03c0\u2260\u00a3\u00b7",
        strict=True,
    )
)

#: Designation final byte -> str.translate table (None: identity, US ASCII and the rest).
CHARSET_MAPS: dict[str, dict[int, str] | None] = {
    "B": None,
    "0": _DEC_GRAPHICS,
    "A": {0x23: "\u00a3"},  # United Kingdom: # is the pound sign
}
