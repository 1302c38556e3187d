"""Client-to-server messages (RFB spec section 7.5) parsed into events, without I/O.

:func:`parse` reads one message from the start of a buffer, consuming it, and returns its event;
None when the message is not all there yet (nothing consumed) or carries nothing for the owner
(an Extended Clipboard Caps: consumed). Every length a viewer sends is capped before anything is
allocated for it; a viewer that breaks the protocol raises :class:`~vncterm.errors.ProtocolError`.
What the parser must know of the session (what was negotiated) comes through :class:`Negotiated`.
"""

from __future__ import annotations

import struct
from typing import Protocol

from ..errors import ProtocolError
from ..geometry import Rect
from . import clipboard, events, streams
from .constants import ClientMsg
from .pixel_format import PIXEL_FORMAT_SIZE, PixelFormat

#: Upper bounds on what a viewer may make us read or keep.
MAX_ENCODINGS = 1024
MAX_CUT_TEXT = 1 << 20
MAX_FENCE = 64

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_SCREEN = struct.Struct(">IHHHHI")


class Negotiated(Protocol):
    """What changes how a viewer's messages read (``ServerConnection`` is one)."""

    @property
    def extended_clipboard(self) -> bool:
        """Cut text lengths are signed (Extended Clipboard)."""

    @property
    def max_cut_text(self) -> int: ...

    @property
    def continuous_updates_announced(self) -> bool: ...

    @property
    def fence_announced(self) -> bool: ...

    @property
    def stream_encoding(self) -> int | None: ...


def _take(buf: bytearray, n: int) -> bytes | None:
    if len(buf) < n:
        return None
    chunk = bytes(buf[:n])
    del buf[:n]
    return chunk


def parse(buf: bytearray, neg: Negotiated) -> events.Event | None:
    """One client-to-server message from the start of ``buf`` (section 7.5)."""
    if not buf:
        return None
    kind = buf[0]
    if kind == ClientMsg.SET_PIXEL_FORMAT:
        raw = _take(buf, 4 + PIXEL_FORMAT_SIZE)
        return None if raw is None else events.SetPixelFormat(PixelFormat.from_bytes(raw[4:]))
    if kind == ClientMsg.SET_ENCODINGS:
        return _set_encodings(buf)
    if kind == ClientMsg.FRAMEBUFFER_UPDATE_REQUEST:
        raw = _take(buf, 10)
        if raw is None:
            return None
        inc, x, y, w, h = struct.unpack(">xBHHHH", raw)
        return events.FramebufferUpdateRequest(bool(inc), Rect(x, y, w, h))
    if kind == ClientMsg.KEY_EVENT:
        raw = _take(buf, 8)
        if raw is None:
            return None
        down, keysym = struct.unpack(">xBxxI", raw)
        return events.KeyEvent(bool(down), keysym)
    if kind == ClientMsg.POINTER_EVENT:
        raw = _take(buf, 6)
        if raw is None:
            return None
        mask, x, y = struct.unpack(">xBHH", raw)
        return events.PointerEvent(mask, x, y)
    if kind == ClientMsg.CLIENT_CUT_TEXT:
        return _cut_text(buf, neg)
    if kind == ClientMsg.QEMU:
        return _qemu(buf, neg)
    if kind == ClientMsg.SET_DESKTOP_SIZE:
        return _set_desktop_size(buf)
    if kind == ClientMsg.ENABLE_CONTINUOUS_UPDATES and neg.continuous_updates_announced:
        raw = _take(buf, 10)
        if raw is None:
            return None
        enable, x, y, w, h = struct.unpack(">xBHHHH", raw)
        return events.EnableContinuousUpdates(bool(enable), Rect(x, y, w, h))
    if kind == ClientMsg.CLIENT_FENCE and neg.fence_announced:
        return _fence(buf)
    raise ProtocolError(f"unknown or unannounced message type {kind}")


def _set_encodings(buf: bytearray) -> events.Event | None:
    """SetEncodings (section 7.5.2): at most :data:`MAX_ENCODINGS`."""
    if len(buf) < 4:
        return None
    (count,) = _U16.unpack_from(buf, 2)
    if count > MAX_ENCODINGS:
        raise ProtocolError(f"SetEncodings lists {count} encodings (limit {MAX_ENCODINGS})")
    raw = _take(buf, 4 + 4 * count)
    return None if raw is None else events.SetEncodings(struct.unpack(f">{count}i", raw[4:]))


def _fence(buf: bytearray) -> events.Event | None:
    """ClientFence (section 7.5.11): a payload of at most :data:`MAX_FENCE` bytes."""
    if len(buf) < 9:
        return None
    length = buf[8]
    if length > MAX_FENCE:
        raise ProtocolError(f"fence payload of {length} bytes (limit {MAX_FENCE})")
    raw = _take(buf, 9 + length)
    if raw is None:
        return None
    (flags,) = _U32.unpack_from(raw, 4)
    return events.ClientFence(flags, raw[9:])


def _cut_text(buf: bytearray, neg: Negotiated) -> events.Event | None:
    """ClientCutText (section 7.5.6); the length is capped before anything is read."""
    if len(buf) < 8:
        return None
    (length,) = struct.unpack_from(">i" if neg.extended_clipboard else ">I", buf, 4)
    if abs(length) > neg.max_cut_text:
        raise ProtocolError(f"cut text of {abs(length)} bytes (limit {neg.max_cut_text})")
    raw = _take(buf, 8 + abs(length))
    if raw is None:
        return None
    if length >= 0:
        return events.ClientCutText(raw[8:].decode("latin-1"))
    msg = clipboard.parse(raw[8:], neg.max_cut_text)
    if msg.action == clipboard.CAPS:
        return None  # the viewer's limits: we only ever send text it asked for
    if msg.action == clipboard.NOTIFY:
        return events.ClipboardNotify(msg.formats)
    if msg.action == clipboard.REQUEST:
        return events.ClipboardRequest(msg.formats)
    if msg.action == clipboard.PEEK:
        return events.ClipboardPeek()
    return events.ClipboardProvide(msg.text or "") if msg.text is not None else None


def _set_desktop_size(buf: bytearray) -> events.Event | None:
    """SetDesktopSize (section 7.5.9): size and a screen layout of 16-byte entries (a U8
    count: at most 255)."""
    if len(buf) < 8:
        return None
    count = buf[6]
    raw = _take(buf, 8 + _SCREEN.size * count)
    if raw is None:
        return None
    width, height = struct.unpack_from(">HH", raw, 2)
    screens = tuple(_SCREEN.unpack_from(raw, 8 + _SCREEN.size * i) for i in range(count))
    return events.SetDesktopSize(width, height, screens)


def _qemu(buf: bytearray, neg: Negotiated) -> events.Event | None:
    """QEMU client message (section 7.5.7): sub-type 0, Extended Key Event, and sub-type 2,
    the stream extension (see ``streams``)."""
    if len(buf) < 2:
        return None
    subtype = buf[1]
    if subtype == streams.STREAM_SUBTYPE:
        if neg.stream_encoding is None:
            raise ProtocolError("stream message from a viewer that did not announce streams")
        parsed = streams.parse_client_message(buf)
        if parsed is None:
            return None
        used, (op, *args) = parsed
        del buf[:used]
        if op == streams.OP_START:
            return events.StreamStart(str(args[0]))
        if op == streams.OP_END:
            return events.StreamEnd(int(args[0]))  # type: ignore[call-overload]
        return events.StreamData(int(args[0]), bytes(args[1]))  # type: ignore[call-overload]
    if subtype != 0:
        raise ProtocolError(f"unsupported QEMU client message sub-type {subtype}")
    raw = _take(buf, 12)
    if raw is None:
        return None
    down, keysym, keycode = struct.unpack(">xxHII", raw)
    return events.QemuKeyEvent(bool(down), keysym, keycode)
