"""DesktopSize (RFB spec section 7.8.3) and ExtendedDesktopSize (section 7.8.4) pseudo-encodings.

DesktopSize carries the new size in the rectangle's w and h and no payload. ExtendedDesktopSize
puts the reason in x (0 the server, 1 this client's request, 2 another client's), the status in y
(0 success) and the size in w and h; a payload of U8 number-of-screens, 3 padding bytes and
16 bytes per screen (U32 id, U16 x, y, w, h, U32 flags) follows.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ...geometry import Rect
from .base import Reader

_SCREEN = struct.Struct(">IHHHHI")


@dataclass(frozen=True, slots=True)
class Screen:
    """One screen of an ExtendedDesktopSize layout."""

    id: int
    rect: Rect
    flags: int


@dataclass(frozen=True, slots=True)
class ExtendedSize:
    """A parsed ExtendedDesktopSize rectangle."""

    reason: int
    status: int
    width: int
    height: int
    screens: tuple[Screen, ...]


def decode_extended_desktop_size(rect: Rect) -> Reader[ExtendedSize]:
    """Read the screen layout that follows an ExtendedDesktopSize rectangle header."""
    count = (yield 4)[0]
    data = yield count * _SCREEN.size
    screens = tuple(
        Screen(sid, Rect(x, y, w, h), flags) for sid, x, y, w, h, flags in _SCREEN.iter_unpack(data)
    )
    return ExtendedSize(rect.x, rect.y, rect.w, rect.h, screens)
