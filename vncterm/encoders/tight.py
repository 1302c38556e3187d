"""Tight encoding (RFB spec section 7.7.6 "Tight Encoding").

Each rectangle starts with a compression-control byte: bits 0-3 ask the viewer to reset zlib
streams 0-3, the high nibble picks fill (0x8), JPEG (0x9) or basic compression (0b0fss: stream
``ss``, ``f`` = a filter-id byte follows). Basic compression uses the copy filter (pixels as
they are), the palette filter (2 colours at 1 bit per pixel, MSB first, rows padded to a byte;
3..256 colours at one byte per pixel; the size byte is colours - 1) or the gradient filter.
Data shorter than 12 bytes is sent as is; longer data is deflated in the stream the control byte
names and preceded by its compact length (1..3 bytes, 7 bits each, low bits first).

Pixels travel as TPIXEL: 3 bytes R, G, B when the format is 32 bpp, depth 24 with 8-bit channels,
else the format's own PIXEL. Streams: 0 copy filter, 1 two-colour palette, 2 indexed palette,
3 gradient filter. A stream's reset bit is sent only on its first use: noVNC cannot survive
the reset of a used stream (see ``zstream.ZStream``).

JPEG (0x9, compact length + a JFIF image, RGB whatever the pixel format) is lossy: it is used
only when the server allows it (``EncoderState.allow_lossy``), the viewer sent a quality level
(-32..-23), the format has at least 16 bpp (libvncclient refuses JPEG at 8 bpp), and the
rectangle looks like a photograph: more than 256 colours and, in every row, fewer than half of
the pixels equal to their left neighbour (the manager cuts rectangles into runs of photo-like
rows and the rest). Text never qualifies: terminal cells go through ``tight_text``, and even
antialiased text is mostly runs of background.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..errors import UsageError
from ..rfb.pixel_format import PixelFormat
from .analysis import U32, Analysis, analyse
from .base import EncoderState
from .tight_text import Layer
from .zstream import ZStream, zlib_level

TIGHT = 7
MAX_WIDTH = 2048
MIN_TO_COMPRESS = 12

_FILL = 0x80
_JPEG = 0x90
_EXPLICIT_FILTER = 0x40
_FILTER_PALETTE = 1
_FILTER_GRADIENT = 2

STREAM_COPY, STREAM_MONO, STREAM_INDEXED, STREAM_GRADIENT = 0, 1, 2, 3

#: JPEG quality and chroma subsampling (Pillow: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0) for each RFB
#: quality level 0..9 (section 7.8.x), the scale TurboVNC and libvncserver use.
JPEG_QUALITY = (15, 29, 41, 42, 62, 77, 79, 86, 92, 100)
JPEG_SUBSAMPLING = (2, 2, 2, 2, 2, 1, 1, 1, 0, 0)
#: Rectangles smaller than this are never sent as JPEG (its headers alone are ~600 bytes).
JPEG_MIN_AREA = 2048


def photo_rows(pixels: U32) -> npt.NDArray[np.bool_]:
    """Per row: True when, in every 64-pixel stretch of it, fewer than half the pixels repeat
    their left neighbour (photographs; text and user interfaces have runs of background)."""
    h, w = pixels.shape
    if w < 2:
        return np.zeros(h, np.bool_)
    same = pixels[:, 1:] == pixels[:, :-1]
    pad = (-same.shape[1]) % 64
    if pad:
        same = np.concatenate((same, np.ones((h, pad), np.bool_)), axis=1)
    per = np.count_nonzero(same.reshape(h, -1, 64), axis=2)
    limit = np.full(per.shape[1], 32)
    if pad:  # the last stretch is shorter: half of its real pairs
        limit[-1] = (64 - pad) // 2 + pad
    out: npt.NDArray[np.bool_] = (per < limit).all(axis=1)
    return out


def photo_like(pixels: U32) -> bool:
    """True when every row of ``pixels`` is photo-like (see :func:`photo_rows`)."""
    return bool(pixels.size and photo_rows(pixels).all())


def jpeg_bytes(pixels: U32, quality_level: int) -> bytes:
    """A baseline JPEG of ``pixels`` (0x00RRGGBB) at an RFB quality level (Pillow encodes it,
    releasing the GIL)."""
    from io import BytesIO

    from PIL import Image

    h, w = pixels.shape
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[..., 0] = pixels >> 16
    rgb[..., 1] = pixels >> 8
    rgb[..., 2] = pixels
    level = max(0, min(9, quality_level))
    out = BytesIO()
    Image.fromarray(rgb, "RGB").save(
        out, "JPEG", quality=JPEG_QUALITY[level], subsampling=JPEG_SUBSAMPLING[level]
    )
    return out.getvalue()


def compact_length(n: int) -> bytes:
    """The 1..3 byte compact representation of a length below 2**22 (section 7.7.6)."""
    if not 0 <= n < 1 << 22:
        raise UsageError(f"Tight compact length out of range: {n}")
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    return bytes((n & 0x7F | 0x80, (n >> 7) & 0x7F | 0x80, n >> 14))


def tpixels(pf: PixelFormat, rgb: U32) -> np.ndarray:
    """Pixels as TPIXEL bytes, shape ``rgb.shape + (3 or bytes_per_pixel,)``."""
    pf = pf.effective()
    if pf.tight_tpixel():
        rgb = rgb.astype(np.uint32, copy=False)
        out = np.empty((*rgb.shape, 3), np.uint8)
        out[..., 0] = rgb >> 16
        out[..., 1] = rgb >> 8
        out[..., 2] = rgb
        return out
    return pf.to_wire(rgb)


class _TightStreams:
    """The four per-connection deflate streams and which ones the viewer must reset."""

    def __init__(self) -> None:
        self.streams: list[ZStream | None] = [None, None, None, None]

    def get(self, index: int, level: int) -> tuple[ZStream, int]:
        """The stream ``index`` at ``level``, with the reset bit to send on its first use.

        A used stream is never reset (noVNC loses its window on a reset, see ``ZStream``);
        a new level continues the stream with :meth:`ZStream.relevel`.
        """
        stream = self.streams[index]
        if stream is not None:
            stream.relevel(level)
            return stream, 0
        stream = ZStream(level)
        self.streams[index] = stream
        return stream, 1 << index


class TightEncoder:
    """Tight: fill, palette, copy, (optionally) gradient, and JPEG when lossy is allowed."""

    code = TIGHT
    name = "tight"

    def __init__(self, *, gradient: bool = False) -> None:
        self.gradient = gradient
        self._palette_cache: dict[tuple[PixelFormat, bytes], bytes] = {}

    def _palette_bytes(self, pf: PixelFormat, colours: U32) -> bytes:
        """TPIXELs of a small palette, cached (terminal palettes repeat endlessly)."""
        if colours.size > 4:
            return bytes(tpixels(pf, colours).tobytes())
        key = (pf, colours.tobytes())
        got = self._palette_cache.get(key)
        if got is None:
            if len(self._palette_cache) > 4096:
                self._palette_cache.clear()
            got = self._palette_cache[key] = bytes(tpixels(pf, colours).tobytes())
        return got

    @staticmethod
    def _streams(state: EncoderState) -> _TightStreams:
        s = state.streams.get("tight")
        if not isinstance(s, _TightStreams):
            s = _TightStreams()
            state.streams["tight"] = s
        return s

    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        state: EncoderState,
        analysis: Analysis | None = None,
        *,
        lossy: bool = True,
    ) -> bytes:
        """Payload of one Tight rectangle (at most 2048 pixels wide); ``lossy=False`` rules out
        JPEG whatever the state allows."""
        h, w = pixels.shape
        if w > MAX_WIDTH:
            raise UsageError(f"Tight rectangles are at most {MAX_WIDTH} wide, got {w}")
        if analysis is None:
            analysis = analyse(pixels)
        colours, indices = analysis.colours, analysis.indices
        if w == 0 or h == 0:
            return bytes((_FILL,)) + tpixels(pf, np.zeros(1, np.uint32)).tobytes()
        if colours is not None and colours.size == 1:
            return bytes((_FILL,)) + self._palette_bytes(pf, colours)
        level = zlib_level(state.compress_level, palette=colours is not None)
        if colours is not None and indices is not None:
            n = int(colours.size)
            if n == 2:
                data = np.packbits(indices, axis=1).tobytes()
                sid = STREAM_MONO
            else:
                data = indices.tobytes()
                sid = STREAM_INDEXED
            head = bytes((_FILTER_PALETTE, n - 1)) + self._palette_bytes(pf, colours)
            return self._basic(state, sid, level, head, data)
        if lossy and self.jpeg_allowed(pixels, pf, state):
            assert state.quality_level is not None
            data = jpeg_bytes(pixels, state.quality_level)
            return bytes((_JPEG,)) + compact_length(len(data)) + data
        if self.gradient and pf.effective().tight_tpixel():
            data = _gradient(tpixels(pf, pixels)).tobytes()
            return self._basic(state, STREAM_GRADIENT, level, bytes((_FILTER_GRADIENT,)), data)
        return self._basic(state, STREAM_COPY, level, b"", tpixels(pf, pixels).tobytes())

    @staticmethod
    def jpeg_allowed(pixels: U32, pf: PixelFormat, state: EncoderState) -> bool:
        """JPEG only if lossy is allowed, the viewer asked for a quality, and the (full colour)
        rectangle is big and photo-like."""
        return (
            state.allow_lossy
            and state.quality_level is not None
            and pf.effective().bits_per_pixel >= 16
            and pixels.size >= JPEG_MIN_AREA
            and photo_like(pixels)
        )

    def encode_layer(
        self, layer: Layer, pf: PixelFormat, state: EncoderState, sid: int = STREAM_MONO
    ) -> bytes:
        """Payload of a planned text layer (``tight_text``): a fill, or two colours (index 0
        the background, 1 the foreground) whose 1 bpp rows are already packed."""
        if layer.fg is None:
            return bytes((_FILL,)) + self._palette_bytes(pf, np.array([layer.bg], np.uint32))
        pal = self._palette_bytes(pf, np.array([layer.bg, layer.fg], np.uint32))
        head = bytes((_FILTER_PALETTE, 1)) + pal
        level = zlib_level(state.compress_level, palette=True)
        return self._basic(state, sid, level, head, layer.bits)

    def _basic(
        self, state: EncoderState, sid: int, level: int, filter_part: bytes, data: bytes
    ) -> bytes:
        ctl = sid << 4
        if filter_part:
            ctl |= _EXPLICIT_FILTER
        if len(data) < MIN_TO_COMPRESS:
            return bytes((ctl,)) + filter_part + data
        stream, reset = self._streams(state).get(sid, level)
        body = stream.compress(data)
        return bytes((ctl | reset,)) + filter_part + compact_length(len(body)) + body


def _gradient(tp: np.ndarray) -> npt.NDArray[np.uint8]:
    """Gradient filter residuals (section 7.7.6) of (h, w, 3) TPIXEL bytes."""
    v = tp.astype(np.int16)
    left = np.zeros_like(v)
    left[:, 1:] = v[:, :-1]
    up = np.zeros_like(v)
    up[1:] = v[:-1]
    upleft = np.zeros_like(v)
    upleft[1:, 1:] = v[:-1, :-1]
    pred = np.clip(left + up - upleft, 0, 255)
    out: npt.NDArray[np.uint8] = ((v - pred) & 0xFF).astype(np.uint8)
    return out
