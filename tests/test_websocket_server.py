"""WebSocket on a running vncterm: the VNC port serves plain viewers (rawclient, noVNC in Node
over raw TCP) and WebSocket clients alike; ``--websocket`` listeners, ``wss``, the Origin
policy and the command line."""

from __future__ import annotations

import socket
import ssl
import struct
import time

import pytest
from certs import CertFiles
from conftest import SHELL
from harness import RunningVncterm
from peers.novnc_client import NoVncClient
from rawclient import RawClient
from wsclient import HandshakeRefused, WebSocketSocket, WsRawClient

from vncterm.cli import config_from_args
from vncterm.config import ListenAddress
from vncterm.errors import ConfigError
from vncterm.server import sniff

pytestmark = pytest.mark.peer


def banner_delay(port: int, send: bytes = b"") -> float:
    """Seconds from connect to the RFB banner."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        start = time.monotonic()
        if send:
            sock.sendall(send)
        assert sock.recv(12) == b"RFB 003.008\n"
        return time.monotonic() - start


def test_vnc_port_serves_plain_and_websocket_viewers(vncterm_shell: RunningVncterm) -> None:
    server = vncterm_shell
    # plain: the banner after the wait; an early version: at once
    assert sniff.WAIT * 0.9 <= banner_delay(server.port) < sniff.WAIT + 0.1
    assert banner_delay(server.port, b"RFB 003.008\n") < sniff.WAIT * 0.9
    raw = RawClient("127.0.0.1", server.port)
    ws = WsRawClient("127.0.0.1", server.port, subprotocols=("binary",))
    assert ws.sock.subprotocol == "binary"  # type: ignore[attr-defined]
    server.write_console(b"echo both-$((2*21))\n")
    server.wait_text("both-42")
    for client in (raw, ws):
        client.update(incremental=False)
        assert (client.fb == server.framebuffer()).all()
    ws.close()
    raw.close()


def test_novnc_node_peer_over_raw_tcp_on_the_sniffing_port(vncterm_shell: RunningVncterm) -> None:
    with NoVncClient() as peer:
        peer.connect("127.0.0.1", vncterm_shell.port)
        peer.type("echo novnc-$((3*3))\n")
        vncterm_shell.wait_text("novnc-9")


def test_websocket_ping_and_close_on_a_live_session(vncterm_shell: RunningVncterm) -> None:
    ws = WsRawClient("127.0.0.1", vncterm_shell.port)
    sock = ws.sock
    assert isinstance(sock, WebSocketSocket)
    sock.ping(b"still there?")
    ws.update(incremental=False)  # reading the update also reads the pong
    deadline = time.monotonic() + 5
    while not sock.pongs and time.monotonic() < deadline:
        sock.settimeout(0.2)
        try:
            sock.recv(1)
        except TimeoutError:
            pass
    assert sock.pongs == [b"still there?"]
    # a text frame is refused with 1003 and the session ends
    sock.settimeout(5)
    key = b"\x00\x00\x00\x00"
    sock.send_raw(bytes([0x81, 0x80 | 3]) + key + b"abc")
    while sock.recv(65536):
        pass
    assert sock.close_code == 1003


def test_separate_websocket_listener_and_no_wait_on_the_vnc_port() -> None:
    with RunningVncterm(
        SHELL, websocket=[ListenAddress("127.0.0.1", 0)], websocket_sniff=False
    ) as server:
        server.wait_text("$")
        assert server.server is not None
        ws_port = server.server.websocket.addresses[0][1]
        assert banner_delay(server.port) < sniff.WAIT * 0.5  # no sniffing wait
        ws = WsRawClient("127.0.0.1", ws_port)
        ws.update(incremental=False)
        assert (ws.fb == server.framebuffer()).all()
        ws.close()
        # a WebSocket client on the plain port gets the banner, not a handshake
        with pytest.raises(HandshakeRefused):
            WebSocketSocket("127.0.0.1", server.port, timeout=2)


def test_origin_policy_on_a_server() -> None:
    with RunningVncterm(SHELL) as server:  # no password: loopback origins only
        server.wait_text("$")
        WebSocketSocket("127.0.0.1", server.port, origin="http://localhost:6080").close()
        with pytest.raises(HandshakeRefused) as refused:
            WebSocketSocket("127.0.0.1", server.port, origin="https://evil.example")
        assert refused.value.status == 403
    with RunningVncterm(SHELL, password=b"pw") as server:  # a password: any origin
        WsRawClient("127.0.0.1", server.port, password=b"pw", origin="https://evil.example").close()
    with RunningVncterm(SHELL, websocket_origins=("https://console.example",)) as server:
        WebSocketSocket("127.0.0.1", server.port, origin="https://console.example").close()
        with pytest.raises(HandshakeRefused):
            WebSocketSocket("127.0.0.1", server.port, origin="http://localhost")


def test_wss_listener_with_vnc_auth_inside(certs: CertFiles) -> None:
    with RunningVncterm(
        SHELL,
        password=b"sekrit",
        tls_cert=str(certs.server_cert),
        tls_key=str(certs.server_key),
        websocket=[ListenAddress("127.0.0.1", 0)],
        websocket_tls=True,
        websocket_sniff=False,
    ) as server:
        server.wait_text("$")
        assert server.server is not None
        port = server.server.websocket.addresses[0][1]
        ctx = ssl.create_default_context(cafile=str(certs.ca))
        ws = WsRawClient("127.0.0.1", port, password=b"sekrit", tls=ctx)  # RFB type 2 inside
        ws.update(incremental=False)
        assert (ws.fb == server.framebuffer()).all()
        ws.close()
        with pytest.raises(PermissionError):
            WsRawClient("127.0.0.1", port, password=b"wrong", tls=ctx)
        # the VNC port still offers VeNCrypt only
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.recv(12)
            sock.sendall(b"RFB 003.008\n")
            assert sock.recv(2) == b"\x01\x13"
        # plain ws to a wss listener fails at TLS, no RFB leaks
        with pytest.raises((HandshakeRefused, ConnectionError, OSError)):
            WebSocketSocket("127.0.0.1", port, timeout=2)


def test_command_line() -> None:
    config, _ = config_from_args(
        [
            "--websocket",
            "127.0.0.1:6080",
            "--websocket-origin",
            "https://a.example",
            "--websocket-wait",
            "20",
            "--",
            "sh",
        ]
    )
    assert config.websocket == [ListenAddress("127.0.0.1", 6080)]
    assert not config.websocket_sniff and config.websocket_origins == ("https://a.example",)
    assert config.websocket_wait == pytest.approx(0.02)
    config, _ = config_from_args(["--", "sh"])
    assert config.websocket_sniff and not config.websocket
    config, _ = config_from_args(["--websocket", "off", "--", "sh"])
    assert not config.websocket_sniff and not config.websocket
    for bad in (
        ["--websocket-tls", "--websocket", ":6080"],  # no certificate
        ["--websocket", "0.0.0.0:6080"],  # exposed without a password
        ["--websocket", "unix:/tmp/x"],
        ["--websocket", "off", "--websocket", ":1"],
        ["--websocket-wait", "0"],
    ):
        with pytest.raises(ConfigError):
            config_from_args([*bad, "--", "sh"])


def test_oversized_frame_on_a_live_session(vncterm_shell: RunningVncterm) -> None:
    sock = WebSocketSocket("127.0.0.1", vncterm_shell.port)
    # a frame header announcing 1 TiB: refused with 1009 as its first bytes arrive
    sock.send_raw(
        bytes([0x82, 0x80 | 127]) + struct.pack(">Q", 1 << 40) + b"\0" * 4 + b"\0" * 70000
    )
    sock.settimeout(5)
    while sock.recv(65536):
        pass
    assert sock.close_code == 1009


def test_novnc_cannot_use_the_x509_subtypes(certs: CertFiles) -> None:
    """What the README says a browser gets from a --tls-cert server over plain ws: noVNC (same
    RFB code in Node) picks only None/VncAuth/Plain among VeNCrypt sub-types, so it fails."""
    from peers.common import PeerConnectError

    with (
        RunningVncterm(
            SHELL,
            password=b"sekrit",
            tls_cert=str(certs.server_cert),
            tls_key=str(certs.server_key),
        ) as server,
        NoVncClient() as peer,
    ):
        with pytest.raises(PeerConnectError, match="disconnected"):
            peer.connect("127.0.0.1", server.port, password="sekrit", timeout=5)
