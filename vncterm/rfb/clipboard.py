"""The Extended Clipboard pseudo-encoding (0xc0a1e5ce; rfbproto section 7.8.x "Extended
Clipboard Pseudo-Encoding").

Once a viewer lists it, cut-text lengths are signed: a negative length -N announces an N-byte
extended message, a U32 of flags (formats in bits 0-15, actions in bits 24-31) and a body:
capabilities carry a U32 size limit per format; provide carries a zlib stream of (U32 size,
bytes) per format, text being UTF-8 with CRLF line ends and a terminating NUL.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ..errors import ProtocolError

TEXT = 1 << 0
RTF, HTML, DIB, FILES = 1 << 1, 1 << 2, 1 << 3, 1 << 4
CAPS = 1 << 24
REQUEST = 1 << 25
PEEK = 1 << 26
NOTIFY = 1 << 27
PROVIDE = 1 << 28
ACTIONS = CAPS | REQUEST | PEEK | NOTIFY | PROVIDE

_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class ClipboardMessage:
    """One parsed extended clipboard message."""

    action: int  # one of CAPS, REQUEST, PEEK, NOTIFY, PROVIDE
    formats: int
    text: str | None = None  # PROVIDE with text
    sizes: tuple[int, ...] = ()  # CAPS: limit per announced format, lowest bit first


def caps(max_text: int) -> bytes:
    """Our capabilities: text only, every action we handle, with its size limit."""
    return _U32.pack(CAPS | REQUEST | PEEK | NOTIFY | PROVIDE | TEXT) + _U32.pack(max_text)


def notify(formats: int) -> bytes:
    return _U32.pack(NOTIFY | formats)


def request(formats: int) -> bytes:
    return _U32.pack(REQUEST | formats)


def provide_text(text: str) -> bytes:
    """A provide message holding ``text`` (CRLF line ends, NUL-terminated, zlib-compressed)."""
    body = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode() + b"\0"
    return _U32.pack(PROVIDE | TEXT) + zlib.compress(_U32.pack(len(body)) + body)


def parse(payload: bytes, max_text: int) -> ClipboardMessage:
    """Parse an extended message; inflated data is capped at ``max_text`` bytes."""
    if len(payload) < 4:
        raise ProtocolError("extended clipboard message shorter than its flags")
    (flags,) = _U32.unpack_from(payload)
    formats, actions = flags & 0xFFFF, flags & 0xFF000000
    if actions & CAPS:
        count = bin(formats).count("1")
        if len(payload) < 4 + 4 * count:
            raise ProtocolError("extended clipboard caps without their size limits")
        sizes = struct.unpack_from(f">{count}I", payload, 4)
        return ClipboardMessage(CAPS, formats, sizes=sizes)
    if actions not in (REQUEST, PEEK, NOTIFY, PROVIDE):
        raise ProtocolError(f"extended clipboard flags {flags:#x} name no single action")
    if actions != PROVIDE:
        return ClipboardMessage(actions, formats)
    return ClipboardMessage(PROVIDE, formats, text=provided_text(formats, payload[4:], max_text))


def provided_text(formats: int, body: bytes, max_text: int, oversize: str = "error") -> str | None:
    """The text in a provide message's zlib ``body`` (None if it holds no text).

    Inflated data is capped at ``max_text`` bytes: beyond it, ``oversize="error"`` raises
    ProtocolError and ``"skip"`` returns None.
    """
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, max_text + 4 * 16 + 1)
    except zlib.error as e:
        raise ProtocolError(f"extended clipboard data is not a zlib stream: {e}") from None
    if inflater.unconsumed_tail and oversize == "skip":
        return None
    text = None
    offset = 0
    for bit in range(16):
        if not formats & (1 << bit):
            continue
        if offset + 4 > len(data):
            raise ProtocolError("extended clipboard provide data is truncated")
        (size,) = _U32.unpack_from(data, offset)
        if size > max_text:
            if oversize == "skip":
                return None
            raise ProtocolError(f"clipboard data of {size} bytes (limit {max_text})")
        chunk = data[offset + 4 : offset + 4 + size]
        if len(chunk) < size:
            raise ProtocolError("extended clipboard provide data is truncated")
        offset += 4 + size
        if bit == 0:
            text = chunk.decode("utf-8", errors="replace").split("\0", 1)[0].replace("\r\n", "\n")
    return text
