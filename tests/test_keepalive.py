"""Keepalive for connections through proxies that cut silent ones: WebSocket Pings on open
WebSockets (``--websocket-ping``, RFC 6455 section 5.5.2), answered Pongs not counted against
the viewer; and RFB's own (``--keepalive``): an empty FramebufferUpdate (section 7.6.1) after
N seconds without an update, counted by a real client (noVNC)."""

from __future__ import annotations

import time

import pytest
from harness import RunningVncterm
from peers.novnc_client import NoVncClient
from wsclient import WebSocketSocket, WsRawClient
from wsproto.events import Ping

pytestmark = pytest.mark.peer

QUIET = ["sh", "-c", "echo quiet-console; exec sleep 1000"]


def pings_while_idle(sock: WebSocketSocket, seconds: float) -> list[bytes]:
    """The server's Pings over ``seconds`` (each answered); anything else fails."""
    pings: list[bytes] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            event = sock._next_event()
        except TimeoutError:
            break
        assert isinstance(event, Ping), event
        pings.append(bytes(event.payload))
        sock.sock.sendall(sock.ws.send(event.response()))
    sock.settimeout(5)
    return pings


def test_websocket_pings_keep_an_idle_browser_connection_busy() -> None:
    with RunningVncterm(QUIET, websocket_ping=0.2) as server:
        server.wait_text("quiet-console")
        ws = WsRawClient("127.0.0.1", server.port)
        ws.update(incremental=False)
        pings = pings_while_idle(ws.sock, 1.5)  # type: ignore[arg-type]
        assert len(pings) >= 4 and set(pings) == {b"vncterm"}
        server.write_console(b"after the pings\r\n")
        ws.wait_for(lambda c: (c.fb == server.framebuffer()).all())  # still served
        ws.close()
    with RunningVncterm(QUIET, websocket_ping=0) as server:  # 0: none
        server.wait_text("quiet-console")
        ws = WsRawClient("127.0.0.1", server.port)
        ws.update(incremental=False)
        assert pings_while_idle(ws.sock, 1.0) == []  # type: ignore[arg-type]
        ws.close()


@pytest.mark.slow
def test_rfb_keepalive_answers_a_held_request_with_an_empty_update() -> None:
    with RunningVncterm(QUIET, keepalive=0.3) as server, NoVncClient() as viewer:
        server.wait_text("quiet-console")
        viewer.connect("127.0.0.1", server.port)
        viewer.wait_quiet(0.1)
        first = viewer.updates
        time.sleep(2.0)
        assert viewer.updates - first >= 3, (first, viewer.updates)
        assert viewer.fatal_events() == []
        assert (viewer.capture() == server.framebuffer()).all()  # nothing was drawn by them
    with RunningVncterm(QUIET) as server, NoVncClient() as viewer:  # default: off
        server.wait_text("quiet-console")
        viewer.connect("127.0.0.1", server.port)
        viewer.wait_quiet(0.3)
        first = viewer.updates
        time.sleep(1.5)
        assert viewer.updates == first
