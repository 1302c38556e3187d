"""Tight encoding (RFB spec section 7.7.6 "Tight Encoding").

A compression-control byte: bits 0-3 reset zlib streams 0-3 before this rectangle; the high
nibble is 8 (fill: one TPIXEL), 9 (JPEG: compact length + a JPEG image) or ``0fss`` (basic
compression from stream ``ss``; ``f`` set when a filter-id byte follows: 0 copy, 1 palette,
2 gradient). The palette filter sends (colours - 1) in a byte, then the colours; up to two
colours pack 1 bit per pixel (MSB first, rows padded to a byte), more take a byte per pixel.
Basic data shorter than 12 bytes comes as is, longer data as a compact length (1 to 3 bytes,
7 bits each, low bits first) and that much deflate data from the chosen stream. With our pixel
format (32 bpp, depth 24, 8-bit channels) a TPIXEL is 3 bytes: R, G, B.
"""

from __future__ import annotations

import io
import warnings
import zlib
from collections import Counter

import numpy as np
import numpy.typing as npt

from ...errors import ProtocolError
from ...geometry import Rect
from .base import U8, U32, Reader, check_inside, pixels24

FILL, JPEG, PNG = 8, 9, 10
FILTER_COPY, FILTER_PALETTE, FILTER_GRADIENT = 0, 1, 2
_FILTER_NAMES = {FILTER_COPY: "copy", FILTER_PALETTE: "palette", FILTER_GRADIENT: "gradient"}
MIN_TO_COMPRESS = 12
TPIXEL = 3


class TightState:
    """The connection's four Tight inflate streams (section 7.7.6)."""

    def __init__(self) -> None:
        self.streams = [zlib.decompressobj() for _ in range(4)]
        #: Rectangles decoded per method: fill, jpeg, copy, palette, gradient (for tests, stats).
        self.counts: Counter[str] = Counter()

    def reset(self, index: int) -> None:
        self.streams[index] = zlib.decompressobj()


def read_compact_length() -> Reader[int]:
    """A compact length: 1 to 3 bytes, 7 bits each (the third 8), low bits first."""
    b = (yield 1)[0]
    length = b & 0x7F
    if b & 0x80:
        b = (yield 1)[0]
        length |= (b & 0x7F) << 7
        if b & 0x80:
            length |= (yield 1)[0] << 14
    return length


def decode_tight(rect: Rect, fb: U32, state: TightState) -> Reader[None]:
    """Paint a Tight rectangle into ``fb``, inflating through ``state``."""
    check_inside(rect, fb)
    ctl = (yield 1)[0]
    for i in range(4):
        if ctl >> i & 1:
            state.reset(i)
    mode = ctl >> 4
    area = fb[rect.y : rect.bottom, rect.x : rect.right]
    w, h = rect.w, rect.h
    if mode == FILL:
        state.counts["fill"] += 1
        area[:] = pixels24((yield TPIXEL), (1,), rgb_order=True)[0]
        return
    if mode == JPEG:
        state.counts["jpeg"] += 1
        length = yield from read_compact_length()
        area[:] = decode_jpeg((yield length), w, h)
        return
    if mode & 8:
        what = "PNG (Tight PNG only)" if mode == PNG else "undefined"
        raise ProtocolError(f"Tight compression type {mode} is {what}")
    stream = mode & 3
    filter_id = (yield 1)[0] if mode & 4 else FILTER_COPY
    state.counts[_FILTER_NAMES.get(filter_id, "?")] += 1
    if filter_id == FILTER_COPY:
        data = yield from _basic_data(w * h * TPIXEL, state, stream)
        area[:] = pixels24(data, (h, w), rgb_order=True)
    elif filter_id == FILTER_PALETTE:
        colours = (yield 1)[0] + 1
        palette = pixels24((yield colours * TPIXEL), (colours,), rgb_order=True)
        if colours <= 2:
            row = (w + 7) // 8
            data = yield from _basic_data(row * h, state, stream)
            bits = np.frombuffer(data, np.uint8).reshape(h, row)
            index: U8 = np.unpackbits(bits, axis=1)[:, :w]
        else:
            data = yield from _basic_data(w * h, state, stream)
            index = np.frombuffer(data, np.uint8).reshape(h, w)
        if index.size and int(index.max()) >= colours:
            raise ProtocolError(f"Tight palette index beyond the palette of {colours}")
        area[:] = palette[index]
    elif filter_id == FILTER_GRADIENT:
        data = yield from _basic_data(w * h * TPIXEL, state, stream)
        rgb = ungradient(np.frombuffer(data, np.uint8).reshape(h, w, TPIXEL)).astype(np.uint32)
        area[:] = (rgb[..., 0] << np.uint32(16)) | (rgb[..., 1] << np.uint32(8)) | rgb[..., 2]
    else:
        raise ProtocolError(f"Tight filter {filter_id} is not defined")


def _basic_data(size: int, state: TightState, stream: int) -> Reader[bytes]:
    """``size`` bytes of basic-compression data: as is below 12 bytes, else inflated."""
    if size < MIN_TO_COMPRESS:
        data = yield size
        return data
    length = yield from read_compact_length()
    if length > size + size // 16 + 4096:
        raise ProtocolError(f"Tight: {length} compressed bytes for {size} bytes of data")
    compressed = yield length
    inflater = state.streams[stream]
    try:
        data = inflater.decompress(compressed, size)
    except zlib.error as e:
        raise ProtocolError(f"Tight zlib stream {stream} is corrupt: {e}") from None
    if len(data) != size or inflater.unconsumed_tail:
        raise ProtocolError(f"Tight zlib stream {stream} gave {len(data)} bytes, not {size}")
    return data


def decode_jpeg(data: bytes, w: int, h: int) -> U32:
    """A baseline JPEG of exactly ``w`` x ``h`` as 0x00RRGGBB (Pillow decodes it)."""
    from PIL import Image  # imported on first use: most desktops never send JPEG

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=["JPEG"])
            if img.size != (w, h):
                raise ProtocolError(f"Tight JPEG is {img.size[0]}x{img.size[1]}, not {w}x{h}")
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint32)
    except ProtocolError:
        raise
    except Exception as e:  # Pillow reports bad data with many exception types
        raise ProtocolError(f"Tight JPEG does not decode: {e}") from None
    out: U32 = (rgb[..., 0] << np.uint32(16)) | (rgb[..., 1] << np.uint32(8)) | rgb[..., 2]
    return out


def ungradient(residual: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Undo the gradient filter on (h, w, 3) bytes.

    Each channel value is ``residual + clamp(left + up - upleft, 0, 255)`` modulo 256, with zeros
    outside the rectangle. A pixel needs its left and upper neighbours, so the pixels of one
    anti-diagonal (x + y = k) are computed together: h + w - 1 vector steps, over strided views
    of a zero-bordered copy (the diagonal's pixels are ``w`` apart in it).
    """
    h, w, c = residual.shape
    if h == 0 or w == 0:
        return residual.copy()
    stride = w + 1
    padded = np.zeros(((h + 1) * stride, c), np.int16)
    res = np.zeros_like(padded)
    res.reshape(h + 1, stride, c)[1:, 1:] = residual
    for k in range(h + w - 1):
        y0, y1 = max(0, k - w + 1), min(h - 1, k)
        start = stride + 1 + k + y0 * w
        stop = start + (y1 - y0) * w + 1
        here = slice(start, stop, w)
        left = padded[start - 1 : stop - 1 : w]
        up = padded[start - stride : stop - stride : w]
        upleft = padded[start - stride - 1 : stop - stride - 1 : w]
        pred = np.clip(left + up - upleft, 0, 255)
        padded[here] = (res[here] + pred) & 0xFF
    out: npt.NDArray[np.uint8] = padded.reshape(h + 1, stride, c)[1:, 1:].astype(np.uint8)
    return out
