"""Zlib encoding (RFB spec section 7.7.5 "Zlib Encoding").

Raw pixels deflated by one stream kept for the connection's life: U32 length + zlib data.
"""

from __future__ import annotations

from ..rfb.pixel_format import PixelFormat
from .analysis import U32, Analysis
from .base import EncoderState
from .zstream import ZStream, zlib_level

ZLIB = 6


class ZlibEncoder:
    code = ZLIB
    name = "zlib"

    def encode(
        self, pixels: U32, pf: PixelFormat, state: EncoderState, analysis: Analysis | None = None
    ) -> bytes:
        """Payload of one Zlib rectangle."""
        level = zlib_level(state.compress_level)
        stream = state.streams.get("zlib")
        if not isinstance(stream, ZStream):
            stream = ZStream(level)
            state.streams["zlib"] = stream
        stream.relevel(level)  # one stream for the connection's life; a new level continues it
        body = stream.compress(pf.pack(pixels))
        return len(body).to_bytes(4, "big") + body
