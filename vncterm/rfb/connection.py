"""The RFB server side as a sans-I/O state machine (RFB spec sections 7.1 to 7.6).

Feed it the bytes a viewer sent with :meth:`ServerConnection.receive_data`; it returns the events
those bytes completed and queues its answers, which :meth:`data_to_send` hands back. It never
touches a socket, a clock or the OS: the challenge source is injected. Bytes may arrive split at
any point; the same events come out. A viewer that breaks the protocol raises
:class:`~vncterm.errors.ProtocolError`; every length it sends is capped before anything is
allocated for it.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from ..errors import ProtocolError, UsageError
from ..geometry import Rect
from . import auth, events, streams
from .constants import ClientMsg, SecurityType, ServerMsg
from .pixel_format import PIXEL_FORMAT_SIZE, SERVER_PIXEL_FORMAT, PixelFormat

#: Upper bounds on what a viewer may make us read or keep.
MAX_ENCODINGS = 1024
MAX_CUT_TEXT = 1 << 20
MAX_EARLY_INPUT = 64 * 1024

_VERSION_RE = re.compile(rb"RFB (\d{3})\.(\d{3})\n")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_RECT_HEADER = struct.Struct(">HHHHi")

class UpdateRect(Protocol):
    """What a FramebufferUpdate rectangle needs: where, the encoding number, the payload."""

    @property
    def rect(self) -> Rect: ...

    @property
    def encoding(self) -> int: ...

    @property
    def payload(self) -> bytes: ...


class RectData(NamedTuple):
    """A plain UpdateRect (pseudo-encodings and tests)."""

    rect: Rect
    encoding: int
    payload: bytes


class State(enum.Enum):
    """Where the handshake is (section 7.1 to 7.3), then NORMAL, then CLOSED."""

    VERSION = "waiting for ProtocolVersion"
    SECURITY_CHOICE = "waiting for the security type"
    VNC_AUTH_RESPONSE = "waiting for the VNC authentication response"
    CLIENT_INIT = "waiting for ClientInit"
    SERVER_INIT = "waiting for the owner to send ServerInit"
    NORMAL = "normal"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """How viewers must authenticate. With no password, security type None is offered."""

    password: bytes | None = None
    view_only_password: bytes | None = None

    @property
    def types(self) -> tuple[int, ...]:
        if self.password is None and self.view_only_password is None:
            return (SecurityType.NONE,)
        return (SecurityType.VNC_AUTH,)


class ServerConnection:
    """One viewer's RFB session, server side, without I/O."""

    def __init__(
        self,
        security: SecurityConfig | None = None,
        random_bytes: Callable[[int], bytes] | None = None,
        max_cut_text: int = MAX_CUT_TEXT,
    ) -> None:
        self.security = security or SecurityConfig()
        if random_bytes is None and self.security.types != (SecurityType.NONE,):
            raise UsageError("VNC authentication needs a random_bytes source")
        self._random_bytes = random_bytes
        self.max_cut_text = max_cut_text
        self.state = State.VERSION
        #: Negotiated protocol minor version: 3, 7 or 8.
        self.minor_version = 0
        self.pixel_format: PixelFormat = SERVER_PIXEL_FORMAT
        self.encodings: tuple[int, ...] = ()
        self.view_only = False
        #: Set when the viewer announced the Extended Clipboard (cut text lengths become signed).
        self.extended_clipboard = False
        #: The number stream rectangles are announced with, None if the viewer gets no streams.
        self.stream_encoding: int | None = None
        self.width = 0
        self.height = 0
        self._in = bytearray()
        self._out: list[bytes] = [b"RFB 003.008\n"]
        self._challenge = b""

    # -- output ----------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued for the viewer since the last call."""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def _send(self, data: bytes) -> None:
        self._out.append(data)

    def _fail_security(self, reason: str) -> events.AuthenticationFailed:
        """SecurityResult "failed" (section 7.1.3), with a reason from version 3.8 on."""
        self._send(_U32.pack(1))
        if self.minor_version >= 8:
            encoded = reason.encode()
            self._send(_U32.pack(len(encoded)) + encoded)
        self.state = State.CLOSED
        return events.AuthenticationFailed(reason)

    def send_server_init(self, width: int, height: int, name: str) -> None:
        """ServerInit (section 7.3.2) in answer to ClientInit."""
        if self.state is not State.SERVER_INIT:
            raise UsageError(f"ServerInit cannot be sent in state {self.state.name}")
        self.width, self.height = width, height
        encoded = name.encode()
        self._send(
            struct.pack(">HH", width, height) + SERVER_PIXEL_FORMAT.to_bytes()
            + _U32.pack(len(encoded)) + encoded
        )
        self.state = State.NORMAL

    def send_framebuffer_update(self, rects: Iterable[UpdateRect]) -> int:
        """FramebufferUpdate (section 7.6.1); returns the number of bytes queued."""
        self._require_normal()
        parts: list[bytes] = []
        count = 0
        size = 0
        for item in rects:
            rect, encoding, payload = item.rect, item.encoding, item.payload
            parts.append(_RECT_HEADER.pack(rect.x, rect.y, rect.w, rect.h, encoding))
            parts.append(payload)
            size += 12 + len(payload)
            count += 1
            if count == 0xFFFF:  # the count is a U16: continue in another message
                self._send(struct.pack(">BxH", ServerMsg.FRAMEBUFFER_UPDATE, count))
                self._out.extend(parts)
                parts, count = [], 0
        if count or not size:
            self._send(struct.pack(">BxH", ServerMsg.FRAMEBUFFER_UPDATE, count))
            self._out.extend(parts)
        return size + 4

    def send_colour_map(self, first: int, colours: list[tuple[int, int, int]]) -> None:
        """SetColourMapEntries (section 7.6.2), colours as U16 (r, g, b)."""
        self._require_normal()
        body = b"".join(struct.pack(">HHH", *c) for c in colours)
        header = struct.pack(">BxHH", ServerMsg.SET_COLOUR_MAP_ENTRIES, first, len(colours))
        self._send(header + body)

    def send_bell(self) -> None:
        """Bell (section 7.6.3)."""
        self._require_normal()
        self._send(bytes([ServerMsg.BELL]))

    def send_cut_text(self, text: str) -> None:
        """ServerCutText (section 7.6.4) in Latin-1; characters outside it become '?'."""
        self._require_normal()
        data = text.encode("latin-1", errors="replace")
        self._send(struct.pack(">Bxxx", ServerMsg.SERVER_CUT_TEXT) + _U32.pack(len(data)) + data)

    @property
    def has_buffered_input(self) -> bool:
        """True when bytes wait to be parsed (after ServerInit, call ``receive_data(b"")``)."""
        return bool(self._in)

    def send_stream_started(self, stream_id: int, name: str) -> None:
        """Stream extension: the answer to a start-capture request."""
        self._require_normal()
        self._send(streams.started(stream_id, name))

    def send_stream_ended(self, stream_id: int) -> None:
        self._require_normal()
        self._send(streams.ended(stream_id))

    def send_stream_data(self, stream_id: int, data: bytes) -> None:
        self._require_normal()
        for i in range(0, len(data), streams.MAX_DATA):
            self._send(streams.data_message(stream_id, data[i:i + streams.MAX_DATA]))

    def stream_announcements(self, changes: Iterable[tuple[str, bool]]) -> list[RectData]:
        """Rectangles announcing stream additions/removals, for the next FramebufferUpdate."""
        if self.stream_encoding is None:
            return []
        out = []
        for name, added in changes:
            rect, payload = streams.announcement(name, added)
            out.append(RectData(rect, self.stream_encoding, payload))
        return out

    def _require_normal(self) -> None:
        if self.state is not State.NORMAL:
            raise UsageError(f"cannot send messages in state {self.state.name}")

    # -- input -----------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[events.Event]:
        """Consume bytes from the viewer; return the events they complete.

        Raises ProtocolError when the viewer broke the protocol; the connection is then CLOSED.
        """
        if self.state is State.CLOSED:
            return []
        self._in += data
        out: list[events.Event] = []
        try:
            while self._active():
                before = len(self._in)
                event = self._step()
                if event is not None:
                    out.append(event)
                elif len(self._in) == before:
                    break  # need more bytes
        except ProtocolError:
            self.state = State.CLOSED
            self._in.clear()
            raise
        return out

    def _active(self) -> bool:
        return self.state is not State.CLOSED

    def _take(self, n: int) -> bytes | None:
        """Remove and return exactly ``n`` buffered bytes, or None if not all there yet."""
        if len(self._in) < n:
            return None
        chunk = bytes(self._in[:n])
        del self._in[:n]
        return chunk

    def _step(self) -> events.Event | None:
        state = self.state
        if state is State.VERSION:
            return self._read_version()
        if state is State.SECURITY_CHOICE:
            return self._read_security_choice()
        if state is State.VNC_AUTH_RESPONSE:
            return self._read_auth_response()
        if state is State.CLIENT_INIT:
            raw = self._take(1)
            if raw is None:
                return None
            self.state = State.SERVER_INIT
            return events.ClientInit(shared=raw[0] != 0)
        if state is State.SERVER_INIT:
            # A viewer should wait for ServerInit; hold (a little of) what it sent early until
            # the owner calls send_server_init() and then receive_data(b"").
            if len(self._in) > MAX_EARLY_INPUT:
                raise ProtocolError("viewer sent too much before ServerInit")
            return None
        return self._read_message()

    def _read_version(self) -> events.Event | None:
        """ProtocolVersion (section 7.1.1): 12 bytes "RFB xxx.yyy\\n"."""
        if len(self._in) < 12:
            if not b"RFB ".startswith(bytes(self._in[:4])):
                raise ProtocolError(f"not an RFB client: got {bytes(self._in)!r}")
            return None
        raw = self._take(12)
        assert raw is not None
        m = _VERSION_RE.fullmatch(raw)
        if not m or int(m.group(1)) != 3:
            raise ProtocolError(f"unsupported protocol version {raw!r}")
        minor = int(m.group(2))
        # 3.7 and 3.8 as asked; 3.8+ is answered as 3.8; anything else (3.3, 3.5, 3.889) as 3.3.
        self.minor_version = 8 if minor >= 8 and minor != 889 else 7 if minor == 7 else 3
        types = self.security.types
        if self.minor_version == 3:
            chosen = types[0]
            self._send(_U32.pack(chosen))
            return self._begin_security(chosen)
        self._send(bytes([len(types), *types]))
        self.state = State.SECURITY_CHOICE
        return None

    def _read_security_choice(self) -> events.Event | None:
        """The viewer's security type (section 7.1.2, versions 3.7 and 3.8)."""
        raw = self._take(1)
        if raw is None:
            return None
        if raw[0] not in self.security.types:
            return self._fail_security(f"security type {raw[0]} was not offered")
        return self._begin_security(raw[0])

    def _begin_security(self, chosen: int) -> events.Event | None:
        if chosen == SecurityType.NONE:
            if self.minor_version >= 8:
                self._send(_U32.pack(0))  # SecurityResult OK (section 7.1.3)
            self.state = State.CLIENT_INIT
            return events.Authenticated(SecurityType.NONE, view_only=False)
        assert self._random_bytes is not None
        self._challenge = self._random_bytes(auth.CHALLENGE_SIZE)
        if len(self._challenge) != auth.CHALLENGE_SIZE:
            raise UsageError("random_bytes returned the wrong number of bytes")
        self._send(self._challenge)
        self.state = State.VNC_AUTH_RESPONSE
        return None

    def _read_auth_response(self) -> events.Event | None:
        """VNC Authentication response (section 7.2.2)."""
        raw = self._take(auth.CHALLENGE_SIZE)
        if raw is None:
            return None
        sec = self.security
        if sec.password is not None and auth.check_response(sec.password, self._challenge, raw):
            view_only = False
        elif sec.view_only_password is not None and auth.check_response(
            sec.view_only_password, self._challenge, raw
        ):
            view_only = True
        else:
            return self._fail_security("Authentication failed")
        self.view_only = view_only
        self._send(_U32.pack(0))
        self.state = State.CLIENT_INIT
        return events.Authenticated(SecurityType.VNC_AUTH, view_only=view_only)

    def _read_message(self) -> events.Event | None:
        """One client-to-server message (section 7.5)."""
        if not self._in:
            return None
        kind = self._in[0]
        if kind == ClientMsg.SET_PIXEL_FORMAT:
            raw = self._take(4 + PIXEL_FORMAT_SIZE)
            if raw is None:
                return None
            pf = PixelFormat.from_bytes(raw[4:])
            self.pixel_format = pf
            return events.SetPixelFormat(pf)
        if kind == ClientMsg.SET_ENCODINGS:
            if len(self._in) < 4:
                return None
            (count,) = _U16.unpack_from(self._in, 2)
            if count > MAX_ENCODINGS:
                raise ProtocolError(f"SetEncodings lists {count} encodings (limit {MAX_ENCODINGS})")
            raw = self._take(4 + 4 * count)
            if raw is None:
                return None
            encs = struct.unpack(f">{count}i", raw[4:])
            self.encodings = encs
            self.stream_encoding = streams.stream_encoding_for(encs)
            return events.SetEncodings(encs)
        if kind == ClientMsg.FRAMEBUFFER_UPDATE_REQUEST:
            raw = self._take(10)
            if raw is None:
                return None
            inc, x, y, w, h = struct.unpack(">xBHHHH", raw)
            return events.FramebufferUpdateRequest(bool(inc), Rect(x, y, w, h))
        if kind == ClientMsg.KEY_EVENT:
            raw = self._take(8)
            if raw is None:
                return None
            down, keysym = struct.unpack(">xBxxI", raw)
            return events.KeyEvent(bool(down), keysym)
        if kind == ClientMsg.POINTER_EVENT:
            raw = self._take(6)
            if raw is None:
                return None
            mask, x, y = struct.unpack(">xBHH", raw)
            return events.PointerEvent(mask, x, y)
        if kind == ClientMsg.CLIENT_CUT_TEXT:
            return self._read_cut_text()
        if kind == ClientMsg.QEMU:
            return self._read_qemu()
        raise ProtocolError(f"unknown or unannounced message type {kind}")

    def _read_cut_text(self) -> events.Event | None:
        """ClientCutText (section 7.5.6); the length is capped before anything is read."""
        if len(self._in) < 8:
            return None
        (length,) = struct.unpack_from(">i" if self.extended_clipboard else ">I", self._in, 4)
        if abs(length) > self.max_cut_text:
            raise ProtocolError(f"cut text of {abs(length)} bytes (limit {self.max_cut_text})")
        if length < 0:
            raise ProtocolError("extended clipboard messages are not supported yet")
        raw = self._take(8 + length)
        if raw is None:
            return None
        return events.ClientCutText(raw[8:].decode("latin-1"))

    def _read_qemu(self) -> events.Event | None:
        """QEMU client message (section 7.5.7): sub-type 0, Extended Key Event, and sub-type 2,
        the stream extension (see ``streams``)."""
        if len(self._in) < 2:
            return None
        subtype = self._in[1]
        if subtype == streams.STREAM_SUBTYPE:
            if self.stream_encoding is None:
                raise ProtocolError("stream message from a viewer that did not announce streams")
            parsed = streams.parse_client_message(self._in)
            if parsed is None:
                return None
            used, (op, *args) = parsed
            del self._in[:used]
            if op == streams.OP_START:
                return events.StreamStart(str(args[0]))
            if op == streams.OP_END:
                return events.StreamEnd(int(args[0]))  # type: ignore[call-overload]
            return events.StreamData(int(args[0]), bytes(args[1]))  # type: ignore[call-overload]
        if subtype != 0:
            raise ProtocolError(f"unsupported QEMU client message sub-type {subtype}")
        raw = self._take(12)
        if raw is None:
            return None
        down, keysym, keycode = struct.unpack(">xxHII", raw)
        return events.QemuKeyEvent(bool(down), keysym, keycode)
