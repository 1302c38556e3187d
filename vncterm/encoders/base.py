"""The encoder interface (RFB spec section 7.7 "Encodings").

An encoder turns a rectangle of server pixels (a ``(h, w)`` uint32 array of ``0x00RRGGBB``) into
the payload that follows the 12-byte rectangle header, in the viewer's pixel format. Encoders
with state (zlib streams) receive it explicitly: one ``EncoderState`` per viewer connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..rfb.pixel_format import PixelFormat


@dataclass
class EncoderState:
    """Per-connection state the stateful encoders keep (zlib streams and options).

    Encoders store what they need under their own key in ``streams`` so that one viewer's streams
    are never seen by another. ``compress_level`` and ``quality_level`` come from the
    viewer's pseudo-encodings (-256..-247 and -32..-23), None when not sent.
    """

    compress_level: int | None = None
    quality_level: int | None = None
    allow_lossy: bool = False
    streams: dict[str, object] = field(default_factory=dict)


class Encoder(Protocol):
    """One RFB encoding."""

    code: int
    name: str

    def encode(self, pixels: np.ndarray, pf: PixelFormat, state: EncoderState) -> bytes:
        """Payload of one rectangle holding ``pixels`` (shape (h, w), uint32 0x00RRGGBB)."""
        ...
