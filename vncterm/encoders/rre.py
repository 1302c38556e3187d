"""RRE encoding (RFB spec section 7.7.3 "RRE Encoding").

U32 number of subrectangles, background PIXEL, then per subrectangle PIXEL + U16 x, y, w, h.
The background is the most frequent colour; the subrectangles are the horizontal runs of other
colours in each row. Cheap for solid and nearly solid areas, poor for text; the manager sends
Raw instead when RRE would not be smaller.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Rect
from ..rfb.connection import EncodedRect
from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from .analysis import U32, Analysis, ContentClass, analyse
from .base import EncoderOptions, StatelessEncoder


class RreEncoder(StatelessEncoder):
    encoding = Encoding.RRE
    suits = frozenset({ContentClass.SOLID})

    def rects(
        self,
        piece: Rect,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: None,
        analysis: Analysis,
    ) -> list[EncodedRect]:
        """One RRE rectangle, or Raw when that is not larger."""
        payload = self.encode(pixels, pf, options, state, analysis)
        if len(payload) >= piece.area * pf.effective().bytes_per_pixel:
            return [EncodedRect(piece, int(Encoding.RAW), pf.pack(pixels))]
        return [EncodedRect(piece, int(Encoding.RRE), payload)]

    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: None,
        analysis: Analysis | None = None,
    ) -> bytes:
        """Payload of one RRE rectangle."""
        _h, w = pixels.shape
        flat = np.ascontiguousarray(pixels, dtype=np.uint32).reshape(-1)
        if flat.size == 0:
            return (0).to_bytes(4, "big") + pf.pack(np.zeros(1, np.uint32))
        if analysis is None:
            analysis = analyse(pixels)
        if analysis.colours is not None and analysis.indices is not None:
            counts = np.bincount(analysis.indices.reshape(-1), minlength=analysis.colours.size)
            bg = analysis.colours[int(np.argmax(counts))]
        else:
            values, counts = np.unique(flat, return_counts=True)
            bg = values[int(np.argmax(counts))]
        brk = np.empty(flat.size, np.bool_)
        brk[0] = True
        np.not_equal(flat[1:], flat[:-1], out=brk[1:])
        brk[::w] = True
        starts = np.flatnonzero(brk)
        lengths = np.diff(np.append(starts, flat.size))
        keep = flat[starts] != bg
        starts, lengths = starts[keep], lengths[keep]
        n = int(starts.size)
        bpp = pf.effective().bytes_per_pixel
        rec = np.empty((n, bpp + 8), np.uint8)
        rec[:, :bpp] = pf.to_wire(flat[starts])
        geo = np.empty((n, 4), ">u2")
        geo[:, 0] = starts % w
        geo[:, 1] = starts // w
        geo[:, 2] = lengths
        geo[:, 3] = 1
        rec[:, bpp:] = geo.view(np.uint8).reshape(n, 8)
        body: bytes = rec.tobytes()
        bg_wire: bytes = pf.pack(np.array([bg], np.uint32))
        return n.to_bytes(4, "big") + bg_wire + body
