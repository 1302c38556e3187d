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
only when the server allows it (``EncoderOptions.allow_lossy``), the viewer sent a quality level
(-32..-23), the format has at least 16 bpp (libvncclient refuses JPEG at 8 bpp), and the
rectangle looks like a photograph: more than 256 colours and, in every row, fewer than half of
the pixels equal to their left neighbour (the manager cuts rectangles into runs of photo-like
rows and the rest). Text never qualifies: terminal cells go through ``tight_text``, and even
antialiased text is mostly runs of background.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..errors import UsageError
from ..geometry import Rect
from ..rfb.connection import EncodedRect
from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from . import tight_text
from .analysis import ALL_CLASSES, MANY, U32, Analysis, ContentClass, analyse
from .base import MERGE_WIDE, Encoder, EncoderOptions
from .cells import CellPlanes
from .tight_text import Layer
from .zstream import ZStream, zlib_level

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
#: JPEG (when allowed) only for runs of at least this many photo-like rows.
JPEG_MIN_ROWS = 16
#: Height of the bands a few-colour piece is cut into (no cell grid known).
TIGHT_BAND = 16


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


@dataclass
class TightState:
    """One connection's four deflate streams, and its small palettes as TPIXEL bytes."""

    streams: list[ZStream | None] = field(default_factory=lambda: [None, None, None, None])
    palettes: dict[tuple[PixelFormat, bytes], bytes] = field(default_factory=dict)

    def stream(self, index: int, level: int) -> tuple[ZStream, int]:
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

    def palette(self, pf: PixelFormat, colours: U32) -> bytes:
        """TPIXELs of a small palette, cached (terminal palettes repeat endlessly)."""
        if colours.size > 4:
            return bytes(tpixels(pf, colours).tobytes())
        key = (pf, colours.tobytes())
        got = self.palettes.get(key)
        if got is None:
            if len(self.palettes) > 4096:
                self.palettes.clear()
            got = self.palettes[key] = bytes(tpixels(pf, colours).tobytes())
        return got


class TightEncoder(Encoder[TightState]):
    """Tight: fill, palette, copy, (optionally) gradient, and JPEG when lossy is allowed."""

    encoding = Encoding.TIGHT
    suits = ALL_CLASSES
    merge = MERGE_WIDE

    def new_state(self) -> TightState:
        return TightState()

    def rects(
        self,
        piece: Rect,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: TightState,
        analysis: Analysis,
    ) -> list[EncodedRect]:
        """A piece as one rectangle, or cut: into runs of photo-like rows and the rest when
        JPEG is allowed, into two-colour runs when it has a few colours."""
        content = analysis.content_class
        if (
            content is ContentClass.FULL
            and options.allow_lossy
            and options.quality_level is not None
        ):
            return self._lossy(pixels, piece, pf, options, state)
        if content is ContentClass.INDEXED:
            n = analysis.ncolours
            if n is not None and n <= 64:
                return self._two_colour(pixels, piece, pf, options, state, analysis)
        payload = self.encode(pixels, pf, options, state, analysis)
        return [EncodedRect(piece, int(Encoding.TIGHT), payload)]

    def cells(
        self,
        planes: CellPlanes,
        part: Rect,
        pf: PixelFormat,
        options: EncoderOptions,
        state: TightState,
    ) -> list[EncodedRect] | None:
        """Terminal text as a few large 1 bpp layers (``tight_text``)."""
        return [
            EncodedRect(
                layer.rect, int(Encoding.TIGHT), self.encode_layer(layer, pf, options, state)
            )
            for layer in tight_text.plan(planes, part)
        ]

    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: TightState,
        analysis: Analysis | None = None,
        *,
        lossy: bool = True,
    ) -> bytes:
        """Payload of one Tight rectangle (at most 2048 pixels wide); ``lossy=False`` rules out
        JPEG whatever the options allow."""
        h, w = pixels.shape
        if w > MAX_WIDTH:
            raise UsageError(f"Tight rectangles are at most {MAX_WIDTH} wide, got {w}")
        if analysis is None:
            analysis = analyse(pixels)
        colours, indices = analysis.colours, analysis.indices
        if w == 0 or h == 0:
            return bytes((_FILL,)) + tpixels(pf, np.zeros(1, np.uint32)).tobytes()
        if colours is not None and colours.size == 1:
            return bytes((_FILL,)) + state.palette(pf, colours)
        level = zlib_level(options.compress_level, palette=colours is not None)
        if colours is not None and indices is not None:
            n = int(colours.size)
            if n == 2:
                data = np.packbits(indices, axis=1).tobytes()
                sid = STREAM_MONO
            else:
                data = indices.tobytes()
                sid = STREAM_INDEXED
            head = bytes((_FILTER_PALETTE, n - 1)) + state.palette(pf, colours)
            return _basic(state, sid, level, head, data)
        if lossy and jpeg_allowed(pixels, pf, options):
            assert options.quality_level is not None
            data = jpeg_bytes(pixels, options.quality_level)
            return bytes((_JPEG,)) + compact_length(len(data)) + data
        if options.tight_gradient and pf.effective().tight_tpixel():
            data = _gradient(tpixels(pf, pixels)).tobytes()
            return _basic(state, STREAM_GRADIENT, level, bytes((_FILTER_GRADIENT,)), data)
        return _basic(state, STREAM_COPY, level, b"", tpixels(pf, pixels).tobytes())

    def encode_layer(
        self, layer: Layer, pf: PixelFormat, options: EncoderOptions, state: TightState
    ) -> bytes:
        """Payload of a planned text layer (``tight_text``): a fill, or two colours (index 0
        the background, 1 the foreground) whose 1 bpp rows are already packed."""
        if layer.fg is None:
            return bytes((_FILL,)) + state.palette(pf, np.array([layer.bg], np.uint32))
        pal = state.palette(pf, np.array([layer.bg, layer.fg], np.uint32))
        head = bytes((_FILTER_PALETTE, 1)) + pal
        level = zlib_level(options.compress_level, palette=True)
        return _basic(state, STREAM_MONO, level, head, layer.bits)

    def _lossy(
        self, pixels: U32, piece: Rect, pf: PixelFormat, options: EncoderOptions, state: TightState
    ) -> list[EncodedRect]:
        """A full-colour piece when JPEG is allowed: runs of at least ``JPEG_MIN_ROWS``
        photo-like rows go as JPEG, everything else losslessly."""
        photo = photo_rows(pixels)
        if pf.effective().bits_per_pixel < 16:
            photo[:] = False
        edges = np.flatnonzero(np.diff(np.concatenate(([0], photo.view(np.int8), [0]))))
        runs = [
            (a, b)
            for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
            if b - a >= JPEG_MIN_ROWS
        ]
        out: list[EncodedRect] = []
        y = 0
        for a, b in [*runs, (piece.h, piece.h)]:
            if a > y:  # rows that are not photo-like: analysed and sent losslessly
                rest = pixels[y:a]
                sub = Rect(piece.x, piece.y + y, piece.w, a - y)
                payload = self.encode(rest, pf, options, state, analyse(rest), lossy=False)
                out.append(EncodedRect(sub, int(Encoding.TIGHT), payload))
            if b > a:
                sub = Rect(piece.x, piece.y + a, piece.w, b - a)
                payload = self.encode(pixels[a:b], pf, options, state, MANY)
                out.append(EncodedRect(sub, int(Encoding.TIGHT), payload))
            y = b
        return out

    def _two_colour(
        self,
        pixels: U32,
        piece: Rect,
        pf: PixelFormat,
        options: EncoderOptions,
        state: TightState,
        an: Analysis,
    ) -> list[EncodedRect]:
        """A few-colour piece: each 16-row band cut into runs of columns holding at most two
        colours, so most of a text screen goes at 1 bit per pixel."""
        assert an.colours is not None and an.indices is not None
        colours, indices = an.colours, an.indices
        h, w = indices.shape
        out: list[EncodedRect] = []
        bits = np.left_shift(np.uint64(1), indices.astype(np.uint64))
        bg_bit = np.uint64(1) << np.uint64(int(np.argmax(np.bincount(indices.reshape(-1)))))
        for y0 in range(0, h, TIGHT_BAND):
            y1 = min(h, y0 + TIGHT_BAND)
            # Colours other than the background in each column; cut where that set changes
            # (but keep neighbouring columns of 2+ such colours together).
            masks = np.bitwise_or.reduce(bits[y0:y1], axis=0) & ~bg_bit
            nz = np.flatnonzero(masks)
            vals = masks[nz]
            change = np.flatnonzero(vals[1:] != vals[:-1]) + 1
            heavy = np.bitwise_count(vals) > 1
            change = change[~(heavy[change] & heavy[change - 1])]
            cuts = [0, *nz[change].tolist(), w]
            for x0, x1 in itertools.pairwise(cuts):
                sub = indices[y0:y1, x0:x1]
                used = np.bincount(sub.reshape(-1), minlength=colours.size) > 0
                lut = (np.cumsum(used) - 1).astype(np.uint8)
                sub_an = Analysis(colours[used], lut[sub])
                rect = Rect(piece.x + x0, piece.y + y0, x1 - x0, y1 - y0)
                payload = self.encode(pixels[y0:y1, x0:x1], pf, options, state, sub_an)
                out.append(EncodedRect(rect, int(Encoding.TIGHT), payload))
        return out


def jpeg_allowed(pixels: U32, pf: PixelFormat, options: EncoderOptions) -> bool:
    """JPEG only if lossy is allowed, the viewer asked for a quality, and the (full colour)
    rectangle is big and photo-like."""
    return (
        options.allow_lossy
        and options.quality_level is not None
        and pf.effective().bits_per_pixel >= 16
        and pixels.size >= JPEG_MIN_AREA
        and photo_like(pixels)
    )


def _basic(state: TightState, sid: int, level: int, filter_part: bytes, data: bytes) -> bytes:
    """Basic compression: control byte, filter, then the data (deflated when 12 bytes or more)."""
    ctl = sid << 4
    if filter_part:
        ctl |= _EXPLICIT_FILTER
    if len(data) < MIN_TO_COMPRESS:
        return bytes((ctl,)) + filter_part + data
    stream, reset = state.stream(sid, level)
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
