"""Cursor pseudo-encoding (RFB spec section 7.8.2 "Cursor Pseudo-encoding").

The rectangle's x and y are the hotspot, w and h the cursor size; ``w * h`` pixels follow, then a
bitmask of ``((w + 7) // 8) * h`` bytes (1 = opaque, MSB first, rows padded to a byte). The
cursor is kept apart from the framebuffer, as an RGBA image.
"""

from __future__ import annotations

import numpy as np

from ...errors import ProtocolError
from ...geometry import Rect
from .base import BPP, U8, Reader, pixels32

#: The largest cursor accepted (X servers use 64x64 at most in practice).
MAX_CURSOR = 1024


def decode_cursor(rect: Rect) -> Reader[tuple[U8, tuple[int, int]]]:
    """Read a cursor; return its (h, w, 4) RGBA image and its hotspot (x, y)."""
    w, h = rect.w, rect.h
    if w > MAX_CURSOR or h > MAX_CURSOR:
        raise ProtocolError(f"cursor of {w}x{h} is larger than {MAX_CURSOR}x{MAX_CURSOR}")
    image = np.zeros((h, w, 4), np.uint8)
    if w == 0 or h == 0:
        return image, (0, 0)
    pixels = pixels32((yield w * h * BPP), (h, w))
    row = (w + 7) // 8
    mask = np.unpackbits(np.frombuffer((yield row * h), np.uint8).reshape(h, row), axis=1)[:, :w]
    image[..., 0] = pixels >> 16
    image[..., 1] = pixels >> 8
    image[..., 2] = pixels
    image[..., 3] = mask * 255
    hotspot = (min(rect.x, w - 1), min(rect.y, h - 1))
    return image, hotspot
