"""The Cursor pseudo-encoding (RFB spec section 7.8.1): a pointer image the viewer draws itself.

Payload: the image in the viewer's pixel format, then a bitmask of opaque pixels, one bit per
pixel, most significant bit first, rows padded to whole bytes. x and y carry the hotspot.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Rect
from ..rfb.connection import EncodedRect
from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat


def cursor_rect(image: np.ndarray, hotspot: tuple[int, int], pf: PixelFormat) -> EncodedRect:
    """A Cursor rectangle from an (h, w, 4) RGBA image (an empty image hides the pointer)."""
    h, w = image.shape[:2]
    rgb = (
        (image[..., 0].astype(np.uint32) << 16)
        | (image[..., 1].astype(np.uint32) << 8)
        | image[..., 2].astype(np.uint32)
    )
    mask = np.packbits(image[..., 3] > 127, axis=1) if w and h else np.zeros((0,), np.uint8)
    x, y = hotspot if w and h else (0, 0)
    return EncodedRect(Rect(x, y, w, h), Encoding.CURSOR, pf.pack(rgb) + mask.tobytes())


def _arrow() -> tuple[np.ndarray, tuple[int, int]]:
    """A small black-edged white arrow, drawn in code."""
    rows = [
        "X.........",
        "XX........",
        "XOX.......",
        "XOOX......",
        "XOOOX.....",
        "XOOOOX....",
        "XOOOOOX...",
        "XOOOOOOX..",
        "XOOOOOOOX.",
        "XOOOOXXXXX",
        "XOOXOX....",
        "XOX.XOX...",
        "XX..XOX...",
        "X....XOX..",
        ".....XOX..",
        "......X...",
    ]
    img = np.zeros((len(rows), len(rows[0]), 4), dtype=np.uint8)
    for y, row in enumerate(rows):
        for x, c in enumerate(row):
            if c == "X":
                img[y, x] = (0, 0, 0, 255)
            elif c == "O":
                img[y, x] = (255, 255, 255, 255)
    return img, (0, 0)


DEFAULT_CURSOR = _arrow()
