"""The sans-I/O RFB core, driven byte by byte (RFB spec sections 7.1-7.3)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vncterm.errors import ProtocolError, UsageError
from vncterm.geometry import Rect
from vncterm.rfb import auth, events
from vncterm.rfb.connection import EncodedRect, SecurityConfig, ServerConnection, State

pytestmark = pytest.mark.unit

CHALLENGE = bytes(range(16))


def challenge(n: int) -> bytes:
    return CHALLENGE[:n]


def feed_split(conn: ServerConnection, data: bytes, cuts: list[int]) -> list[events.Event]:
    """Feed ``data`` cut at the given offsets; all events in order."""
    out: list[events.Event] = []
    prev = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]:
        out += conn.receive_data(data[prev:cut])
        prev = cut
    return out


def client_messages() -> bytes:
    """A realistic viewer session after ServerInit."""
    pf = struct.pack(">BBBBHHHBBB3x", 16, 16, 1, 1, 31, 63, 31, 11, 5, 0)
    return (
        b"\x00\x00\x00\x00"
        + pf
        + struct.pack(">BxH3i", 2, 3, 7, 16, -223)
        + struct.pack(">BBHHHH", 3, 0, 0, 0, 640, 400)
        + struct.pack(">BBxxI", 4, 1, 0x61)
        + struct.pack(">BBHH", 5, 1, 10, 20)
        + struct.pack(">BxxxI", 6, 5)
        + b"h\xe9llo"
        + struct.pack(">BBHII", 255, 0, 1, 0x62, 0x30)
    )


def full_session(version: bytes, password: bytes | None) -> tuple[bytes, int]:
    """Client bytes for a whole handshake plus messages, and how many events to expect."""
    data = version
    if version != b"RFB 003.003\n":
        data += b"\x02" if password else b"\x01"
    if password:
        data += auth.vnc_response(password, CHALLENGE)
    data += b"\x01" + client_messages()
    return data, 2 + 7  # Authenticated, ClientInit, 7 messages


def run_session(conn: ServerConnection, data: bytes, cuts: list[int]) -> list[events.Event]:
    """Feed the session, answering ClientInit with ServerInit when it arrives."""
    evs: list[events.Event] = []
    prev = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]:
        new = conn.receive_data(data[prev:cut])
        while new:
            evs += new
            if isinstance(new[-1], events.ClientInit):
                conn.send_server_init(640, 400, "test")
                new = conn.receive_data(b"")
            else:
                new = []
        prev = cut
    return evs


@pytest.mark.parametrize("version", [b"RFB 003.003\n", b"RFB 003.007\n", b"RFB 003.008\n"])
@pytest.mark.parametrize("password", [None, b"secret"])
def test_whole_session_every_version(version: bytes, password: bytes | None) -> None:
    conn = ServerConnection(SecurityConfig(password), random_bytes=challenge)
    assert conn.data_to_send() == b"RFB 003.008\n"
    data, expected = full_session(version, password)
    evs = run_session(conn, data, [])
    assert len(evs) == expected
    assert isinstance(evs[0], events.Authenticated)
    assert evs[1] == events.ClientInit(shared=True)
    assert isinstance(evs[2], events.SetPixelFormat)
    assert evs[2].pixel_format.bits_per_pixel == 16 and evs[2].pixel_format.big_endian
    assert evs[3] == events.SetEncodings((7, 16, -223))
    assert evs[4] == events.FramebufferUpdateRequest(False, Rect(0, 0, 640, 400))
    assert evs[5] == events.KeyEvent(True, 0x61)
    assert evs[6] == events.PointerEvent(1, 10, 20)
    assert evs[7] == events.ClientCutText("héllo")
    assert evs[8] == events.QemuKeyEvent(True, 0x62, 0x30)
    out = conn.data_to_send()
    # security negotiation as the spec lays out for each version
    if version == b"RFB 003.003\n":
        assert out.startswith(struct.pack(">I", 2 if password else 1))
    else:
        assert out.startswith(b"\x01" + (b"\x02" if password else b"\x01"))
    assert conn.minor_version == int(version[8:11])


@settings(max_examples=150, deadline=None)
@given(
    version=st.sampled_from([b"RFB 003.003\n", b"RFB 003.007\n", b"RFB 003.008\n"]),
    password=st.sampled_from([None, b"pw"]),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=40),
)
def test_byte_splits_give_the_same_events(
    version: bytes, password: bytes | None, cuts: list[int]
) -> None:
    data, _ = full_session(version, password)
    first = ServerConnection(SecurityConfig(password), random_bytes=challenge)
    whole = run_session(first, data, [])
    split_conn = ServerConnection(SecurityConfig(password), random_bytes=challenge)
    assert run_session(split_conn, data, cuts) == whole
    one_by_one = ServerConnection(SecurityConfig(password), random_bytes=challenge)
    assert run_session(one_by_one, data, list(range(1, len(data)))) == whole


def test_wrong_password_gets_the_spec_failure_reason() -> None:
    conn = ServerConnection(SecurityConfig(b"secret"), random_bytes=challenge)
    conn.data_to_send()
    conn.receive_data(b"RFB 003.008\n\x02")
    conn.data_to_send()
    evs = conn.receive_data(auth.vnc_response(b"wrong", CHALLENGE))
    assert evs == [events.AuthenticationFailed("Authentication failed")]
    reason = b"Authentication failed"
    assert conn.data_to_send() == struct.pack(">II", 1, len(reason)) + reason
    assert conn.state is State.CLOSED
    assert conn.receive_data(b"\x01") == []  # nothing after the failure


def test_wrong_password_version_3_3_has_no_reason() -> None:
    conn = ServerConnection(SecurityConfig(b"secret"), random_bytes=challenge)
    conn.data_to_send()
    conn.receive_data(b"RFB 003.003\n")
    conn.data_to_send()
    conn.receive_data(bytes(16))
    assert conn.data_to_send() == struct.pack(">I", 1)


def test_auth_gate_refuses_at_check_time_even_the_right_password() -> None:
    """The owner's gate (a block that started after the connection opened) is asked when the
    answer arrives: a failed SecurityResult with its reason, a Refused event, nothing checked."""
    blocked: list[str | None] = ["try again in 10 s"]
    conn = ServerConnection(SecurityConfig(b"secret"), random_bytes=challenge)
    conn.auth_gate = lambda: blocked[0]
    conn.receive_data(b"RFB 003.008\n\x02")  # the gate is not asked before the answer
    conn.data_to_send()
    evs = conn.receive_data(auth.vnc_response(b"secret", CHALLENGE))
    assert evs == [events.Refused("try again in 10 s")]
    reason = b"try again in 10 s"
    assert conn.data_to_send() == struct.pack(">II", 1, len(reason)) + reason
    assert conn.state is State.CLOSED
    # security None in RFB 3.7 has no SecurityResult: the connection just closes
    open_conn = ServerConnection()
    open_conn.auth_gate = lambda: blocked[0]
    assert open_conn.receive_data(b"RFB 003.007\n\x01") == [events.Refused("try again in 10 s")]
    assert open_conn.data_to_send() == b"RFB 003.008\n\x01\x01"
    blocked[0] = None
    ok = ServerConnection(SecurityConfig(b"secret"), random_bytes=challenge)
    ok.auth_gate = lambda: blocked[0]
    ok.receive_data(b"RFB 003.008\n\x02")
    assert ok.receive_data(auth.vnc_response(b"secret", CHALLENGE)) == [
        events.Authenticated(2, view_only=False)
    ]


def test_view_only_password() -> None:
    conn = ServerConnection(SecurityConfig(b"full", b"look"), random_bytes=challenge)
    conn.receive_data(b"RFB 003.008\n\x02")
    evs = conn.receive_data(auth.vnc_response(b"look", CHALLENGE))
    assert evs == [events.Authenticated(2, view_only=True)]


def test_vnc_auth_known_answer() -> None:
    # DES-ECB of the challenge under the bit-mirrored key, checked against an independent
    # implementation: vncdotool's own VNC auth routine.
    from vncdotool.rfb import _vnc_des, des_encrypt

    for pw in (b"secret", b"12345678", b"longer than eight", b"x"):
        expected = des_encrypt(_vnc_des(pw.decode()), CHALLENGE)
        assert auth.vnc_response(pw, CHALLENGE) == expected


def test_security_type_not_offered() -> None:
    conn = ServerConnection(SecurityConfig(b"secret"), random_bytes=challenge)
    conn.receive_data(b"RFB 003.008\n")
    conn.data_to_send()
    evs = conn.receive_data(b"\x01")  # None was not offered
    assert isinstance(evs[0], events.AuthenticationFailed)
    assert conn.data_to_send().startswith(struct.pack(">I", 1))


def normal_connection() -> ServerConnection:
    conn = ServerConnection()
    conn.receive_data(b"RFB 003.008\n\x01\x01")
    conn.send_server_init(640, 400, "x")
    conn.data_to_send()
    return conn


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x07", "unknown or unannounced message type 7"),
        (b"\x02\x00\xff\xff", "SetEncodings lists 65535 encodings"),
        (b"\x06\x00\x00\x00\xff\xff\xff\xf0", "cut text of 4294967280 bytes"),
        (
            b"\x00\x00\x00\x00"
            + struct.pack(">BBBBHHHBBB3x", 24, 24, 0, 1, 255, 255, 255, 16, 8, 0),
            "bits-per-pixel must be 8, 16 or 32",
        ),
        (
            b"\x00\x00\x00\x00"
            + struct.pack(">BBBBHHHBBB3x", 16, 16, 0, 1, 255, 255, 255, 16, 8, 0),
            "does not fit in 16 bits",
        ),
        (
            b"\x00\x00\x00\x00" + struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 0, 0, 0, 0, 0, 0, 0),
            "colour-map formats are served only at 8 bpp",
        ),
        (b"\xff\x05", "unsupported QEMU client message sub-type 5"),
    ],
)
def test_bad_messages_are_refused_without_reading_the_claimed_length(
    data: bytes, message: str
) -> None:
    conn = normal_connection()
    with pytest.raises(ProtocolError, match=message):
        conn.receive_data(data)
    assert conn.state is State.CLOSED
    assert conn.receive_data(b"\x03" * 100) == []  # a dropped connection takes nothing more


def test_signed_cut_text_length_capped_by_absolute_value() -> None:
    conn = normal_connection()
    conn.extended_clipboard = True
    with pytest.raises(ProtocolError, match="cut text of 2147483648 bytes"):
        conn.receive_data(b"\x06\x00\x00\x00\x80\x00\x00\x00")


@pytest.mark.parametrize(
    "data", [b"GET / HTTP/1.1\r\n", b"RFB 004.000\n", b"RFB 003.00x\n", b"\x00" * 12]
)
def test_garbage_version_is_refused(data: bytes) -> None:
    conn = ServerConnection()
    with pytest.raises(ProtocolError):
        conn.receive_data(data)


def test_input_before_server_init_is_held_then_capped() -> None:
    conn = ServerConnection()
    evs = conn.receive_data(b"RFB 003.008\n\x01\x01")
    assert isinstance(evs[-1], events.ClientInit)
    request = b"\x03\x00\x00\x00\x00\x00\x00\x10\x00\x10"
    assert conn.receive_data(request) == []
    conn.send_server_init(16, 16, "x")
    assert conn.receive_data(b"") == [events.FramebufferUpdateRequest(False, Rect(0, 0, 16, 16))]
    early = ServerConnection()
    early.receive_data(b"RFB 003.008\n\x01\x01")
    with pytest.raises(ProtocolError, match="too much before ServerInit"):
        early.receive_data(request * 7000)


def test_api_misuse_is_a_usage_error() -> None:
    conn = ServerConnection()
    with pytest.raises(UsageError):
        conn.send_bell()
    with pytest.raises(UsageError):
        ServerConnection(SecurityConfig(b"pw"))  # VNC auth without a random source


def test_framebuffer_update_wire_format() -> None:
    conn = normal_connection()
    conn.send_framebuffer_update(
        [EncodedRect(Rect(1, 2, 3, 4), 0, b"abc"), EncodedRect(Rect(0, 0, 1, 1), 1, b"\0\0\0\0")]
    )
    out = conn.data_to_send()
    assert out[:4] == b"\x00\x00\x00\x02"
    assert out[4:16] == struct.pack(">HHHHi", 1, 2, 3, 4, 0) and out[16:19] == b"abc"
    conn.send_bell()
    conn.send_cut_text("zürich €")
    out = conn.data_to_send()
    latin1 = "zürich ?".encode("latin-1")
    assert out == b"\x02" + b"\x03\x00\x00\x00" + struct.pack(">I", 8) + latin1


def test_fence_and_continuous_updates_only_after_we_announce_them() -> None:
    fence = struct.pack(">BxxxIB", 248, 1 << 31 | 1, 3) + b"abc"
    enable = struct.pack(">BBHHHH", 150, 1, 0, 0, 640, 400)
    early = normal_connection()
    with pytest.raises(ProtocolError, match="message type 248"):
        early.receive_data(fence)
    conn = normal_connection()
    conn.send_fence(1 << 31)
    conn.send_end_of_continuous_updates()
    assert conn.data_to_send() == struct.pack(">BxxxIB", 248, 1 << 31, 0) + b"\x96"
    assert conn.receive_data(fence + enable) == [
        events.ClientFence(1 << 31 | 1, b"abc"),
        events.EnableContinuousUpdates(True, Rect(0, 0, 640, 400)),
    ]
    with pytest.raises(ProtocolError, match="fence payload of 65 bytes"):
        conn.receive_data(struct.pack(">BxxxIB", 248, 0, 65) + bytes(65))
