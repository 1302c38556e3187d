"""Each security handler of the sans-I/O core alone, bytes in and bytes out (RFB spec section
7.2, SecurityResult 7.1.3, VeNCrypt 7.2.19), through a recording session; the table that maps a
security type to its handler; and the replies the core owes a viewer on SetEncodings."""

from __future__ import annotations

import ssl
import struct

import pytest

from vncterm.errors import ProtocolError, UsageError
from vncterm.rfb import auth, clipboard, events, security, vencrypt
from vncterm.rfb.connection import MAX_CUT_TEXT, SecurityConfig, ServerConnection, State
from vncterm.rfb.constants import Encoding, FenceFlag, SecurityType, VeNCryptSubtype
from vncterm.rfb.security.base import SecurityHandler
from vncterm.rfb.security.none import NoneSecurity
from vncterm.rfb.security.plain import PlainSecurity
from vncterm.rfb.security.tls import TLSSecurity
from vncterm.rfb.security.vencrypt import VeNCryptSecurity
from vncterm.rfb.security.vnc_auth import VncAuthSecurity
from vncterm.users import PlainUser

pytestmark = pytest.mark.unit

CHALLENGE = bytes(range(100, 116))
OK = struct.pack(">I", 0)


def failed(reason: str) -> bytes:
    return struct.pack(">II", 1, len(reason)) + reason.encode()


class RecordingSession:
    """A connection as a handler sees it: what it sent, a gate, a TLS switch to flip."""

    def __init__(self, minor: int = 8, blocked: str | None = None) -> None:
        self.minor_version = minor
        self.security_type = 0
        self.subtype = 0
        self.user: str | None = None
        self.sent = bytearray()
        self.blocked = blocked
        self.gate_asked = 0
        self.tls_started: list[ssl.SSLContext] = []
        self.tls_handshake_done = False

    def send(self, data: bytes) -> None:
        self.sent += data

    def take_sent(self) -> bytes:
        out = bytes(self.sent)
        self.sent.clear()
        return out

    def challenge(self, size: int) -> bytes:
        return CHALLENGE[:size]

    def gate(self) -> str | None:
        self.gate_asked += 1
        return self.blocked

    def start_tls(self, context: ssl.SSLContext) -> events.AuthenticationFailed | None:
        self.tls_started.append(context)
        return None


# -- None (7.2.1) --------------------------------------------------------------------------------


@pytest.mark.parametrize(("minor", "result"), [(8, OK), (7, b""), (3, b"")])
def test_none_sends_a_result_only_in_3_8(minor: int, result: bytes) -> None:
    s = RecordingSession(minor)
    s.security_type = SecurityType.NONE
    assert NoneSecurity().start(s) == events.Authenticated(1, view_only=False)
    assert s.take_sent() == result and s.gate_asked == 1


@pytest.mark.parametrize(("minor", "result"), [(8, failed("blocked")), (7, b"")])
def test_none_refused_by_the_gate(minor: int, result: bytes) -> None:
    s = RecordingSession(minor, blocked="blocked")
    assert NoneSecurity().start(s) == events.Refused("blocked")
    assert s.take_sent() == result


# -- VNC Authentication (7.2.2) -------------------------------------------------------------------


def vnc_auth_started(s: RecordingSession) -> VncAuthSecurity:
    handler = VncAuthSecurity(b"full", b"look")
    assert handler.start(s) is None
    assert s.take_sent() == CHALLENGE and handler.state is State.VNC_AUTH_RESPONSE
    return handler


@pytest.mark.parametrize(
    ("password", "expected", "answer"),
    [
        (b"full", events.Authenticated(2, view_only=False), OK),
        (b"look", events.Authenticated(2, view_only=True), OK),
        (
            b"nope",
            events.AuthenticationFailed("Authentication failed"),
            failed("Authentication failed"),
        ),
    ],
)
def test_vnc_auth_answers(password: bytes, expected: events.Event, answer: bytes) -> None:
    s = RecordingSession()
    s.security_type = SecurityType.VNC_AUTH
    handler = vnc_auth_started(s)
    response = auth.vnc_response(password, CHALLENGE)
    buf = bytearray(response[:15])
    assert handler.receive(s, buf) is None and len(buf) == 15  # not all there: nothing used
    assert s.gate_asked == 0  # the gate is asked when the answer is checked, not before
    buf += response[15:] + b"\x01"  # ClientInit behind it stays in the buffer
    assert handler.receive(s, buf) == expected
    assert s.take_sent() == answer and buf == b"\x01"


def test_vnc_auth_failure_in_3_3_has_no_reason_and_the_gate_checks_nothing() -> None:
    s = RecordingSession(minor=3)
    handler = vnc_auth_started(s)
    assert isinstance(handler.receive(s, bytearray(16)), events.AuthenticationFailed)
    assert s.take_sent() == struct.pack(">I", 1)
    s = RecordingSession(blocked="try again in 10 s")
    handler = vnc_auth_started(s)
    right = bytearray(auth.vnc_response(b"full", CHALLENGE))
    assert handler.receive(s, right) == events.Refused("try again in 10 s")
    assert s.take_sent() == failed("try again in 10 s")


def test_vnc_auth_needs_a_full_challenge() -> None:
    s = RecordingSession()
    s.challenge = lambda size: b"short"  # type: ignore[method-assign]
    with pytest.raises(UsageError):
        VncAuthSecurity(b"pw", None).start(s)


# -- Plain (7.2.19), checked by the owner --------------------------------------------------------


def plain_credentials_in(s: RecordingSession) -> PlainSecurity:
    handler = PlainSecurity()
    assert handler.start(s) is None and s.take_sent() == b""
    wire = vencrypt.plain_credentials("alice", b"wonderland")
    buf = bytearray(wire[:-1])
    assert handler.receive(s, buf) is None and handler.state is State.PLAIN_AUTH
    buf += wire[-1:] + b"\x01"
    assert handler.receive(s, buf) == events.PlainCredentials("alice", b"wonderland")
    assert handler.state is State.PLAIN_CHECK and handler.awaiting_owner
    assert handler.receive(s, buf) is None and buf == b"\x01"  # held until the verdict
    assert s.take_sent() == b"" and s.user == "alice"
    return handler


def test_plain_verdicts() -> None:
    alice = PlainUser("alice", "unused", view_only=True)
    s = RecordingSession()
    s.security_type, s.subtype = SecurityType.VENCRYPT, VeNCryptSubtype.X509_PLAIN
    assert plain_credentials_in(s).answer(s, alice, None) == events.Authenticated(
        19, view_only=True, subtype=262, user="alice"
    )
    assert s.take_sent() == OK
    assert plain_credentials_in(s).answer(s, None, None) == events.AuthenticationFailed(
        "Authentication failed", user="alice", subtype=262
    )
    assert s.take_sent() == failed("Authentication failed")
    assert plain_credentials_in(s).answer(s, alice, "busy") == events.Refused("busy")
    assert s.take_sent() == failed("busy")
    s.blocked = "blocked"
    assert plain_credentials_in(s).answer(s, alice, None) == events.Refused("blocked")
    assert s.take_sent() == failed("blocked")


def test_plain_lengths_capped_and_no_verdict_without_credentials() -> None:
    s = RecordingSession()
    with pytest.raises(ProtocolError, match="Plain credentials too long"):
        PlainSecurity().receive(s, bytearray(struct.pack(">II", 256, 0)))
    with pytest.raises(UsageError):
        PlainSecurity().answer(s, None, None)


# -- TLS wrapper and VeNCrypt negotiation (7.2.19) ------------------------------------------------


def test_tls_starts_the_session_then_hands_over_to_the_inner_type() -> None:
    s = RecordingSession()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    handler = TLSSecurity(ctx, VncAuthSecurity(b"pw", None))
    assert handler.start(s) is None and s.tls_started == [ctx]
    assert handler.state is State.TLS_HANDSHAKE
    assert handler.receive(s, bytearray()) is None and s.take_sent() == b""
    s.tls_handshake_done = True
    assert handler.receive(s, bytearray()) is None
    assert s.take_sent() == CHALLENGE and handler.state is State.VNC_AUTH_RESPONSE
    buf = bytearray(auth.vnc_response(b"pw", CHALLENGE))
    assert isinstance(handler.receive(s, buf), events.Authenticated)


def vencrypt_handler() -> VeNCryptSecurity:
    # sub-types composed without TLS, to see the negotiation bytes alone
    return VeNCryptSecurity(
        {
            VeNCryptSubtype.X509_VNC: lambda: VncAuthSecurity(b"pw", None),
            VeNCryptSubtype.X509_NONE: NoneSecurity,
        }
    )


def test_vencrypt_negotiation_bytes() -> None:
    s = RecordingSession()
    s.security_type = SecurityType.VENCRYPT
    handler = vencrypt_handler()
    assert handler.start(s) is None and s.take_sent() == b"\x00\x02"
    buf = bytearray(b"\x00")
    assert handler.receive(s, buf) is None and handler.state is State.VENCRYPT_VERSION
    buf += b"\x02" + struct.pack(">I", 261)[:3]
    assert handler.receive(s, buf) is None and handler.state is State.VENCRYPT_SUBTYPE
    assert s.take_sent() == b"\x00\x02" + struct.pack(">II", 261, 260)
    buf += b"\x05"
    assert handler.receive(s, buf) is None
    assert s.take_sent() == b"\x01" + CHALLENGE and s.subtype == 261
    assert handler.state is State.VNC_AUTH_RESPONSE
    buf += auth.vnc_response(b"pw", CHALLENGE)
    assert handler.receive(s, buf) == events.Authenticated(19, view_only=False, subtype=261)


@pytest.mark.parametrize(
    ("data", "answer", "message"),
    [
        (b"\x00\x01", b"\xff", r"VeNCrypt version 0\.1"),
        (b"\x00\x02" + struct.pack(">I", 262), b"\x00", "sub-type 262 was not offered"),
    ],
)
def test_vencrypt_refusals(data: bytes, answer: bytes, message: str) -> None:
    s = RecordingSession()
    handler = vencrypt_handler()
    handler.start(s)
    s.take_sent()
    with pytest.raises(ProtocolError, match=message):
        handler.receive(s, bytearray(data))
    assert s.take_sent().endswith(answer)


# -- the table ------------------------------------------------------------------------------------


def test_the_table_builds_the_nested_handlers() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    config = SecurityConfig(password=b"pw", tls_context=ctx, anon_tls_context=ctx)
    assert config.types == (SecurityType.VENCRYPT,)
    handler = security.handler_for(config, SecurityType.VENCRYPT)
    assert isinstance(handler, VeNCryptSecurity)
    assert list(handler.subtypes) == [VeNCryptSubtype.X509_VNC, VeNCryptSubtype.TLS_VNC]
    inner = handler.subtypes[VeNCryptSubtype.X509_VNC]()
    assert isinstance(inner, TLSSecurity) and isinstance(inner.inner, VncAuthSecurity)
    assert security.describe(19, 262) == "VeNCrypt/X509Plain"
    assert security.describe(2) == "VncAuth" and security.describe(77) == "77"


class Knock(SecurityHandler):
    """A made-up security type: the viewer must send b"knock"."""

    def receive(self, session: security.Session, buf: bytearray) -> events.Event | None:
        if len(buf) < 5:
            return None
        ok = bytes(buf[:5]) == b"knock"
        del buf[:5]
        if ok:
            return security.base.succeed(session, view_only=True)
        return security.base.fail(session, "wrong knock")


def test_a_new_security_type_is_one_class_and_one_table_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        security.TYPES, 99, security.Entry("Knock", lambda c: True, lambda c: Knock())
    )
    conn = ServerConnection()
    conn.receive_data(b"RFB 003.008\n")
    assert conn.data_to_send() == b"RFB 003.008\n\x02\x01\x63"
    assert conn.receive_data(b"\x63kno") == [] and conn.state is State.SECURITY
    assert conn.receive_data(b"ck\x01") == [
        events.Authenticated(99, view_only=True),
        events.ClientInit(shared=True),
    ]
    assert conn.data_to_send() == OK and conn.view_only and conn.security_name == "Knock"


# -- replies owed on SetEncodings ------------------------------------------------------------------


def normal_connection() -> ServerConnection:
    conn = ServerConnection()
    conn.receive_data(b"RFB 003.008\n\x01\x01")
    conn.send_server_init(640, 400, "x")
    conn.data_to_send()
    return conn


def set_encodings(*encodings: int) -> bytes:
    return struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings)


def test_set_encodings_owes_end_of_continuous_updates_and_a_fence_once() -> None:
    conn = normal_connection()
    data = set_encodings(Encoding.TIGHT, Encoding.CONTINUOUS_UPDATES, Encoding.FENCE)
    assert conn.receive_data(data) == [events.SetEncodings((7, -313, -312))]
    # EndOfContinuousUpdates (150), then ServerFence (248) with the request flag, no payload
    assert conn.data_to_send() == b"\x96" + struct.pack(">BxxxIB", 248, 1 << 31, 0)
    assert FenceFlag.REQUEST == 1 << 31
    conn.receive_data(data)
    assert conn.data_to_send() == b""  # announced once
    enable = struct.pack(">BBHHHH", 150, 1, 0, 0, 640, 400)
    fence = struct.pack(">BxxxIB", 248, 1 << 31 | 2, 1) + b"z"
    assert conn.receive_data(enable + fence)[1] == events.ClientFence(1 << 31 | 2, b"z")


def test_set_encodings_without_them_owes_nothing_and_the_clipboard_caps_come_first() -> None:
    conn = normal_connection()
    conn.receive_data(set_encodings(Encoding.RAW, Encoding.DESKTOP_SIZE))
    assert conn.data_to_send() == b""
    conn.receive_data(set_encodings(Encoding.EXTENDED_CLIPBOARD, Encoding.FENCE))
    caps = clipboard.caps(MAX_CUT_TEXT)
    assert conn.data_to_send() == (
        struct.pack(">Bxxxi", 3, -len(caps)) + caps + struct.pack(">BxxxIB", 248, 1 << 31, 0)
    )
