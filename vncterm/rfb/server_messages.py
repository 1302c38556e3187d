"""Server-to-client messages (RFB spec section 7.6) and the pseudo-rectangles of section 7.8,
as bytes. Pure functions: the connection queues what they build."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ..geometry import Rect
from .constants import DesktopSizeReason, DesktopSizeStatus, Encoding, ServerMsg

_U32 = struct.Struct(">I")
_RECT_HEADER = struct.Struct(">HHHHi")
_SCREEN = struct.Struct(">IHHHHI")
#: The rectangle count of a FramebufferUpdate is a U16.
MAX_RECTS = 0xFFFF


@dataclass(frozen=True, slots=True)
class EncodedRect:
    """One FramebufferUpdate rectangle (section 7.6.1): where, the encoding number (a pixel
    encoding or a pseudo-encoding), the payload that follows the header."""

    rect: Rect
    encoding: int
    payload: bytes


def framebuffer_update(rects: Iterable[EncodedRect]) -> tuple[list[bytes], int]:
    """FramebufferUpdate (section 7.6.1): the pieces, in as many messages as the U16 count needs
    (one empty message for no rectangle), and the size of the rectangles (headers included)."""
    out: list[bytes] = []
    parts: list[bytes] = []
    count = size = 0
    for item in rects:
        rect = item.rect
        parts.append(_RECT_HEADER.pack(rect.x, rect.y, rect.w, rect.h, item.encoding))
        parts.append(item.payload)
        size += _RECT_HEADER.size + len(item.payload)
        count += 1
        if count == MAX_RECTS:
            out.append(struct.pack(">BxH", ServerMsg.FRAMEBUFFER_UPDATE, count))
            out += parts
            parts, count = [], 0
    if count or not size:
        out.append(struct.pack(">BxH", ServerMsg.FRAMEBUFFER_UPDATE, count))
        out += parts
    return out, size


def colour_map(first: int, colours: list[tuple[int, int, int]]) -> bytes:
    """SetColourMapEntries (section 7.6.2), colours as U16 (r, g, b)."""
    body = b"".join(struct.pack(">HHH", *c) for c in colours)
    return struct.pack(">BxHH", ServerMsg.SET_COLOUR_MAP_ENTRIES, first, len(colours)) + body


def bell() -> bytes:
    """Bell (section 7.6.3)."""
    return bytes([ServerMsg.BELL])


def cut_text(data: bytes) -> bytes:
    """ServerCutText (section 7.6.4) of Latin-1 bytes."""
    return struct.pack(">Bxxx", ServerMsg.SERVER_CUT_TEXT) + _U32.pack(len(data)) + data


def extended_clipboard(payload: bytes) -> bytes:
    """An Extended Clipboard message: ServerCutText with a negative length."""
    return struct.pack(">Bxxxi", ServerMsg.SERVER_CUT_TEXT, -len(payload)) + payload


def end_of_continuous_updates() -> bytes:
    """EndOfContinuousUpdates (section 7.6.5)."""
    return bytes([ServerMsg.END_OF_CONTINUOUS_UPDATES])


def fence(flags: int, payload: bytes = b"") -> bytes:
    """ServerFence (section 7.6.6)."""
    return struct.pack(">BxxxIB", ServerMsg.SERVER_FENCE, flags, len(payload)) + payload


def server_init(width: int, height: int, pixel_format: bytes, name: str) -> bytes:
    """ServerInit (section 7.3.2)."""
    encoded = name.encode()
    return struct.pack(">HH", width, height) + pixel_format + _U32.pack(len(encoded)) + encoded


def desktop_size_rect(
    encodings: tuple[int, ...],
    width: int,
    height: int,
    reason: int = DesktopSizeReason.SERVER,
    status: int = DesktopSizeStatus.OK,
) -> EncodedRect | None:
    """The size pseudo-rectangle a viewer listing ``encodings`` understands (section 7.8.2
    DesktopSize, 7.8.5 ExtendedDesktopSize with one screen), or None if it knows neither;
    DesktopSize cannot say a request failed, so it is only sent for status OK."""
    if Encoding.EXTENDED_DESKTOP_SIZE in encodings:
        screen = _SCREEN.pack(0, 0, 0, width, height, 0)
        return EncodedRect(
            Rect(reason, status, width, height),
            Encoding.EXTENDED_DESKTOP_SIZE,
            b"\x01\0\0\0" + screen,
        )
    if Encoding.DESKTOP_SIZE in encodings and status == DesktopSizeStatus.OK:
        return EncodedRect(Rect(0, 0, width, height), Encoding.DESKTOP_SIZE, b"")
    return None


def desktop_name_rect(name: str) -> EncodedRect:
    """DesktopName (section 7.8.4)."""
    data = name.encode()
    return EncodedRect(Rect(0, 0, 0, 0), Encoding.DESKTOP_NAME, _U32.pack(len(data)) + data)
