"""The sans-I/O desktop client (vncterm/desktop/client.py) against scripted desktops: every
handshake variant, every message and decoder in one session, byte-split invariance, and what it
sends back.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from desktop_scripts import (
    U32,
    build_session,
    cut_text,
    handshake,
    rect_header,
    update,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from vncterm.desktop import (
    Bell,
    Connected,
    CursorChanged,
    CutText,
    DesktopClient,
    Event,
    FramebufferUpdated,
    NameChanged,
    Resized,
    State,
)
from vncterm.desktop.clipboard import CLIP_NOTIFY, CLIP_PROVIDE, CLIP_REQUEST, CLIP_TEXT
from vncterm.errors import AuthenticationFailed, ProtocolError, UsageError
from vncterm.geometry import Move, Rect
from vncterm.rfb.auth import vnc_response
from vncterm.rfb.constants import Encoding
from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT

pytestmark = pytest.mark.unit


def normalise(events: list[Event]) -> list[object]:
    """Events as comparable values (cursor images as bytes)."""
    out: list[object] = []
    for e in events:
        if isinstance(e, CursorChanged):
            out.append(("cursor", e.image.shape, e.image.tobytes(), e.hotspot))
        else:
            out.append(e)
    return out


def feed_in_pieces(
    data: bytes, cuts: list[int], **options: object
) -> tuple[DesktopClient, list[Event], bytes]:
    client = DesktopClient(**options)  # type: ignore[arg-type]
    events: list[Event] = []
    sent = b""
    last = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        events += client.receive_data(data[last:cut])
        sent += client.data_to_send()
        last = cut
    return client, events, sent


# -- handshakes --------------------------------------------------------------------------------


def expected_init(shared: bool = True) -> bytes:
    """What the client sends after the security phase: ClientInit, SetPixelFormat, SetEncodings."""
    codes = [
        Encoding.TIGHT,
        Encoding.ZRLE,
        Encoding.HEXTILE,
        Encoding.COPYRECT,
        Encoding.RAW,
        Encoding.CURSOR,
        Encoding.EXTENDED_DESKTOP_SIZE,
        Encoding.DESKTOP_SIZE,
        Encoding.DESKTOP_NAME,
        Encoding.LAST_RECT,
        Encoding.EXTENDED_CLIPBOARD,
    ]
    return (
        bytes((int(shared),))
        + b"\0\0\0\0"
        + SERVER_PIXEL_FORMAT.to_bytes()
        + struct.pack(f">BxH{len(codes)}i", 2, len(codes), *codes)
    )


@pytest.mark.parametrize(
    ("version", "answer", "security", "choice"),
    [
        (b"003.008", b"003.008", 1, b"\x01"),
        (b"003.008", b"003.008", 2, b"\x02"),
        (b"003.007", b"003.007", 1, b"\x01"),
        (b"003.007", b"003.007", 2, b"\x02"),
        (b"003.003", b"003.003", 1, b""),
        (b"003.003", b"003.003", 2, b""),
        (b"003.005", b"003.003", 2, b""),  # unknown 3.x below 3.7 speaks 3.3
    ],
)
def test_handshakes(version: bytes, answer: bytes, security: int, choice: bytes) -> None:
    client = DesktopClient("pass")
    challenge = bytes(range(100, 116))
    events = client.receive_data(handshake(version, security, challenge=challenge))
    assert events == [Connected(96, 64, "guest desktop")]
    assert client.state is State.NORMAL and client.framebuffer.shape == (64, 96)
    auth = vnc_response(b"pass", challenge) if security == 2 else b""
    assert client.data_to_send() == b"RFB " + answer + b"\n" + choice + auth + expected_init()


def test_version_3_889_and_4_speak_3_8_and_prefer_none() -> None:
    for v in (b"003.889", b"004.001"):
        client = DesktopClient()
        client.receive_data(b"RFB " + v + b"\n" + bytes((3, 19, 2, 1)))
        assert client.data_to_send() == b"RFB 003.008\n\x01"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"HTTP/1.1 200", ProtocolError, "not an RFB server"),
        (b"RFB 002.002\n", ProtocolError, "older than 3.3"),
        (
            b"RFB 003.008\n\x00" + U32.pack(4) + b"busy",
            ProtocolError,
            "refused the connection: busy",
        ),
        (b"RFB 003.003\n" + U32.pack(0) + U32.pack(3) + b"nah", ProtocolError, "refused.*nah"),
        (b"RFB 003.008\n\x01\x13", ProtocolError, r"no security type we support among \[19\]"),
        (b"RFB 003.003\n" + U32.pack(19), ProtocolError, "security type 19"),
        (
            b"RFB 003.008\n\x01\x02" + bytes(16) + U32.pack(1) + U32.pack(5) + b"wrong",
            AuthenticationFailed,
            "refused authentication: wrong",
        ),
        (b"RFB 003.007\n\x01\x02" + bytes(16) + U32.pack(1), AuthenticationFailed, "no reason"),
        (handshake(size=(9000, 10)), ProtocolError, "exceeds the limit"),
        (handshake() + b"\x01", ProtocolError, "SetColourMapEntries"),
        (handshake() + b"\x07", ProtocolError, "unknown server message type 7"),
        (handshake() + update(rect_header(Rect(0, 0, 1, 1), 6)), ProtocolError, "encoding 6"),
        (handshake() + update(rect_header(Rect(90, 0, 10, 1), 0)), ProtocolError, "outside"),
    ],
)
def test_refusals_and_protocol_errors(data: bytes, error: type[Exception], message: str) -> None:
    client = DesktopClient("pw")
    with pytest.raises(error, match=message):
        client.receive_data(data)
    assert client.state is State.CLOSED
    with pytest.raises(UsageError):
        client.receive_data(b"more")


def test_password_required_but_missing() -> None:
    with pytest.raises(AuthenticationFailed, match="none was given"):
        DesktopClient().receive_data(b"RFB 003.008\n\x01\x02")


def test_options_are_checked_and_announced() -> None:
    with pytest.raises(UsageError):
        DesktopClient(encodings=[Encoding.RRE])
    with pytest.raises(UsageError):
        DesktopClient(jpeg_quality=10)
    client = DesktopClient(
        encodings=[Encoding.ZRLE],
        jpeg_quality=7,
        compress_level=2,
        extended_clipboard=False,
        shared=False,
    )
    assert client.announced_encodings() == [
        Encoding.ZRLE,
        Encoding.CURSOR,
        Encoding.EXTENDED_DESKTOP_SIZE,
        Encoding.DESKTOP_SIZE,
        Encoding.DESKTOP_NAME,
        Encoding.LAST_RECT,
        -32 + 7,
        -256 + 2,
    ]
    client.receive_data(handshake(b"003.003"))
    assert client.data_to_send()[12:13] == b"\x00"  # not shared


# -- a whole session ---------------------------------------------------------------------------


def test_scripted_session_decodes_exactly_and_reports_everything() -> None:
    session = build_session(seed=1)
    client, events, sent = feed_in_pieces(session.data, [])
    np.testing.assert_array_equal(client.framebuffer, session.final)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "Connected",
        "FramebufferUpdated",
        "CursorChanged",
        "NameChanged",
        "FramebufferUpdated",
        "Bell",
        "FramebufferUpdated",
        "FramebufferUpdated",
        "CutText",
        "CutText",
        "Resized",
        "FramebufferUpdated",
        "FramebufferUpdated",
        "Resized",
        "FramebufferUpdated",
        "FramebufferUpdated",
    ]
    assert [e.text for e in events if isinstance(e, CutText)] == session.texts
    assert [e.name for e in events if isinstance(e, NameChanged)] == session.names
    assert [e for e in events if isinstance(e, Resized)] == [Resized(112, 56), Resized(96, 64)]
    cursor = next(e for e in events if isinstance(e, CursorChanged))
    assert cursor.hotspot == (1, 0) and cursor.image[:, :, 3].tolist() == [[255, 0], [0, 255]]
    updates = [e for e in events if isinstance(e, FramebufferUpdated)]
    assert updates[0].rects == [
        Rect(0, 0, 48, 32),
        Rect(48, 0, 48, 32),
        Rect(0, 32, 48, 32),
        Rect(48, 32, 48, 32),
    ]
    assert updates[1] == FramebufferUpdated([], [])
    # the first copy stays a copy; the second reads pixels the same update repainted -> damage
    assert updates[2].copies == [Move(Rect(4, 4, 20, 10), 30, 20)]
    assert updates[2].rects == [Rect(4, 4, 20, 10), Rect(60, 40, 10, 10)]
    assert updates[4] == FramebufferUpdated([], [])  # the resize update itself
    assert client.rect_counts[Encoding.LAST_RECT] == 1
    assert client.name == "Bureau ✓"
    # after the extended caps the client sent its own caps, then a request for the notified text
    assert struct.pack(">Bxxxi", 6, -8) + U32.pack(0x1F000001) + U32.pack(1 << 20) in sent
    assert struct.pack(">Bxxxi", 6, -4) + U32.pack(CLIP_REQUEST | CLIP_TEXT) in sent


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 3), cuts=st.lists(st.integers(0, 200_000), max_size=60))
def test_any_byte_split_gives_the_same_events(seed: int, cuts: list[int]) -> None:
    session = build_session(seed)
    whole, whole_events, whole_sent = feed_in_pieces(session.data, [])
    split, split_events, split_sent = feed_in_pieces(
        session.data, [c % (len(session.data) + 1) for c in cuts]
    )
    assert normalise(split_events) == normalise(whole_events)
    assert split_sent == whole_sent
    np.testing.assert_array_equal(split.framebuffer, whole.framebuffer)


def test_one_byte_at_a_time_gives_the_same_events() -> None:
    session = build_session(2)
    _, whole_events, _ = feed_in_pieces(session.data, [])
    client = DesktopClient()
    events: list[Event] = []
    for i in range(len(session.data)):
        events += client.receive_data(session.data[i : i + 1])
    assert normalise(events) == normalise(whole_events)
    np.testing.assert_array_equal(client.framebuffer, session.final)


# -- what the client sends ---------------------------------------------------------------------


def connected(**options: object) -> DesktopClient:
    client = DesktopClient(**options)  # type: ignore[arg-type]
    client.receive_data(handshake())
    client.data_to_send()
    return client


def test_client_messages() -> None:
    client = DesktopClient()
    with pytest.raises(UsageError):
        client.key_event(0x61, True)
    client = connected()
    client.request_update(incremental=False)
    client.request_update(rect=Rect(1, 2, 3, 4))
    client.key_event(0xFF0D, True)
    client.pointer_event(500, -3, 0x81)
    client.cut_text("naïve ✓\r\nx")
    assert client.data_to_send() == (
        struct.pack(">BBHHHH", 3, 0, 0, 0, 96, 64)
        + struct.pack(">BBHHHH", 3, 1, 1, 2, 3, 4)
        + struct.pack(">BBxxI", 4, 1, 0xFF0D)
        + struct.pack(">BBHH", 5, 0x81, 95, 0)
        + struct.pack(">BxxxI", 6, 9)
        + "naïve ?\nx".encode("latin-1")
    )


def test_extended_clipboard_from_the_client_side() -> None:
    client = connected()
    caps = U32.pack(0x1F000001) + U32.pack(1000)
    client.receive_data(cut_text(caps, extended=True))
    client.data_to_send()
    client.cut_text("héllo\nwörld")
    assert client.data_to_send() == struct.pack(">Bxxxi", 6, -4) + U32.pack(CLIP_NOTIFY | CLIP_TEXT)
    client.receive_data(cut_text(U32.pack(CLIP_REQUEST | CLIP_TEXT), extended=True))
    sent = client.data_to_send()
    (length,) = struct.unpack_from(">i", sent, 4)
    payload = sent[8:]
    assert -length == len(payload) and U32.unpack_from(payload)[0] == CLIP_PROVIDE | CLIP_TEXT
    body = zlib.decompress(payload[4:])
    assert body[4:] == "héllo\r\nwörld".encode() + b"\0"
    assert U32.unpack_from(body)[0] == len(body) - 4


def test_oversized_clipboard_is_skipped_not_kept() -> None:
    client = connected(max_cut_text=10)
    events = client.receive_data(cut_text(b"x" * 50) + b"\x02")
    assert events == [Bell()]
    events = client.receive_data(cut_text(b"y" * 10))
    assert events == [CutText("y" * 10)]


def test_eof_between_messages_is_clean_and_mid_update_is_not() -> None:
    client = connected()
    client.receive_eof()
    assert client.state is State.CLOSED
    client = connected()
    client.receive_data(update(rect_header(Rect(0, 0, 10, 10), 0))[:20])
    with pytest.raises(ProtocolError, match="rectangle 1 of a FramebufferUpdate"):
        client.receive_eof()
    client = DesktopClient()
    client.receive_data(b"RFB 003.008\n")
    with pytest.raises(ProtocolError, match="security handshake"):
        client.receive_eof()


def test_extended_desktop_size_error_status_and_same_size_change_nothing() -> None:
    client = connected()
    screen = struct.pack(">IHHHHI", 0, 0, 0, 50, 50, 0)
    ev = client.receive_data(
        update(
            rect_header(Rect(1, 3, 50, 50), Encoding.EXTENDED_DESKTOP_SIZE)
            + b"\x01\0\0\0"
            + screen,
            rect_header(Rect(0, 0, 96, 64), Encoding.EXTENDED_DESKTOP_SIZE)
            + b"\x01\0\0\0"
            + screen,
        )
    )
    assert ev == [FramebufferUpdated([], [])] and client.framebuffer.shape == (64, 96)


def test_resize_beyond_limit_is_refused() -> None:
    client = connected(max_width=100, max_height=100)
    with pytest.raises(ProtocolError, match="exceeds"):
        client.receive_data(update(rect_header(Rect(0, 0, 101, 10), Encoding.DESKTOP_SIZE)))
