"""Raw encoding (RFB spec section 7.7.1): pixels row by row in the viewer's format.

Every viewer decodes it; the manager falls back to it when the viewer listed nothing else.
"""

from __future__ import annotations

from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from .analysis import U32, Analysis
from .base import EncoderOptions, StatelessEncoder


class RawEncoder(StatelessEncoder):
    encoding = Encoding.RAW
    uses_palette = False

    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: None,
        analysis: Analysis | None = None,
    ) -> bytes:
        return pf.pack(pixels)
