"""DesktopName pseudo-encoding (RFB spec section 7.8.5): U32 length and a UTF-8 name."""

from __future__ import annotations

import struct

from ...errors import ProtocolError
from .base import Reader

MAX_NAME = 64 * 1024
_U32 = struct.Struct(">I")


def decode_name(max_length: int = MAX_NAME) -> Reader[str]:
    """Read a U32-length-prefixed UTF-8 string (also ServerInit's name, section 7.3.2)."""
    (length,) = _U32.unpack((yield 4))
    if length > max_length:
        raise ProtocolError(f"desktop name of {length} bytes (limit {max_length})")
    data = yield length
    return data.decode("utf-8", errors="replace")
