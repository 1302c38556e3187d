"""CopyRect encoding (RFB spec section 7.7.2): U16 src-x-position, U16 src-y-position."""

from __future__ import annotations

import struct

from ...errors import ProtocolError
from ...geometry import Rect
from .base import U32, Reader, check_inside

_SRC = struct.Struct(">HH")


def decode_copyrect(rect: Rect, fb: U32) -> Reader[Rect]:
    """Copy the source rectangle onto ``rect`` in ``fb`` (overlap-safe); return the source."""
    check_inside(rect, fb)
    sx, sy = _SRC.unpack((yield _SRC.size))
    src = Rect(sx, sy, rect.w, rect.h)
    h, w = fb.shape
    if sx + rect.w > w or sy + rect.h > h:
        raise ProtocolError(f"CopyRect source {src} lies outside the {w}x{h} framebuffer")
    if rect.w and rect.h:
        fb[rect.y : rect.bottom, rect.x : rect.right] = fb[
            sy : sy + rect.h, sx : sx + rect.w
        ].copy()
    return src
