"""Zlib encoding (RFB spec section 7.7.5 "Zlib Encoding").

Raw pixels deflated by one stream kept for the connection's life: U32 length + zlib data.
"""

from __future__ import annotations

from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from .analysis import U32, Analysis, ContentClass
from .base import Encoder, EncoderOptions
from .zstream import OneStream, zlib_level


class ZlibEncoder(Encoder[OneStream]):
    encoding = Encoding.ZLIB
    suits = frozenset({ContentClass.BITMAP, ContentClass.INDEXED, ContentClass.FULL})
    uses_palette = False

    def new_state(self) -> OneStream:
        return OneStream()

    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: OneStream,
        analysis: Analysis | None = None,
    ) -> bytes:
        """Payload of one Zlib rectangle."""
        body = state.at(zlib_level(options.compress_level)).compress(pf.pack(pixels))
        return len(body).to_bytes(4, "big") + body
