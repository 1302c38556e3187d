"""Raw encoding (RFB spec section 7.7.1): pixels row by row in the viewer's format."""

from __future__ import annotations

import numpy as np

from ..rfb.pixel_format import PixelFormat
from .base import EncoderState


class RawEncoder:
    code = 0
    name = "raw"

    def encode(self, pixels: np.ndarray, pf: PixelFormat, state: EncoderState) -> bytes:
        return pf.pack(pixels)
