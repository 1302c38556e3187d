"""One port for plain VNC viewers and WebSocket clients: tell them apart by their first bytes.

In RFB the server speaks first (its ProtocolVersion, RFB spec section 7.1.1), while a WebSocket
client opens with an HTTP request, ``GET ...`` (RFC 6455 section 4.1). So a new connection waits
up to :data:`WAIT` for the client's first bytes before the banner goes out:

- ``GET `` (or a prefix of it when the wait ends): the connection is a WebSocket one and goes
  to :class:`~vncterm.server.websocket.WebSocketProtocol`;
- any other bytes (e.g. an early ``RFB 003.008\\n`` from a viewer that does not wait for ours):
  RFB at once, with those bytes as the viewer's first input;
- nothing by the end of the wait: RFB, banner first (every ordinary VNC viewer).

A browser sends its request right behind the TCP handshake, so its bytes are normally there
within a millisecond of the accept (measured by ``benchmarks/bench_connect.py``); the wait is
what a plain viewer pays on every connection. When the wait ends while the event loop was busy
(libuv runs timers before polling sockets), the socket is peeked first, so a request that has
already arrived is never answered with a banner. ``--websocket ADDR`` gives WebSocket its own
listener and turns this wait off.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import cast

log = logging.getLogger(__name__)

#: How long a new connection waits for the client's first bytes before the RFB banner (s).
WAIT = 0.05
#: What a WebSocket opening handshake starts with (RFC 6455 section 4.1: a GET request).
HTTP_GET = b"GET "
#: A peek that finds bytes waiting re-checks this often (s) until data_received gets them.
RECHECK = 0.002


class SniffingProtocol(asyncio.Protocol):
    """The protocol a dual listener's connections start with; it hands the transport over to
    ``make_rfb()`` or ``make_websocket()`` (``transport.set_protocol``) once it knows which."""

    def __init__(
        self,
        make_rfb: Callable[[], asyncio.Protocol],
        make_websocket: Callable[[], asyncio.Protocol],
        wait: float = WAIT,
    ) -> None:
        self.make_rfb = make_rfb
        self.make_websocket = make_websocket
        self.wait = wait
        self.transport: asyncio.Transport | None = None
        #: Which protocol won: "rfb", "websocket", or None while undecided.
        self.decided: str | None = None
        self._buffer = b""
        self._timer: asyncio.TimerHandle | None = None
        self._started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._timer = loop.call_later(self.wait, self._timeout)

    def data_received(self, data: bytes) -> None:
        if self.decided is not None:  # pragma: no cover - set_protocol moved the transport on
            return
        self._buffer += data
        head = self._buffer[: len(HTTP_GET)]
        if head == HTTP_GET:
            self._hand_over("websocket")
        elif HTTP_GET.startswith(head):
            return  # "G", "GE", "GET": wait for the rest (or the end of the wait)
        else:
            self._hand_over("rfb")

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.decided is None:
            self.decided = "lost"
        self._cancel()

    def _timeout(self) -> None:
        self._timer = None
        if self.decided is not None:
            return
        if self._buffer:
            # a prefix of "GET ": nothing but a WebSocket client starts like that
            self._hand_over("websocket")
        elif self._bytes_waiting():
            # the loop was busy past the deadline: data_received is about to get them
            self._timer = asyncio.get_running_loop().call_later(RECHECK, self._timeout)
        else:
            self._hand_over("rfb")

    def _bytes_waiting(self) -> bool:
        """True when the socket holds unread bytes (a non-blocking MSG_PEEK on a dup)."""
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            with socket.fromfd(sock.fileno(), sock.family, sock.type) as dup:
                return bool(dup.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return False

    def _hand_over(self, kind: str) -> None:
        assert self.transport is not None
        self._cancel()
        self.decided = kind
        elapsed = asyncio.get_running_loop().time() - self._started
        log.debug("connection sniffed as %s after %.1f ms", kind, elapsed * 1000)
        protocol = self.make_websocket() if kind == "websocket" else self.make_rfb()
        if kind == "rfb" and self._buffer[:1] == b"\x16":
            log.info(
                "a TLS ClientHello on the VNC port: wss needs --websocket with --websocket-tls"
            )
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        data, self._buffer = self._buffer, b""
        if data and not self.transport.is_closing():
            protocol.data_received(data)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def sniffing_factory(
    make_rfb: Callable[[], asyncio.Protocol],
    make_websocket: Callable[[], asyncio.Protocol],
    wait: float = WAIT,
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for ``loop.create_server`` that sniffs each connection."""

    def factory() -> asyncio.Protocol:
        return SniffingProtocol(make_rfb, make_websocket, wait)

    return factory
