"""CopyRect encoding (RFB spec section 7.7.2): copy an area the viewer already shows.

The payload is the source position; the rectangle header gives the destination. The caller
decides CopyRects (from the source's scroll hints), never the encode manager.
"""

from __future__ import annotations

import struct


def copyrect_payload(src_x: int, src_y: int) -> bytes:
    """The 4-byte CopyRect payload: U16 source x, U16 source y."""
    return struct.pack(">HH", src_x, src_y)
