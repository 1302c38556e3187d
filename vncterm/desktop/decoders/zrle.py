"""ZRLE encoding (RFB spec section 7.7.7 "ZRLE").

A U32 length, then that many bytes of one zlib stream that lives as long as the connection.
Inflated, the rectangle is 64x64 tiles, left to right then top to bottom, each starting with a
subencoding byte: 0 raw CPIXELs; 1 one CPIXEL fills the tile; 2..16 a palette of that many
CPIXELs and packed indices (1, 2 or 4 bits, MSB first, rows padded to a byte); 128 plain RLE
(CPIXEL + run length); 130..255 palette RLE (palette of ``sub - 128``, then an index byte per
run, top bit set when a run length follows). A run length is a sum of bytes ending at the first
byte below 255, plus one. Our format makes CPIXEL the three low bytes of the little-endian pixel:
B, G, R.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ...errors import ProtocolError
from ...geometry import Rect
from .base import U32, Reader, check_inside, pixels24

TILE = 64
_U32 = struct.Struct(">I")
CPIXEL = 3


class ZrleState:
    """The connection's one ZRLE inflate stream (section 7.7.7)."""

    def __init__(self) -> None:
        self.inflater = zlib.decompressobj()


def max_inflated(w: int, h: int) -> int:
    """The most tile data a w x h rectangle can honestly need (caps the inflater)."""
    tiles = -(-w // TILE) * -(-h // TILE)
    return tiles * (2 + 127 * CPIXEL) + w * h * 5


def decode_zrle(rect: Rect, fb: U32, state: ZrleState) -> Reader[None]:
    """Paint a ZRLE rectangle into ``fb``, inflating through ``state``."""
    check_inside(rect, fb)
    (length,) = _U32.unpack((yield 4))
    cap = max_inflated(rect.w, rect.h)
    if length > cap + cap // 16 + 4096:
        raise ProtocolError(f"ZRLE length {length} is too large for a {rect.w}x{rect.h} rectangle")
    compressed = yield length
    try:
        data = state.inflater.decompress(compressed, cap)
    except zlib.error as e:
        raise ProtocolError(f"ZRLE zlib data is corrupt: {e}") from None
    if state.inflater.unconsumed_tail:
        raise ProtocolError("ZRLE data inflates beyond what its rectangle can hold")
    end = paint_tiles(rect, fb, data)
    if end != len(data):
        raise ProtocolError(f"ZRLE data has {len(data) - end} bytes beyond its tiles")


def paint_tiles(rect: Rect, fb: U32, data: bytes) -> int:
    """Paint the inflated tiles of ``rect``; return the bytes used."""
    pos = 0
    n = len(data)
    for ty in range(rect.y, rect.bottom, TILE):
        th = min(TILE, rect.bottom - ty)
        for tx in range(rect.x, rect.right, TILE):
            tw = min(TILE, rect.right - tx)
            if pos >= n:
                raise ProtocolError("ZRLE data ended before its tiles")
            sub = data[pos]
            pos += 1
            tile = fb[ty : ty + th, tx : tx + tw]
            if sub == 0:
                pos = _take(data, pos, tw * th * CPIXEL)
                tile[:] = pixels24(data[pos - tw * th * CPIXEL : pos], (th, tw), rgb_order=False)
            elif sub == 1:
                pos = _take(data, pos, CPIXEL)
                tile[:] = pixels24(data[pos - CPIXEL : pos], (1,), rgb_order=False)[0]
            elif 2 <= sub <= 16:
                pos = _packed(data, pos, sub, tile)
            elif sub == 128:
                pos = _plain_rle(data, pos, tile)
            elif sub >= 130:
                pos = _palette_rle(data, pos, sub - 128, tile)
            else:
                raise ProtocolError(f"ZRLE subencoding {sub} is not defined")
    return pos


def _take(data: bytes, pos: int, count: int) -> int:
    if pos + count > len(data):
        raise ProtocolError("ZRLE data ended inside a tile")
    return pos + count


def _palette(data: bytes, pos: int, size: int) -> tuple[U32, int]:
    end = _take(data, pos, size * CPIXEL)
    return pixels24(data[pos:end], (size,), rgb_order=False), end


def _packed(data: bytes, pos: int, size: int, tile: U32) -> int:
    th, tw = tile.shape
    palette, pos = _palette(data, pos, size)
    bits = 1 if size == 2 else 2 if size <= 4 else 4
    row = (tw * bits + 7) // 8
    end = _take(data, pos, row * th)
    packed = np.frombuffer(data, np.uint8, row * th, pos).reshape(th, row)
    planes = np.unpackbits(packed, axis=1).reshape(th, row * 8 // bits, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint8)
    index = (planes * weights).sum(axis=2, dtype=np.uint8)[:, :tw]
    if int(index.max()) >= size:
        raise ProtocolError(f"ZRLE palette index beyond the palette of {size}")
    tile[:] = palette[index]
    return end


def _run_length(data: bytes, pos: int) -> tuple[int, int]:
    length = 1
    n = len(data)
    while True:
        if pos >= n:
            raise ProtocolError("ZRLE data ended inside a run length")
        b = data[pos]
        pos += 1
        length += b
        if b != 255:
            return length, pos


def _plain_rle(data: bytes, pos: int, tile: U32) -> int:
    th, tw = tile.shape
    total = th * tw
    colours: list[int] = []
    lengths: list[int] = []
    done = 0
    while done < total:
        pos = _take(data, pos, CPIXEL)
        colours.append(data[pos - 3] | data[pos - 2] << 8 | data[pos - 1] << 16)
        length, pos = _run_length(data, pos)
        if done + length > total:
            raise ProtocolError("ZRLE run goes beyond its tile")
        lengths.append(length)
        done += length
    tile[:] = np.repeat(np.asarray(colours, np.uint32), lengths).reshape(th, tw)
    return pos


def _palette_rle(data: bytes, pos: int, size: int, tile: U32) -> int:
    th, tw = tile.shape
    total = th * tw
    palette, pos = _palette(data, pos, size)
    index: list[int] = []
    lengths: list[int] = []
    done = 0
    n = len(data)
    while done < total:
        if pos >= n:
            raise ProtocolError("ZRLE data ended inside a tile")
        b = data[pos]
        pos += 1
        if b & 0x80:
            length, pos = _run_length(data, pos)
            b &= 0x7F
        else:
            length = 1
        if b >= size:
            raise ProtocolError(f"ZRLE palette index {b} beyond the palette of {size}")
        if done + length > total:
            raise ProtocolError("ZRLE run goes beyond its tile")
        index.append(b)
        lengths.append(length)
        done += length
    tile[:] = np.repeat(palette[np.asarray(index, np.intp)], lengths).reshape(th, tw)
    return pos
