"""The RFB server side as a sans-I/O state machine (RFB spec sections 7.1 to 7.6).

Feed it the bytes a viewer sent with :meth:`ServerConnection.receive_data`; it returns the events
those bytes completed and queues its answers, which :meth:`data_to_send` hands back. It never
touches a socket, a clock or the OS: the challenge source is injected. Bytes may arrive split at
any point; the same events come out. A viewer that breaks the protocol raises
:class:`~vncterm.errors.ProtocolError`; every length it sends is capped before anything is
allocated for it.

The machine: ProtocolVersion, the security type, that type's handler (``security``: the table
maps the type to its handler, which runs until it authenticates or fails), ClientInit, the owner's
ServerInit, then client messages (``messages``). Replies owed to the viewer at the message level
are sent here: the Extended Clipboard caps, EndOfContinuousUpdates and a ServerFence when
SetEncodings first lists those pseudo-encodings.
"""

from __future__ import annotations

import ssl
import struct
from collections.abc import Callable, Iterable

from ..errors import ProtocolError, UsageError
from ..users import PlainUser
from . import clipboard, events, messages, streams, vencrypt
from . import server_messages as sm
from .constants import (
    PROTOCOL_VERSION,
    DesktopSizeReason,
    DesktopSizeStatus,
    Encoding,
    FenceFlag,
    SecurityType,
)
from .messages import MAX_CUT_TEXT, MAX_ENCODINGS, MAX_FENCE
from .pixel_format import SERVER_PIXEL_FORMAT, PixelFormat
from .security import SecurityConfig, SecurityHandler, base, describe, handler_for
from .server_messages import EncodedRect
from .state import State

__all__ = ["MAX_CUT_TEXT", "MAX_EARLY_INPUT", "MAX_ENCODINGS", "MAX_FENCE", "EncodedRect"]
__all__ += ["SecurityConfig", "ServerConnection", "State"]  # re-exported

#: What a viewer may send ahead of ServerInit (or of the owner's Plain verdict), at most.
MAX_EARLY_INPUT = 64 * 1024

_U32 = struct.Struct(">I")


class ServerConnection:
    """One viewer's RFB session, server side, without I/O. It is the handlers' ``Session``."""

    def __init__(
        self,
        security: SecurityConfig | None = None,
        random_bytes: Callable[[int], bytes] | None = None,
        max_cut_text: int = MAX_CUT_TEXT,
        refuse: str | None = None,
    ) -> None:
        self.security = security or SecurityConfig()
        if random_bytes is None and self.security.needs_random:
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
        self._state = State.VERSION
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
        #: Set when the viewer also listed the stream-state pseudo-encoding.
        self.stream_states = False
        self.width = 0
        self.height = 0
        self._in = bytearray()
        self._out: list[bytes] = [b"RFB 003.008\n"]
        #: Security type and VeNCrypt sub-type in use (0 until chosen); Plain user name.
        self.security_type = 0
        self.subtype = 0
        self.user: str | None = None
        self._security: SecurityHandler | None = None
        #: The TLS session once a VeNCrypt TLS sub-type started; ``_wire`` holds bytes queued
        #: in the clear before it (the sub-type acknowledgement).
        self._tls: vencrypt.TLSLayer | None = None
        self._wire: list[bytes] = []

    @property
    def state(self) -> State:
        """Where the connection is; during security, where its handler is."""
        if self._state is State.SECURITY and self._security is not None:
            return self._security.state
        return self._state

    @property
    def security_name(self) -> str:
        """The security type (and VeNCrypt sub-type) in use, for logs."""
        return describe(self.security_type, self.subtype)

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
                self._state = State.CLOSED  # the session broke: nothing more can be sent
        data = b"".join(self._wire) + self._tls.take_output()
        self._wire.clear()
        return data

    @property
    def tls_info(self) -> str | None:
        """TLS version and cipher once a TLS sub-type completed its handshake."""
        if self._tls is None or not self._tls.handshake_done:
            return None
        return self._tls.describe()

    @property
    def has_buffered_input(self) -> bool:
        """True when bytes wait to be parsed (after ServerInit, call ``receive_data(b"")``)."""
        return bool(self._in)

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the viewer (the security handlers' way out)."""
        self._out.append(data)

    def set_size(self, width: int, height: int) -> None:
        """The framebuffer changed size (announce it with :meth:`desktop_size_rect`)."""
        self.width, self.height = width, height

    def send_server_init(self, width: int, height: int, name: str) -> None:
        """ServerInit (section 7.3.2) in answer to ClientInit."""
        if self._state is not State.SERVER_INIT:
            raise UsageError(f"ServerInit cannot be sent in state {self.state.name}")
        self.width, self.height = width, height
        self.send(sm.server_init(width, height, SERVER_PIXEL_FORMAT.to_bytes(), name))
        self._state = State.NORMAL

    def send_framebuffer_update(self, rects: Iterable[EncodedRect]) -> int:
        """FramebufferUpdate (section 7.6.1); returns the number of bytes queued."""
        self._require_normal()
        parts, size = sm.framebuffer_update(rects)
        self._out += parts
        return size + 4

    def send_colour_map(self, first: int, colours: list[tuple[int, int, int]]) -> None:
        """SetColourMapEntries (section 7.6.2), colours as U16 (r, g, b)."""
        self._require_normal()
        self.send(sm.colour_map(first, colours))

    def send_bell(self) -> None:
        """Bell (section 7.6.3)."""
        self._require_normal()
        self.send(sm.bell())

    def send_cut_text(self, text: str) -> None:
        """ServerCutText (section 7.6.4) in Latin-1; characters outside it become '?'."""
        self._require_normal()
        self.send(sm.cut_text(text.encode("latin-1", errors="replace")))

    def send_extended_clipboard(self, payload: bytes) -> None:
        """An Extended Clipboard message as ServerCutText with a negative length."""
        self._require_normal()
        self.send(sm.extended_clipboard(payload))

    def send_clipboard_text(self, text: str) -> None:
        """Offer ``text`` to the viewer: a Notify when it speaks the Extended Clipboard (it then
        asks with a Request, answered by :meth:`provide_clipboard_text`), else Latin-1."""
        if self.extended_clipboard:
            self.send_extended_clipboard(clipboard.notify(clipboard.TEXT))
        else:
            self.send_cut_text(text)

    def provide_clipboard_text(self, text: str) -> None:
        self.send_extended_clipboard(clipboard.provide_text(text))

    def desktop_size_rect(
        self, reason: int = DesktopSizeReason.SERVER, status: int = DesktopSizeStatus.OK
    ) -> EncodedRect | None:
        """The size pseudo-rectangle this viewer understands (``constants.DesktopSizeReason``,
        ``DesktopSizeStatus``; section 7.8.2 and 7.8.5), or None if it knows neither."""
        return sm.desktop_size_rect(self.encodings, self.width, self.height, reason, status)

    def desktop_name_rect(self, name: str) -> EncodedRect | None:
        """DesktopName (section 7.8.4), if the viewer listed it."""
        return sm.desktop_name_rect(name) if Encoding.DESKTOP_NAME in self.encodings else None

    def send_end_of_continuous_updates(self) -> None:
        """EndOfContinuousUpdates (section 7.6.5): announces support, or confirms a stop."""
        self._require_normal()
        self.continuous_updates_announced = True
        self.send(sm.end_of_continuous_updates())

    def send_fence(self, flags: int, payload: bytes = b"") -> None:
        """ServerFence (section 7.6.6)."""
        self._require_normal()
        self.fence_announced = True
        self.send(sm.fence(flags, payload))

    def send_stream_started(self, stream_id: int, name: str) -> None:
        """Stream extension: the answer to a start-capture request."""
        self._require_normal()
        self.send(streams.started(stream_id, name))

    def send_stream_ended(self, stream_id: int) -> None:
        self._require_normal()
        self.send(streams.ended(stream_id))

    def send_stream_data(self, stream_id: int, data: bytes) -> None:
        self._require_normal()
        for i in range(0, len(data), streams.MAX_DATA):
            self.send(streams.data_message(stream_id, data[i : i + streams.MAX_DATA]))

    def stream_announcements(self, changes: Iterable[streams.StreamChange]) -> list[EncodedRect]:
        """Rectangles announcing stream additions/removals (and states, to a viewer that
        asked for them), for the next FramebufferUpdate."""
        if self.stream_encoding is None:
            return []
        out = []
        for change in changes:
            if isinstance(change, streams.StreamState):
                if self.stream_states:
                    rect, payload = change.rect()
                    out.append(EncodedRect(rect, streams.STREAM_STATE_ENCODING, payload))
                continue
            rect, payload = streams.announcement(*change)
            out.append(EncodedRect(rect, self.stream_encoding, payload))
        return out

    def _require_normal(self) -> None:
        if self._state is not State.NORMAL:
            raise UsageError(f"cannot send messages in state {self.state.name}")

    # -- input -----------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[events.Event]:
        """Consume bytes from the viewer; return the events they complete.

        Raises ProtocolError when the viewer broke the protocol; the connection is then CLOSED.
        """
        if self._state is State.CLOSED:
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
                self._state = State.CLOSED
                out.append(events.TLSClosed())
        except ProtocolError:
            self._state = State.CLOSED
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
        return self._state is not State.CLOSED

    def _step(self) -> events.Event | None:
        state = self._state
        if state is State.NORMAL:
            return self._message()
        if state is State.VERSION:
            return self._read_version()
        if state is State.SECURITY_CHOICE:
            return self._read_security_choice()
        if state is State.SECURITY:
            assert self._security is not None
            if not self._security.awaiting_owner:
                return self._after_security(self._security.receive(self, self._in))
        elif state is State.CLIENT_INIT:
            raw = base.take(self._in, 1)
            if raw is None:
                return None
            self._state = State.SERVER_INIT
            return events.ClientInit(shared=raw[0] != 0)
        # SERVER_INIT, or a check by the owner: a viewer should wait for the answer; hold (a
        # little of) what it sent early until the owner answers and calls receive_data(b"").
        if len(self._in) > MAX_EARLY_INPUT:
            raise ProtocolError("viewer sent too much before ServerInit")
        return None

    def _read_version(self) -> events.Event | None:
        """ProtocolVersion (section 7.1.1): 12 bytes "RFB xxx.yyy\\n"."""
        if len(self._in) < 12:
            if not b"RFB ".startswith(bytes(self._in[:4])):
                raise ProtocolError(f"not an RFB client: got {bytes(self._in)!r}")
            return None
        raw = base.take(self._in, 12)
        assert raw is not None
        m = PROTOCOL_VERSION.fullmatch(raw)
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
        if self.minor_version == 3:  # the server chooses (section 7.1.2)
            self.send(_U32.pack(types[0]))
            return self._begin_security(types[0])
        self.send(bytes([len(types), *types]))
        self._state = State.SECURITY_CHOICE
        return None

    def _refuse(self, reason: str) -> events.Refused:
        """Refuse the connection the spec's way (section 7.1.2): zero security types (a U32 0
        in version 3.3), then the reason string; the connection is then closed."""
        encoded = reason.encode()
        self.send(
            (_U32.pack(0) if self.minor_version == 3 else b"\0") + _U32.pack(len(encoded)) + encoded
        )
        self._state = State.CLOSED
        return events.Refused(reason)

    def _read_security_choice(self) -> events.Event | None:
        """The viewer's security type (section 7.1.2, versions 3.7 and 3.8)."""
        raw = base.take(self._in, 1)
        if raw is None:
            return None
        if raw[0] not in self.security.types:
            return self._after_security(base.fail(self, f"security type {raw[0]} was not offered"))
        return self._begin_security(raw[0])

    def _begin_security(self, chosen: int) -> events.Event | None:
        self.security_type = chosen
        self._security = handler_for(self.security, chosen)
        self._state = State.SECURITY
        return self._after_security(self._security.start(self))

    def _after_security(self, event: events.Event | None) -> events.Event | None:
        """Where a handler's event leads: on to ClientInit, or closed."""
        if isinstance(event, events.Authenticated):
            self.view_only = event.view_only
            self._state = State.CLIENT_INIT
        elif isinstance(event, events.AuthenticationFailed | events.Refused):
            self._state = State.CLOSED
        return event

    def plain_checked(self, entry: PlainUser | None, refuse: str | None = None) -> events.Event:
        """The owner's verdict on :class:`~events.PlainCredentials` (``vencrypt.check_plain``):
        the user entry, or None for wrong credentials; ``refuse`` refuses without a verdict.
        :attr:`auth_gate` is asked first. Returns the event (Authenticated, AuthenticationFailed
        or Refused); then call ``receive_data(b"")`` for what the viewer sent meanwhile."""
        if self._security is None or not self._security.awaiting_owner or not self._active():
            raise UsageError(f"no Plain credentials to answer in state {self.state.name}")
        event = self._after_security(self._security.answer(self, entry, refuse))
        assert event is not None
        return event

    # -- what the security handlers use (``security.Session``) -----------------------------------

    def challenge(self, size: int) -> bytes:
        if self._random_bytes is None:
            raise UsageError("VNC authentication needs a random_bytes source")
        return self._random_bytes(size)

    def gate(self) -> str | None:
        return self.auth_gate() if self.auth_gate is not None else None

    @property
    def tls_handshake_done(self) -> bool:
        return self._tls is not None and self._tls.handshake_done

    def start_tls(self, context: ssl.SSLContext) -> events.AuthenticationFailed | None:
        # What was queued so far goes out in the clear; what the viewer sent behind its choice
        # (its ClientHello) is the start of the TLS stream.
        self._wire.extend(self._out)
        self._out.clear()
        self._tls = vencrypt.TLSLayer(context)
        ahead = bytes(self._in)
        self._in.clear()
        return self._feed_tls(ahead)

    def _feed_tls(self, data: bytes) -> events.AuthenticationFailed | None:
        """Ciphertext in, plaintext appended to the input buffer. A failed handshake (a bad or
        missing client certificate, or not TLS at all) is an authentication failure; a broken
        session after it is a protocol error."""
        assert self._tls is not None
        try:
            self._in += self._tls.feed(data)
        except ssl.SSLError as e:
            self._state = State.CLOSED
            self._in.clear()
            if not self._tls.handshake_done:
                return events.AuthenticationFailed(
                    f"TLS handshake failed: {e.reason or e}", user=None, subtype=self.subtype
                )
            raise ProtocolError(f"TLS failed: {e.reason or e}") from None
        return None

    # -- client messages (section 7.5) -----------------------------------------------------------

    def _message(self) -> events.Event | None:
        """One client message, and what it changes of the session."""
        event = messages.parse(self._in, self)
        if isinstance(event, events.SetPixelFormat):
            self.pixel_format = event.pixel_format
        elif isinstance(event, events.SetEncodings):
            self._set_encodings(event.encodings)
        return event

    def _set_encodings(self, encodings: tuple[int, ...]) -> None:
        """SetEncodings (section 7.5.2): what the viewer understands from now on, and the
        replies owed the first time it lists a pseudo-encoding that asks for one."""
        self.encodings = encodings
        self.stream_encoding = streams.stream_encoding_for(encodings)
        self.stream_states = streams.wants_states(encodings)
        if Encoding.EXTENDED_CLIPBOARD in encodings and not self.extended_clipboard:
            # from now on cut text lengths are signed; tell the viewer what we handle
            self.extended_clipboard = True
            self.send_extended_clipboard(clipboard.caps(self.max_cut_text))
        if Encoding.CONTINUOUS_UPDATES in encodings and not self.continuous_updates_announced:
            self.send_end_of_continuous_updates()  # "we support them" (section 7.8.x)
        if Encoding.FENCE in encodings and not self.fence_announced:
            self.send_fence(FenceFlag.REQUEST)  # "we support fences" (section 7.6.6)
