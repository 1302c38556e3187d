"""What every decoder shares (RFB spec section 7.7 "Encodings").

A decoder is a generator: it yields how many bytes it needs next and is sent exactly that many
bytes, so it works whether the bytes arrived one at a time or all at once. It paints into the
framebuffer passed in (a ``(h, w)`` uint32 array of ``0x00RRGGBB``) and keeps any state it
needs across rectangles (zlib streams) in an object passed in as well. Pixels arrive in the
format the client asked for: 32 bpp, depth 24, little-endian, red/green/blue shifts 16/8/0.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ...errors import ProtocolError
from ...geometry import Rect

T = TypeVar("T")

#: A decoding step: yields byte counts, is sent those bytes, returns a value when done.
Reader = Generator[int, bytes, T]

U32 = npt.NDArray[np.uint32]
U8 = npt.NDArray[np.uint8]

#: Bytes per pixel on the wire (the client always asks for 32 bpp).
BPP = 4


def read(n: int) -> Reader[bytes]:
    """Read exactly ``n`` bytes (``data = yield from read(n)``)."""
    data = yield n
    return data


def check_inside(rect: Rect, fb: U32) -> None:
    """ProtocolError unless ``rect`` lies inside the framebuffer (section 7.6.1)."""
    h, w = fb.shape
    if rect.w < 0 or rect.h < 0 or rect.x + rect.w > w or rect.y + rect.h > h:
        raise ProtocolError(f"rectangle {rect} lies outside the {w}x{h} framebuffer")


def pixels32(data: bytes | memoryview, shape: tuple[int, ...]) -> U32:
    """4-byte PIXELs (little-endian 0x00RRGGBB) as uint32, the unused top byte cleared."""
    out: U32 = np.frombuffer(data, dtype="<u4").reshape(shape) & np.uint32(0xFFFFFF)
    return out


def pixels24(data: bytes | memoryview, shape: tuple[int, ...], rgb_order: bool) -> U32:
    """3-byte pixels as uint32 ``0x00RRGGBB``.

    ``rgb_order`` True: bytes R, G, B (Tight TPIXEL, section 7.7.6); False: B, G, R, the three
    low bytes of a little-endian pixel (ZRLE CPIXEL, section 7.7.7).
    """
    b = np.frombuffer(data, dtype=np.uint8).reshape((*shape, 3)).astype(np.uint32)
    if rgb_order:
        out: U32 = (b[..., 0] << np.uint32(16)) | (b[..., 1] << np.uint32(8)) | b[..., 2]
    else:
        out = (b[..., 2] << np.uint32(16)) | (b[..., 1] << np.uint32(8)) | b[..., 0]
    return out


def feed(reader: Reader[T], data: bytes) -> tuple[T, int]:
    """Drive ``reader`` over ``data``; return its result and the bytes it consumed.

    ProtocolError when ``data`` ends before the reader does (used by tests and tools).
    """
    pos = 0
    try:
        need = next(reader)
        while True:
            if pos + need > len(data):
                raise ProtocolError(f"data ended: needed {need} bytes at offset {pos}")
            chunk = data[pos : pos + need]
            pos += need
            need = reader.send(chunk)
    except StopIteration as stop:
        result: T = stop.value
        return result, pos
