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
import ssl
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..errors import ProtocolError, UsageError
from ..geometry import Rect
from . import auth, clipboard, events, streams, vencrypt
from .constants import ClientMsg, Encoding, SecurityType, ServerMsg
from .pixel_format import PIXEL_FORMAT_SIZE, SERVER_PIXEL_FORMAT, PixelFormat

#: Upper bounds on what a viewer may make us read or keep.
MAX_ENCODINGS = 1024
MAX_CUT_TEXT = 1 << 20
MAX_EARLY_INPUT = 64 * 1024
MAX_FENCE = 64

_VERSION_RE = re.compile(rb"RFB (\d{3})\.(\d{3})\n")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_RECT_HEADER = struct.Struct(">HHHHi")


@dataclass(frozen=True, slots=True)
class EncodedRect:
    """One FramebufferUpdate rectangle (section 7.6.1): where, the encoding number (a pixel
    encoding or a pseudo-encoding), the payload that follows the header."""

    rect: Rect
    encoding: int
    payload: bytes


class State(enum.Enum):
    """Where the handshake is (section 7.1 to 7.3), then NORMAL, then CLOSED."""

    VERSION = "waiting for ProtocolVersion"
    SECURITY_CHOICE = "waiting for the security type"
    VNC_AUTH_RESPONSE = "waiting for the VNC authentication response"
    VENCRYPT_VERSION = "waiting for the VeNCrypt version"
    VENCRYPT_SUBTYPE = "waiting for the VeNCrypt sub-type"
    TLS_HANDSHAKE = "in the TLS handshake"
    PLAIN_AUTH = "waiting for the Plain credentials"
    PLAIN_CHECK = "waiting for the owner to check the Plain credentials"
    CLIENT_INIT = "waiting for ClientInit"
    SERVER_INIT = "waiting for the owner to send ServerInit"
    NORMAL = "normal"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """How viewers must authenticate (section 7.2).

    Without TLS: security None when there is no password, else VNC Authentication. With a TLS
    context (``tls_context`` for the X509 sub-types, ``anon_tls_context`` for the anonymous
    ones), VeNCrypt (19) is the only type offered; see :attr:`vencrypt_subtypes`.
    """

    password: bytes | None = None
    view_only_password: bytes | None = None
    tls_context: ssl.SSLContext | None = None
    anon_tls_context: ssl.SSLContext | None = None
    #: X509Plain/TLSPlain users (``vencrypt.parse_users``); None: Plain is not offered.
    plain_users: Mapping[str, vencrypt.PlainUser] | None = None

    @property
    def has_password(self) -> bool:
        return self.password is not None or self.view_only_password is not None

    @property
    def vencrypt_subtypes(self) -> tuple[int, ...]:
        """VeNCrypt sub-types, strongest first: Plain and VNC with a user list or password;
        the None sub-types only when neither is configured (a client certificate required
        by the TLS context, or a loopback listener, is then the only check)."""
        out: list[int] = []
        unauthenticated = not self.has_password and self.plain_users is None
        for ctx, plain, vnc, none in (
            (self.tls_context, vencrypt.X509_PLAIN, vencrypt.X509_VNC, vencrypt.X509_NONE),
            (self.anon_tls_context, vencrypt.TLS_PLAIN, vencrypt.TLS_VNC, vencrypt.TLS_NONE),
        ):
            if ctx is None:
                continue
            if self.plain_users is not None:
                out.append(plain)
            if self.has_password:
                out.append(vnc)
            if unauthenticated:
                out.append(none)
        return tuple(out)

    @property
    def types(self) -> tuple[int, ...]:
        if self.tls_context is not None or self.anon_tls_context is not None:
            return (SecurityType.VENCRYPT,)
        if not self.has_password:
            return (SecurityType.NONE,)
        return (SecurityType.VNC_AUTH,)


class ServerConnection:
    """One viewer's RFB session, server side, without I/O."""

    def __init__(
        self,
        security: SecurityConfig | None = None,
        random_bytes: Callable[[int], bytes] | None = None,
        max_cut_text: int = MAX_CUT_TEXT,
        refuse: str | None = None,
    ) -> None:
        self.security = security or SecurityConfig()
        needs_challenge = SecurityType.VNC_AUTH in self.security.types or any(
            t in vencrypt.VNC for t in self.security.vencrypt_subtypes
        )
        if random_bytes is None and needs_challenge:
            raise UsageError("VNC authentication needs a random_bytes source")
        self._random_bytes = random_bytes
        #: When set, the viewer is refused with this reason right after ProtocolVersion.
        self.refuse = refuse
        #: Asked at the moment a viewer's answer would be checked (VNC Authentication response,
        #: Plain credentials) or let through (security None): a reason returned fails the
        #: SecurityResult with that reason (section 7.1.3) without checking anything, and the
        #: event is Refused, not AuthenticationFailed. The owner's blocking lives here.
        self.auth_gate: Callable[[], str | None] | None = None
        self.max_cut_text = max_cut_text
        self.state = State.VERSION
        #: Negotiated protocol minor version: 3, 7 or 8.
        self.minor_version = 0
        self.pixel_format: PixelFormat = SERVER_PIXEL_FORMAT
        self.encodings: tuple[int, ...] = ()
        self.view_only = False
        #: Set when the viewer announced the Extended Clipboard (cut text lengths become signed).
        self.extended_clipboard = False
        #: Set once we told the viewer we support these (so it may send their messages).
        self.continuous_updates_announced = False
        self.fence_announced = False
        #: The number stream rectangles are announced with, None if the viewer gets no streams.
        self.stream_encoding: int | None = None
        self.width = 0
        self.height = 0
        self._in = bytearray()
        self._out: list[bytes] = [b"RFB 003.008\n"]
        self._challenge = b""
        #: Security type and VeNCrypt sub-type in use (0 until chosen); Plain user name.
        self.security_type = 0
        self.subtype = 0
        self.user: str | None = None
        #: The TLS session once a VeNCrypt TLS sub-type started; ``_wire`` holds bytes queued
        #: in the clear before it (the sub-type acknowledgement).
        self._tls: vencrypt.TLSLayer | None = None
        self._wire: list[bytes] = []

    # -- output ----------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued for the viewer since the last call (encrypted once TLS runs)."""
        if self._tls is None:
            data = b"".join(self._out)
            self._out.clear()
            return data
        if self._tls.handshake_done and self._out:
            plain = b"".join(self._out)
            self._out.clear()
            try:
                self._tls.encrypt(plain)
            except ssl.SSLError:
                self.state = State.CLOSED  # the session broke: nothing more can be sent
        data = b"".join(self._wire) + self._tls.take_output()
        self._wire.clear()
        return data

    @property
    def tls_info(self) -> str | None:
        """TLS version and cipher once a TLS sub-type completed its handshake."""
        if self._tls is None or not self._tls.handshake_done:
            return None
        return self._tls.describe()

    def _send(self, data: bytes) -> None:
        self._out.append(data)

    def _send_failed_result(self, reason: str) -> None:
        """SecurityResult "failed" (section 7.1.3), with a reason from version 3.8 on."""
        self._send(_U32.pack(1))
        if self.minor_version >= 8:
            encoded = reason.encode()
            self._send(_U32.pack(len(encoded)) + encoded)
        self.state = State.CLOSED

    def _fail_security(self, reason: str) -> events.AuthenticationFailed:
        self._send_failed_result(reason)
        return events.AuthenticationFailed(reason, user=self.user, subtype=self.subtype)

    def _gate(self, result_expected: bool = True) -> events.Refused | None:
        """The owner's :attr:`auth_gate` verdict: None to go on, or the refusal (a failed
        SecurityResult where the viewer expects one; else the connection just closes)."""
        reason = self.auth_gate() if self.auth_gate is not None else None
        if reason is None:
            return None
        if result_expected:
            self._send_failed_result(reason)
        self.state = State.CLOSED
        return events.Refused(reason)

    def set_size(self, width: int, height: int) -> None:
        """The framebuffer changed size (announce it with :meth:`desktop_size_rect`)."""
        self.width, self.height = width, height

    def send_server_init(self, width: int, height: int, name: str) -> None:
        """ServerInit (section 7.3.2) in answer to ClientInit."""
        if self.state is not State.SERVER_INIT:
            raise UsageError(f"ServerInit cannot be sent in state {self.state.name}")
        self.width, self.height = width, height
        encoded = name.encode()
        self._send(
            struct.pack(">HH", width, height)
            + SERVER_PIXEL_FORMAT.to_bytes()
            + _U32.pack(len(encoded))
            + encoded
        )
        self.state = State.NORMAL

    def send_framebuffer_update(self, rects: Iterable[EncodedRect]) -> int:
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

    def send_extended_clipboard(self, payload: bytes) -> None:
        """An Extended Clipboard message as ServerCutText with a negative length."""
        self._require_normal()
        self._send(struct.pack(">Bxxxi", ServerMsg.SERVER_CUT_TEXT, -len(payload)) + payload)

    def send_clipboard_text(self, text: str) -> None:
        """Offer ``text`` to the viewer: a Notify when it speaks the Extended Clipboard (it then
        asks with a Request, answered by :meth:`provide_clipboard_text`), else Latin-1."""
        if self.extended_clipboard:
            self.send_extended_clipboard(clipboard.notify(clipboard.TEXT))
        else:
            self.send_cut_text(text)

    def provide_clipboard_text(self, text: str) -> None:
        self.send_extended_clipboard(clipboard.provide_text(text))

    def desktop_size_rect(self, reason: int = 0, status: int = 0) -> EncodedRect | None:
        """The size pseudo-rectangle this viewer understands (section 7.8.2 DesktopSize, 7.8.5
        ExtendedDesktopSize: ``reason`` 0 server, 1 this client, 2 another client; ``status``
        0 ok, 1 prohibited, 2 out of resources, 3 invalid layout), or None if it knows neither.
        """
        if Encoding.EXTENDED_DESKTOP_SIZE in self.encodings:
            screen = struct.pack(">IHHHHI", 0, 0, 0, self.width, self.height, 0)
            return EncodedRect(
                Rect(reason, status, self.width, self.height),
                Encoding.EXTENDED_DESKTOP_SIZE,
                b"\x01\0\0\0" + screen,
            )
        if Encoding.DESKTOP_SIZE in self.encodings and status == 0:
            return EncodedRect(Rect(0, 0, self.width, self.height), Encoding.DESKTOP_SIZE, b"")
        return None

    def desktop_name_rect(self, name: str) -> EncodedRect | None:
        """DesktopName (section 7.8.4), if the viewer listed it."""
        if Encoding.DESKTOP_NAME not in self.encodings:
            return None
        data = name.encode()
        return EncodedRect(Rect(0, 0, 0, 0), Encoding.DESKTOP_NAME, _U32.pack(len(data)) + data)

    def send_end_of_continuous_updates(self) -> None:
        """EndOfContinuousUpdates (section 7.6.5): announces support, or confirms a stop."""
        self._require_normal()
        self.continuous_updates_announced = True
        self._send(bytes([ServerMsg.END_OF_CONTINUOUS_UPDATES]))

    def send_fence(self, flags: int, payload: bytes = b"") -> None:
        """ServerFence (section 7.6.6)."""
        self._require_normal()
        self.fence_announced = True
        self._send(struct.pack(">BxxxIB", ServerMsg.SERVER_FENCE, flags, len(payload)) + payload)

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
            self._send(streams.data_message(stream_id, data[i : i + streams.MAX_DATA]))

    def stream_announcements(self, changes: Iterable[tuple[str, bool]]) -> list[EncodedRect]:
        """Rectangles announcing stream additions/removals, for the next FramebufferUpdate."""
        if self.stream_encoding is None:
            return []
        out = []
        for name, added in changes:
            rect, payload = streams.announcement(name, added)
            out.append(EncodedRect(rect, self.stream_encoding, payload))
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
        try:
            if self._tls is None:
                self._in += data
            else:
                failed = self._feed_tls(data)
                if failed is not None:
                    return [failed]
            out = self._parse()  # what came before a close_notify still counts
            if self._tls is not None and self._tls.peer_closed and self._active():
                self._tls.close()
                self.state = State.CLOSED
                out.append(events.TLSClosed())
        except ProtocolError:
            self.state = State.CLOSED
            self._in.clear()
            raise
        return out

    def _parse(self) -> list[events.Event]:
        """The events the buffered input completes."""
        out: list[events.Event] = []
        while self._active():
            before, state_before = len(self._in), self.state
            event = self._step()
            if event is not None:
                out.append(event)
            elif len(self._in) == before and self.state is state_before:
                break  # need more bytes
        return out

    def _active(self) -> bool:
        return self.state is not State.CLOSED

    def _feed_tls(self, data: bytes) -> events.AuthenticationFailed | None:
        """Ciphertext in, plaintext appended to the input buffer. A failed handshake (a bad or
        missing client certificate, or not TLS at all) is an authentication failure; a broken
        session after it is a protocol error."""
        assert self._tls is not None
        try:
            self._in += self._tls.feed(data)
        except ssl.SSLError as e:
            self.state = State.CLOSED
            self._in.clear()
            if not self._tls.handshake_done:
                return events.AuthenticationFailed(
                    f"TLS handshake failed: {e.reason or e}", user=None, subtype=self.subtype
                )
            raise ProtocolError(f"TLS failed: {e.reason or e}") from None
        return None

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
        if state is State.VENCRYPT_VERSION:
            return self._read_vencrypt_version()
        if state is State.VENCRYPT_SUBTYPE:
            return self._read_vencrypt_subtype()
        if state is State.TLS_HANDSHAKE:
            return self._after_tls_handshake()
        if state is State.PLAIN_AUTH:
            return self._read_plain()
        if state is State.CLIENT_INIT:
            raw = self._take(1)
            if raw is None:
                return None
            self.state = State.SERVER_INIT
            return events.ClientInit(shared=raw[0] != 0)
        if state in (State.SERVER_INIT, State.PLAIN_CHECK):
            # A viewer should wait for ServerInit; hold (a little of) what it sent early until
            # the owner calls send_server_init() (or plain_checked()) and then
            # receive_data(b"").
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
        if self.refuse is None and self.minor_version == 3 and types[0] == SecurityType.VENCRYPT:
            self.refuse = "this server needs VeNCrypt (TLS), which RFB 3.3 viewers cannot choose"
        if self.refuse is not None:
            return self._refuse(self.refuse)
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

    def _refuse(self, reason: str) -> events.Refused:
        """Refuse the connection the spec's way (section 7.1.2): zero security types (a U32 0
        in version 3.3), then the reason string; the connection is then closed."""
        encoded = reason.encode()
        self._send(
            (_U32.pack(0) if self.minor_version == 3 else b"\0") + _U32.pack(len(encoded)) + encoded
        )
        self.state = State.CLOSED
        return events.Refused(reason)

    def _begin_security(self, chosen: int) -> events.Event | None:
        self.security_type = chosen
        if chosen == SecurityType.VENCRYPT:
            self._send(bytes(vencrypt.VERSION))
            self.state = State.VENCRYPT_VERSION
            return None
        return self._begin_subauth(chosen)

    def _begin_subauth(self, chosen: int) -> events.Event | None:
        """None or VNC Authentication, directly or inside a VeNCrypt TLS sub-type."""
        if chosen == SecurityType.NONE:
            refused = self._gate(result_expected=self.minor_version >= 8)
            if refused is not None:
                return refused
            if self.minor_version >= 8:
                self._send(_U32.pack(0))  # SecurityResult OK (section 7.1.3)
            self.state = State.CLIENT_INIT
            return events.Authenticated(self.security_type, view_only=False, subtype=self.subtype)
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
        refused = self._gate()
        if refused is not None:
            return refused
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
        return events.Authenticated(self.security_type, view_only=view_only, subtype=self.subtype)

    # -- VeNCrypt (section 7.2.19; the TLS session itself lives in ``vencrypt``) ---------------

    def _read_vencrypt_version(self) -> events.Event | None:
        """The viewer's VeNCrypt version: only 0.2 is spoken (0.1 is obsolete)."""
        raw = self._take(2)
        if raw is None:
            return None
        if tuple(raw) != vencrypt.VERSION:
            self._send(b"\xff")
            raise ProtocolError(f"VeNCrypt version {raw[0]}.{raw[1]} is not supported (0.2 is)")
        self._send(b"\0" + vencrypt.subtype_list(self.security.vencrypt_subtypes))
        self.state = State.VENCRYPT_SUBTYPE
        return None

    def _read_vencrypt_subtype(self) -> events.Event | None:
        """The chosen sub-type (U32); acknowledged with a U8 1, then the TLS handshake."""
        raw = self._take(4)
        if raw is None:
            return None
        (chosen,) = _U32.unpack(raw)
        if chosen not in self.security.vencrypt_subtypes:
            self._send(b"\0")
            raise ProtocolError(f"VeNCrypt sub-type {chosen} was not offered")
        self.subtype = chosen
        self._send(b"\x01")
        ctx = (
            self.security.anon_tls_context
            if chosen in vencrypt.ANONYMOUS
            else self.security.tls_context
        )
        assert ctx is not None
        # What was queued so far goes out in the clear; what the viewer sent behind its choice
        # (its ClientHello) is the start of the TLS stream.
        self._wire.extend(self._out)
        self._out.clear()
        self._tls = vencrypt.TLSLayer(ctx)
        self.state = State.TLS_HANDSHAKE
        ahead = bytes(self._in)
        self._in.clear()
        return self._feed_tls(ahead)

    def _after_tls_handshake(self) -> events.Event | None:
        assert self._tls is not None
        if not self._tls.handshake_done:
            return None
        if self.subtype in vencrypt.PLAIN:
            self.state = State.PLAIN_AUTH
            return None
        return self._begin_subauth(
            SecurityType.VNC_AUTH if self.subtype in vencrypt.VNC else SecurityType.NONE
        )

    def _read_plain(self) -> events.Event | None:
        """Plain credentials (section 7.2.19, Plain): handed to the owner to check (a slow
        hash: it belongs off the event loop); :meth:`plain_checked` takes the verdict."""
        parsed = vencrypt.parse_plain(self._in)
        if parsed is None:
            return None
        used, user, password = parsed
        del self._in[:used]
        self.user = user
        self.state = State.PLAIN_CHECK
        return events.PlainCredentials(user, password)

    def plain_checked(
        self, entry: vencrypt.PlainUser | None, refuse: str | None = None
    ) -> events.Event:
        """The owner's verdict on :class:`~events.PlainCredentials` (``vencrypt.check_plain``):
        the user entry, or None for wrong credentials; ``refuse`` refuses without a verdict.
        :attr:`auth_gate` is asked first. Returns the event (Authenticated, AuthenticationFailed
        or Refused); then call ``receive_data(b"")`` for what the viewer sent meanwhile."""
        if self.state is not State.PLAIN_CHECK:
            raise UsageError(f"no Plain credentials to answer in state {self.state.name}")
        refused = self._gate()
        if refused is not None:
            return refused
        if refuse is not None:
            self._send_failed_result(refuse)
            return events.Refused(refuse)
        if entry is None:
            return self._fail_security("Authentication failed")
        self.view_only = entry.view_only
        self._send(_U32.pack(0))
        self.state = State.CLIENT_INIT
        return events.Authenticated(
            self.security_type, view_only=entry.view_only, subtype=self.subtype, user=entry.name
        )

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
            if Encoding.EXTENDED_CLIPBOARD in encs and not self.extended_clipboard:
                # from now on cut text lengths are signed; tell the viewer what we handle
                self.extended_clipboard = True
                self.send_extended_clipboard(clipboard.caps(self.max_cut_text))
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
        if kind == ClientMsg.SET_DESKTOP_SIZE:
            return self._read_set_desktop_size()
        if kind == ClientMsg.ENABLE_CONTINUOUS_UPDATES and self.continuous_updates_announced:
            raw = self._take(10)
            if raw is None:
                return None
            enable, x, y, w, h = struct.unpack(">xBHHHH", raw)
            return events.EnableContinuousUpdates(bool(enable), Rect(x, y, w, h))
        if kind == ClientMsg.CLIENT_FENCE and self.fence_announced:
            if len(self._in) < 9:
                return None
            length = self._in[8]
            if length > MAX_FENCE:
                raise ProtocolError(f"fence payload of {length} bytes (limit {MAX_FENCE})")
            raw = self._take(9 + length)
            if raw is None:
                return None
            (flags,) = _U32.unpack_from(raw, 4)
            return events.ClientFence(flags, raw[9:])
        raise ProtocolError(f"unknown or unannounced message type {kind}")

    def _read_cut_text(self) -> events.Event | None:
        """ClientCutText (section 7.5.6); the length is capped before anything is read."""
        if len(self._in) < 8:
            return None
        (length,) = struct.unpack_from(">i" if self.extended_clipboard else ">I", self._in, 4)
        if abs(length) > self.max_cut_text:
            raise ProtocolError(f"cut text of {abs(length)} bytes (limit {self.max_cut_text})")
        raw = self._take(8 + abs(length))
        if raw is None:
            return None
        if length >= 0:
            return events.ClientCutText(raw[8:].decode("latin-1"))
        msg = clipboard.parse(raw[8:], self.max_cut_text)
        if msg.action == clipboard.CAPS:
            return None  # the viewer's limits: we only ever send text it asked for
        if msg.action == clipboard.NOTIFY:
            return events.ClipboardNotify(msg.formats)
        if msg.action == clipboard.REQUEST:
            return events.ClipboardRequest(msg.formats)
        if msg.action == clipboard.PEEK:
            return events.ClipboardPeek()
        return events.ClipboardProvide(msg.text or "") if msg.text is not None else None

    def _read_set_desktop_size(self) -> events.Event | None:
        """SetDesktopSize (section 7.5.9): size and a screen layout of 16-byte entries."""
        if len(self._in) < 8:
            return None
        count = self._in[6]
        raw = self._take(8 + 16 * count)
        if raw is None:
            return None
        width, height = struct.unpack_from(">HH", raw, 2)
        screens = tuple(struct.unpack_from(">IHHHHI", raw, 8 + 16 * i) for i in range(count))
        return events.SetDesktopSize(width, height, screens)

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
