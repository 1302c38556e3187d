"""Unit tests of the sniffer (vncterm.server.sniff) and the WebSocket adapter
(vncterm.server.websocket, RFC 6455) with hand-made frames and in-memory transports."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request

from vncterm.server import sniff, websocket
from vncterm.server.sniff import SniffingProtocol, sniffing_factory
from vncterm.server.websocket import WebSocketProtocol
from vncterm.server.websocket_origin import OriginPolicy, is_loopback_origin

pytestmark = pytest.mark.unit

# -- helpers -----------------------------------------------------------------------------------


def frame(
    opcode: int, payload: bytes, fin: bool = True, masked: bool = True, declared: int | None = None
) -> bytes:
    """One RFC 6455 frame (section 5.2), masked as a client must."""
    n = len(payload) if declared is None else declared
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


BIN, TEXT, CONT, CLOSE, PING, PONG = 2, 1, 0, 8, 9, 10


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Server frames (unmasked) as (opcode, payload)."""
    out = []
    while data:
        opcode, n = data[0] & 0x0F, data[1] & 0x7F
        assert not data[1] & 0x80, "a server must not mask"
        pos = 2
        if n == 126:
            (n,) = struct.unpack(">H", data[2:4])
            pos = 4
        elif n == 127:
            (n,) = struct.unpack(">Q", data[2:10])
            pos = 10
        out.append((opcode, data[pos : pos + n]))
        data = data[pos + n :]
    return out


def upgrade_request(origin: str | None = None, subprotocols: tuple[str, ...] = ()) -> bytes:
    ws = WSConnection(ConnectionType.CLIENT)
    headers = [(b"origin", origin.encode())] if origin else []
    return ws.send(
        Request(
            host="127.0.0.1", target="/", subprotocols=list(subprotocols), extra_headers=headers
        )
    )


class FakeTransport(asyncio.Transport):
    """Records writes; close() ends the connection (connection_lost) on the next loop turn."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.limits: tuple[int | None, int | None] = (None, None)
        self.buffered = 0

    def write(self, data: Any) -> None:
        assert not self.closed, "write after close"
        self.written += data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.limits = (high, low)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 4242)}.get(name, default)

    def take(self) -> bytes:
        out = bytes(self.written)
        self.written.clear()
        return out


class Inner(asyncio.Protocol):
    """Stands in for the Viewer: records what it is given."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.data = bytearray()
        self.lost = False
        self.paused = 0
        self.resumed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def pause_writing(self) -> None:
        self.paused += 1

    def resume_writing(self) -> None:
        self.resumed += 1


def run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


async def opened(**kw: Any) -> tuple[WebSocketProtocol, FakeTransport, Inner]:
    inner = Inner()
    proto = WebSocketProtocol(lambda: inner, **kw)
    raw = FakeTransport(proto)
    proto.connection_made(raw)
    proto.data_received(upgrade_request())
    assert raw.take().startswith(b"HTTP/1.1 101 ")
    assert inner.transport is not None
    return proto, raw, inner


# -- the adapter -------------------------------------------------------------------------------


def test_handshake_then_binary_both_ways() -> None:
    async def main() -> None:
        inner = Inner()
        proto = WebSocketProtocol(lambda: inner)
        raw = FakeTransport(proto)
        proto.connection_made(raw)
        request = upgrade_request(subprotocols=("binary", "base64"))
        proto.data_received(request[:10])  # split anywhere
        assert inner.transport is None and not raw.written
        # the request and the first frame in one read
        proto.data_received(request[10:] + frame(BIN, b"RFB 003.008\n"))
        client = WSConnection(ConnectionType.CLIENT)
        client.send(Request(host="x", target="/"))
        reply = raw.take()
        assert reply.startswith(b"HTTP/1.1 101 ")
        assert b"sec-websocket-protocol: binary" in reply.lower()
        assert bytes(inner.data) == b"RFB 003.008\n"
        assert inner.transport is not None
        inner.transport.write(b"RFB 003.008\n")
        inner.transport.writelines([b"\x01", b"\x01"])
        assert parse_frames(raw.take()) == [(BIN, b"RFB 003.008\n"), (BIN, b"\x01\x01")]
        assert inner.transport.get_extra_info("peername") == ("127.0.0.1", 4242)
        assert inner.transport.get_extra_info("websocket")["subprotocol"] == "binary"

    run(main)


def test_no_subprotocol_when_none_offered() -> None:
    async def main() -> None:
        inner = Inner()
        proto = WebSocketProtocol(lambda: inner)
        raw = FakeTransport(proto)
        proto.connection_made(raw)
        proto.data_received(upgrade_request())
        assert b"sec-websocket-protocol" not in raw.take().lower()
        assert proto.info["subprotocol"] is None

    run(main)


def test_fragmented_message_with_ping_between() -> None:
    async def main() -> None:
        proto, raw, inner = await opened()
        data = (
            frame(BIN, b"abc", fin=False)
            + frame(PING, b"are you there")
            + frame(CONT, b"def", fin=False)
            + frame(CONT, b"ghi", fin=True)
        )
        for i in range(0, len(data), 5):  # byte-split across reads too
            proto.data_received(data[i : i + 5])
        assert bytes(inner.data) == b"abcdefghi"
        assert parse_frames(raw.take()) == [(PONG, b"are you there")]
        assert not raw.closed

    run(main)


def test_close_from_viewer_is_answered() -> None:
    async def main() -> None:
        proto, raw, inner = await opened()
        proto.data_received(frame(CLOSE, struct.pack(">H", 1001) + b"bye"))
        ((opcode, payload),) = parse_frames(raw.take())
        assert opcode == CLOSE and struct.unpack(">H", payload[:2])[0] == 1001
        assert raw.closed
        await asyncio.sleep(0)
        assert inner.lost

    run(main)


def test_close_from_server_waits_for_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        proto, raw, inner = await opened()
        assert inner.transport is not None
        inner.transport.close()
        assert inner.transport.is_closing()
        inner.transport.write(b"dropped after close")
        ((opcode, payload),) = parse_frames(raw.take())
        assert opcode == CLOSE and struct.unpack(">H", payload[:2])[0] == 1000
        assert not raw.closed  # waiting for the viewer's Close
        proto.data_received(frame(CLOSE, payload))
        assert raw.closed

        # a viewer that never answers: the socket closes after CLOSE_TIMEOUT
        monkeypatch.setattr(websocket, "CLOSE_TIMEOUT", 0.05)
        proto, raw, inner = await opened()
        assert inner.transport is not None
        inner.transport.close()
        await asyncio.sleep(0.1)
        assert raw.closed and inner.lost

    run(main)


def test_oversized_message_is_refused_with_a_logged_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        proto, raw, inner = await opened(max_message=1024)
        proto.data_received(frame(BIN, b"x" * 1000, fin=False))
        proto.data_received(frame(CONT, b"y" * 100))  # 1100 bytes in one message
        ((opcode, payload),) = parse_frames(raw.take())
        assert opcode == CLOSE and struct.unpack(">H", payload[:2])[0] == 1009
        assert bytes(inner.data) == b"x" * 1000  # nothing past the cap was passed on
        assert "over 1024" in (proto.close_reason or "")

        # a single frame declaring more than the cap: refused from its first bytes
        proto, raw, inner = await opened(max_message=1024)
        proto.data_received(frame(BIN, b"z" * 2000, declared=1 << 40)[:2100])
        ((opcode, payload),) = parse_frames(raw.take())
        assert struct.unpack(">H", payload[:2])[0] == 1009
        assert not inner.data

    with caplog.at_level(logging.WARNING, logger=websocket.__name__):
        run(main)
    assert "closing (1009): message of 1100 bytes over 1024" in caplog.text
    assert "closing (1009): frame of 1099511627776 bytes over 1024" in caplog.text


def test_unmasked_and_text_frames_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        proto, raw, inner = await opened()
        proto.data_received(frame(BIN, b"abc", masked=False))
        ((opcode, payload),) = parse_frames(raw.take())
        assert opcode == CLOSE and struct.unpack(">H", payload[:2])[0] == 1002
        assert not inner.data

        proto, raw, inner = await opened()
        proto.data_received(frame(TEXT, b"RFB 003.008\n"))
        ((opcode, payload),) = parse_frames(raw.take())
        assert opcode == CLOSE and struct.unpack(">H", payload[:2])[0] == 1003

    with caplog.at_level(logging.WARNING, logger=websocket.__name__):
        run(main)
    assert "unmasked" in caplog.text and "text message" in caplog.text


def test_flow_control_passes_through() -> None:
    async def main() -> None:
        proto, raw, inner = await opened()
        tr = inner.transport
        assert tr is not None
        tr.set_write_buffer_limits(high=1000)
        assert raw.limits == (1000, None)
        raw.buffered = 1234
        assert tr.get_write_buffer_size() == 1234
        proto.pause_writing()
        proto.resume_writing()
        assert (inner.paused, inner.resumed) == (1, 1)
        tr.pause_reading()
        assert not raw.reading
        tr.resume_reading()
        assert raw.reading
        tr.abort()
        assert raw.aborted

    run(main)


def test_plain_http_and_bad_origin_get_http_errors(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        inner = Inner()
        proto = WebSocketProtocol(lambda: inner)
        raw = FakeTransport(proto)
        proto.connection_made(raw)
        proto.data_received(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:5900\r\n\r\n")
        reply = raw.take()
        assert reply.startswith(b"HTTP/1.1 400 ") and b"VNC server" in reply
        assert raw.closed and inner.transport is None

        proto = WebSocketProtocol(lambda: inner, OriginPolicy())
        raw = FakeTransport(proto)
        proto.connection_made(raw)
        proto.data_received(upgrade_request(origin="https://evil.example"))
        assert raw.take().startswith(b"HTTP/1.1 403 ")
        assert raw.closed and inner.transport is None

    with caplog.at_level(logging.WARNING, logger=websocket.__name__):
        run(main)
    assert "refused: origin https://evil.example" in caplog.text


def test_origin_policy() -> None:
    default = OriginPolicy()
    assert default.refusal(None) is None  # not a browser
    for ok in (
        "http://localhost:8080",
        "https://127.0.0.1",
        "http://127.1.2.3:1",
        "http://[::1]:6080",
        "http://app.localhost",
    ):
        assert default.refusal(ok) is None, ok
    for bad in (
        "https://evil.example",
        "null",
        "file://",
        "http://10.0.0.1",
        "http://localhost.evil.example",
    ):
        assert default.refusal(bad) is not None, bad
    assert OriginPolicy(authenticated=True).refusal("https://evil.example") is None
    listed = OriginPolicy(("https://console.example.com",), authenticated=True)
    assert listed.refusal("https://console.example.com") is None
    assert listed.refusal("HTTPS://Console.Example.com/") is None
    assert listed.refusal("http://localhost") is not None  # the list is the whole policy
    assert OriginPolicy(("*",)).refusal("https://anything.example") is None
    assert not is_loopback_origin("ftp://127.0.0.1")


def test_handshake_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(websocket, "HANDSHAKE_TIMEOUT", 0.05)

    async def main() -> None:
        proto = WebSocketProtocol(Inner)
        raw = FakeTransport(proto)
        proto.connection_made(raw)
        proto.data_received(b"GET / HTTP/1.1\r\n")
        await asyncio.sleep(0.1)
        assert raw.closed and proto.close_reason == "handshake timeout"

    run(main)


# -- the sniffer (real sockets) ----------------------------------------------------------------


class Banner(Inner):
    """A stand-in RFB server: sends the banner on connection_made, like the Viewer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.write(b"RFB 003.008\n")  # type: ignore[attr-defined]


async def sniffed(
    client: Callable[[socket.socket], None], wait: float = 0.05, settle: float = 0.2
) -> tuple[str, Inner, float]:
    """Run one connection through a sniffing listener; ``client`` acts on the socket."""
    chosen: list[tuple[str, Inner]] = []

    def make(kind: str) -> Callable[[], asyncio.Protocol]:
        def factory() -> asyncio.Protocol:
            proto = Banner() if kind == "rfb" else Inner()
            chosen.append((kind, proto))
            return proto

        return factory

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        sniffing_factory(make("rfb"), make("ws"), wait), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    start = time.monotonic()
    client(sock)
    banner_at = 0.0
    deadline = start + settle
    while time.monotonic() < deadline:
        await asyncio.sleep(0.002)
        if not banner_at:
            try:
                if sock.recv(12, socket.MSG_PEEK):
                    banner_at = time.monotonic() - start
            except BlockingIOError:
                pass
    sock.close()
    server.close()
    assert len(chosen) == 1, chosen
    return chosen[0][0], chosen[0][1], banner_at


def test_plain_client_that_sends_nothing_gets_the_banner_after_the_wait() -> None:
    kind, _proto, banner_at = run(lambda: sniffed(lambda s: None, wait=0.05))
    assert kind == "rfb"
    assert 0.045 <= banner_at < 0.15, banner_at


def test_early_rfb_version_is_rfb_at_once() -> None:
    kind, proto, banner_at = run(lambda: sniffed(lambda s: s.send(b"RFB 003.008\n"), wait=0.5))
    assert kind == "rfb" and bytes(proto.data) == b"RFB 003.008\n"
    assert 0 < banner_at < 0.1, banner_at  # no wait


def test_get_is_websocket_at_once_even_split() -> None:
    def client(sock: socket.socket) -> None:
        sock.send(b"GE")
        time.sleep(0.01)
        sock.send(b"T / HTTP/1.1\r\n")

    kind, proto, banner_at = run(lambda: sniffed(client, wait=0.5))
    assert kind == "ws" and bytes(proto.data) == b"GET / HTTP/1.1\r\n" and not banner_at
    # only a prefix of "GET " by the end of the wait: still WebSocket (no RFB client says "G")
    kind, proto, banner_at = run(lambda: sniffed(lambda s: s.send(b"G"), wait=0.05))
    assert kind == "ws" and not banner_at


def test_request_already_waiting_when_the_timer_fires_is_not_given_a_banner() -> None:
    """A busy loop can run the timer before reading the socket (libuv does): the peek."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        chosen: list[str] = []
        proto = SniffingProtocol(
            lambda: (chosen.append("rfb"), Banner())[1],
            lambda: (chosen.append("ws"), Inner())[1],
            wait=10,
        )
        transport, _ = await loop.connect_accepted_socket(lambda: proto, ours)
        theirs.send(b"GET / HTTP/1.1\r\n")
        time.sleep(0.01)  # the loop is busy: the bytes wait in our socket's buffer
        proto._timeout()  # the timer fires before the loop polls the socket
        assert proto.decided is None and not chosen
        await asyncio.sleep(0.05)
        assert chosen == ["ws"]
        transport.close()
        theirs.close()

    run(main)


def test_sniffer_default_wait_is_short() -> None:
    assert 0 < sniff.WAIT < 0.1
