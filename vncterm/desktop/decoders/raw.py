"""Raw encoding (RFB spec section 7.7.1): ``w * h`` pixels, left to right, top to bottom."""

from __future__ import annotations

from ...geometry import Rect
from .base import BPP, U32, Reader, check_inside, pixels32

#: Rows are read in bands of at most this many bytes, so a big rectangle streams in.
BAND_BYTES = 1 << 20


def decode_raw(rect: Rect, fb: U32) -> Reader[None]:
    """Paint a Raw rectangle into ``fb``."""
    check_inside(rect, fb)
    if rect.w == 0 or rect.h == 0:
        return
    row = rect.w * BPP
    band = max(1, BAND_BYTES // row)
    for y in range(rect.y, rect.bottom, band):
        rows = min(band, rect.bottom - y)
        data = yield rows * row
        fb[y : y + rows, rect.x : rect.right] = pixels32(data, (rows, rect.w))
