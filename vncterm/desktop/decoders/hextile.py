"""Hextile encoding (RFB spec section 7.7.4).

The rectangle is cut into 16x16 tiles, left to right then top to bottom (the last column and row
smaller). Each tile starts with a subencoding mask: Raw (1) - the tile's pixels follow and the
other bits are ignored; BackgroundSpecified (2) - a pixel; ForegroundSpecified (4) - a pixel;
AnySubrects (8) - a count byte and that many subrectangles; SubrectsColoured (16) - each
subrectangle carries its own pixel, else all take the foreground. Background and foreground
carry over from the previous tile of the same rectangle. A subrectangle is two bytes,
x << 4 | y and (w - 1) << 4 | (h - 1), and must lie inside its tile.
"""

from __future__ import annotations

import struct

import numpy as np

from ...errors import ProtocolError
from ...geometry import Rect
from .base import BPP, U32, Reader, check_inside, pixels32

TILE = 16
RAW, BACKGROUND, FOREGROUND, ANY_SUBRECTS, COLOURED = 1, 2, 4, 8, 16
_KNOWN = RAW | BACKGROUND | FOREGROUND | ANY_SUBRECTS | COLOURED
_PIXEL = struct.Struct("<I")

#: Up to this many subrectangles a tile is painted with slices; beyond, with one numpy pass.
_LOOP_MAX = 24

_COLOURED_DT = np.dtype([("p", "<u4"), ("xy", "u1"), ("wh", "u1")])
_PLAIN_DT = np.dtype([("xy", "u1"), ("wh", "u1")])


def decode_hextile(rect: Rect, fb: U32) -> Reader[None]:
    """Paint a Hextile rectangle into ``fb``."""
    check_inside(rect, fb)
    bg: int | None = None
    fg: int | None = None
    for ty in range(rect.y, rect.bottom, TILE):
        th = min(TILE, rect.bottom - ty)
        for tx in range(rect.x, rect.right, TILE):
            tw = min(TILE, rect.right - tx)
            sub = (yield 1)[0]
            if sub & ~_KNOWN:
                raise ProtocolError(f"Hextile subencoding {sub:#x} has unknown bits")
            if sub & RAW:
                data = yield tw * th * BPP
                fb[ty : ty + th, tx : tx + tw] = pixels32(data, (th, tw))
                continue
            if sub & BACKGROUND:
                bg = _PIXEL.unpack((yield BPP))[0] & 0xFFFFFF
            if sub & FOREGROUND:
                fg = _PIXEL.unpack((yield BPP))[0] & 0xFFFFFF
            if bg is None:
                raise ProtocolError("Hextile: the first non-raw tile has no background")
            tile = fb[ty : ty + th, tx : tx + tw]
            tile[:] = bg
            if not sub & ANY_SUBRECTS:
                continue
            n = (yield 1)[0]
            if sub & COLOURED:
                subs = np.frombuffer((yield n * _COLOURED_DT.itemsize), dtype=_COLOURED_DT)
                colours = subs["p"].astype(np.uint32) & np.uint32(0xFFFFFF)
            else:
                if fg is None:
                    raise ProtocolError("Hextile: subrectangles without a foreground colour")
                subs = np.frombuffer((yield n * _PLAIN_DT.itemsize), dtype=_PLAIN_DT)
                colours = np.full(n, fg, np.uint32)
            _paint_subrects(tile, subs["xy"], subs["wh"], colours)


def _paint_subrects(tile: U32, xy: np.ndarray, wh: np.ndarray, colours: U32) -> None:
    """Paint subrectangles in order (later ones over earlier ones)."""
    th, tw = tile.shape
    sx = (xy >> 4).astype(np.intp)
    sy = (xy & 15).astype(np.intp)
    ex = sx + (wh >> 4) + 1
    ey = sy + (wh & 15) + 1
    if len(xy) and (int(ex.max()) > tw or int(ey.max()) > th):
        raise ProtocolError(f"Hextile subrectangle outside its {tw}x{th} tile")
    n = len(xy)
    if n <= _LOOP_MAX:
        for i in range(n):
            tile[sy[i] : ey[i], sx[i] : ex[i]] = colours[i]
        return
    # pixel (y, x) takes the last subrectangle covering it: number them from 1 (0 = none),
    # cover = rows x columns, and keep the highest number per pixel
    number = np.arange(1, n + 1, dtype=np.uint8)[:, None]
    ys, xs = np.arange(th), np.arange(tw)
    rows = ((ys >= sy[:, None]) & (ys < ey[:, None])) * number
    cols = (xs >= sx[:, None]) & (xs < ex[:, None])
    last = (rows[:, :, None] * cols[:, None, :]).max(axis=0)
    tile[:] = np.concatenate((tile[:1, 0], colours))[last]
