"""RFB over WebSocket (RFC 6455): noVNC and other browser viewers without websockify.

:class:`WebSocketProtocol` is an asyncio protocol that takes a raw connection through the
opening handshake (RFC 6455 section 4.2, parsed by the sans-I/O ``wsproto``), checks the
``Origin`` header (section 10.2), then hands a :class:`WebSocketTransport` to the RFB protocol
(a :class:`~vncterm.server.viewer.Viewer`). That adapter looks like a stream transport:

- every ``write()`` goes out as one unmasked binary message (section 5.6; a server never
  masks, section 5.1); binary messages received, fragmented or not (section 5.4), are passed on
  as a byte stream as their payload arrives, since RFB does not care about message boundaries;
- a Ping is answered with a Pong carrying its payload (section 5.5.2), but only the latest of
  the Pings read in one turn is answered (section 5.5.3 allows it), and not while the socket's
  write buffer is above :data:`PONG_ROOM`; Pongs are ignored. A peer that sends
  :data:`MAX_CONTROL_RUN` control frames in a row without a data frame, or leaves that many
  Pings unanswered because it does not read, is dropped with 1008. At most
  :data:`FRAMES_PER_TURN` frames are handled per turn of the event loop (reading pauses until
  the rest is done), so one connection's flood leaves turns for the other viewers;
- unmasked client frames, bad opcodes, oversized control frames and bad close codes are refused
  by ``wsproto`` with the close code it names (1002, 1007); a text message gets 1003, and a
  frame or message declared over :data:`MAX_MESSAGE` bytes gets 1009 (section 7.4.1) before any
  of its payload is passed on (:class:`FrameSizeGuard`), each with a logged reason;
- ``close()`` starts the closing handshake (section 7.1.2): a Close frame, then the TCP
  connection is closed when the viewer answers, or after :data:`CLOSE_TIMEOUT`; a Close from the
  viewer is answered at once (section 5.5.1);
- flow control passes straight through: write-buffer size and limits are the socket
  transport's, ``pause_writing``/``resume_writing`` reach the RFB protocol, and
  ``pause_reading``/``resume_reading`` stop the socket.

Subprotocols: ``binary`` is accepted when offered (websockify's name for raw binary frames,
offered by older noVNC); noVNC 1.7 offers none by default, and none is then selected. The base64
subprotocol of very old noVNC is not spoken.

The ``Origin`` header is checked by ``websocket_origin.OriginPolicy``; the listeners are set up
by ``websocket_listen``; frame sizes are checked by ``websocket_frames.FrameSizeGuard``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from .web_static import answer, is_upgrade
from .websocket_frames import FrameSizeGuard
from .websocket_origin import OriginPolicy

log = logging.getLogger(__name__)

#: A binary message (all its fragments) larger than this closes the connection with 1009. No RFB
#: message a viewer may send is near it (cut text and stream data are capped at 1 MiB).
MAX_MESSAGE = 4 * 1024 * 1024
#: The opening handshake's request header may be this long.
MAX_REQUEST = 16 * 1024
#: The opening handshake (the HTTP upgrade request) must arrive within this many seconds.
HANDSHAKE_TIMEOUT = 10.0
#: After our Close frame, the viewer has this long to answer before the socket is closed.
CLOSE_TIMEOUT = 1.0
#: Subprotocols accepted when offered, preferred first.
SUBPROTOCOLS = ("binary",)
#: Close codes (RFC 6455 section 7.4.1).
NORMAL, UNSUPPORTED_DATA, POLICY_VIOLATION, MESSAGE_TOO_BIG = 1000, 1003, 1008, 1009
#: Frames handled per turn of the event loop; the rest waits (reading paused) for the next turn.
FRAMES_PER_TURN = 256
#: A Pong waits (only the latest Ping's is kept) while this much is unsent on the socket.
PONG_ROOM = 64 * 1024
#: Control frames in a row without a data frame, or Pings left unanswered, before a drop.
MAX_CONTROL_RUN = 4096

_NOT_WEBSOCKET = (
    b"This is vncterm, a VNC server. Connect with a VNC viewer, or with noVNC "
    b"(WebSocket) to this address.\n"
)


class WebSocketTransport(asyncio.Transport):
    """The stream transport the RFB protocol sees on a WebSocket connection: writes become
    binary messages on the socket transport underneath (RFC 6455 section 5.6)."""

    def __init__(self, owner: WebSocketProtocol, raw: asyncio.Transport) -> None:
        super().__init__()
        self._owner = owner
        self._raw = raw

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._owner.send_message(bytes(data))

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a WebSocket has no half-close: use close()")

    def close(self) -> None:
        self._owner.start_closing(NORMAL)

    def abort(self) -> None:
        self._raw.abort()

    def is_closing(self) -> bool:
        return self._owner.closing or self._raw.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._raw.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        self._owner.set_reading(False)

    def resume_reading(self) -> None:
        self._owner.set_reading(True)

    def is_reading(self) -> bool:
        return self._raw.is_reading()

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._owner.inner or self._owner

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._owner.inner = cast(asyncio.Protocol, protocol)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "websocket":
            return self._owner.info
        return self._raw.get_extra_info(name, default)


#: A path (the request target) to the RFB protocol factory and origin policy serving it.
Route = Callable[[str], "tuple[Callable[[], asyncio.Protocol], OriginPolicy] | None"]


class WebSocketProtocol(asyncio.Protocol):
    """Server side of one WebSocket connection carrying RFB (RFC 6455 sections 4.2, 5, 7).

    ``make_inner`` builds the RFB protocol once the opening handshake has been accepted. The
    raw transport may already hold bytes: pass them to :meth:`data_received` after
    :meth:`connection_made` (the sniffer does).
    """

    def __init__(
        self,
        make_inner: Callable[[], asyncio.Protocol],
        policy: OriginPolicy | None = None,
        max_message: int = MAX_MESSAGE,
        route: Route | None = None,
        ping: float = 0.0,
        web: str | None = None,
    ) -> None:
        self.make_inner = make_inner
        #: ``--web DIR``: a request that is no WebSocket upgrade gets a static file from DIR.
        self.web = web
        #: A Ping every this many seconds once open (proxies cut silent connections); 0: none.
        self.ping_interval = ping
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_owed = False  # a Ping of ours not answered yet
        self.pings_sent = 0
        self.policy = policy or OriginPolicy()
        #: Picks the RFB protocol and origin policy by the request's path (a host's shared
        #: listener: ``/NAME``); None when the path does not matter.
        self.route = route
        self.max_message = max_message
        self.ws = WSConnection(ConnectionType.SERVER)
        self.raw: asyncio.Transport | None = None
        self.adapter: WebSocketTransport | None = None
        self.inner: asyncio.Protocol | None = None
        #: Set after the handshake: path, origin and subprotocol.
        self.info: dict[str, str | None] = {}
        #: True once our Close frame is out (or the connection is being dropped).
        self.closing = False
        #: Why the connection ended on our side, for tests and logs.
        self.close_reason: str | None = None
        self.label = "websocket"
        self._message_bytes = 0
        self._guard = FrameSizeGuard(max_message)
        self._request: bytearray | None = bytearray()  # until the request header is complete
        self._timer: asyncio.TimerHandle | None = None
        self._lost = False
        self._pong: bytes | None = None  # the payload of the latest Ping not answered yet
        self._unanswered = 0  # Pings since the last Pong went out
        self._control_run = 0  # control frames since the last data frame
        self._backlog = False  # frames left for the next turn (reading paused meanwhile)
        self._inner_paused = False  # the RFB side asked to stop reading

    # -- asyncio callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.raw = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
            self.label = f"websocket {host}:{peer[1]}"
        self._timer = asyncio.get_running_loop().call_later(
            HANDSHAKE_TIMEOUT, self._handshake_timeout
        )

    def data_received(self, data: bytes) -> None:
        if self._lost or self.ws.state is ConnectionState.CLOSED:
            return
        if self._request is not None:
            # the opening handshake: wsproto (1.3) drops whatever follows the request in the
            # same read, so the request goes to it alone and the rest once it is accepted
            self._request += data
            end = self._request.find(b"\r\n\r\n")
            if end < 0:
                if len(self._request) > MAX_REQUEST:
                    self._reject(None, f"request header over {MAX_REQUEST} bytes")
                return
            head, data = bytes(self._request[: end + 4]), bytes(self._request[end + 4 :])
            self._request = None
            if self.web is not None and not is_upgrade(head):
                self._serve_file(head)
                return
            self._receive(head)
            if not data or self.inner is None:
                return
        self._receive(data)

    def _receive(self, data: bytes) -> None:
        if self._lost or self.ws.state is ConnectionState.CLOSED:
            return
        reason = None
        if self.inner is not None and not self.closing:
            ok, reason = self._guard.feed(data)
            data = data[:ok]
        try:
            self.ws.receive_data(data)
        except RemoteProtocolError as e:  # a broken opening handshake
            self._reject(e.event_hint, str(e))
            return
        if self._process() and reason is not None and not self.closing:
            self.fail(MESSAGE_TOO_BIG, reason)

    def _process(self) -> bool:
        """Handle the frames received, at most FRAMES_PER_TURN now and the rest on the next
        turns with reading paused; then answer the latest Ping. False if the peer failed."""
        if self._lost or self.ws.state is ConnectionState.CLOSED:
            return False
        handled = 0
        try:
            for event in self.ws.events():
                self._handle(event)
                if self._lost or (self.closing and self.inner is None):
                    break
                handled += 1
                if handled >= FRAMES_PER_TURN:
                    self._set_backlog(True)
                    asyncio.get_running_loop().call_soon(self._process)
                    break
            else:
                self._set_backlog(False)
        except RemoteProtocolError as e:
            self._reject(e.event_hint, str(e))
            return False
        except LocalProtocolError as e:  # pragma: no cover - a bug on our side
            log.exception("%s: %s", self.label, e)
            self._drop("internal error")
            return False
        self._answer_ping()
        return True

    def _set_backlog(self, backlog: bool) -> None:
        if backlog != self._backlog and self.raw is not None and not self.raw.is_closing():
            if backlog:
                self.raw.pause_reading()
            elif not self._inner_paused:
                self.raw.resume_reading()
        self._backlog = backlog

    def set_reading(self, reading: bool) -> None:
        """The RFB side pauses or resumes reading (the adapter's pause/resume_reading)."""
        self._inner_paused = not reading
        if self.raw is not None and not self.raw.is_closing() and not self._backlog:
            if reading:
                self.raw.resume_reading()
            else:
                self.raw.pause_reading()

    def _on_ping(self, payload: bytes) -> None:
        """Keep only the latest Ping's payload to answer (RFC 6455 section 5.5.3)."""
        self._pong = payload
        self._unanswered += 1
        self._control_run += 1
        if self._unanswered > MAX_CONTROL_RUN:
            self.fail(
                POLICY_VIOLATION,
                f"{self._unanswered} Pings left unanswered: the peer does not read its Pongs",
            )
        elif self._control_run > MAX_CONTROL_RUN:
            self.fail(POLICY_VIOLATION, f"{self._control_run} control frames in a row")

    def _answer_ping(self) -> None:
        """Send the owed Pong if the socket has room for it."""
        if (
            self._pong is None
            or self.closing
            or self.raw is None
            or self.ws.state is not ConnectionState.OPEN
            or self.raw.get_write_buffer_size() > PONG_ROOM
        ):
            return
        self._send(Pong(payload=self._pong))
        self._pong = None
        self._unanswered = 0

    def eof_received(self) -> bool | None:
        return None  # close the socket; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.closing = True
        self._cancel_timer()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        self._answer_ping()
        if self.inner is not None:
            self.inner.resume_writing()

    # -- WebSocket events --------------------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        if isinstance(event, Request):
            self._on_request(event)
        elif isinstance(event, BytesMessage):
            self._control_run = 0
            self._message_bytes += len(event.data)
            if self._message_bytes > self.max_message:
                self.fail(MESSAGE_TOO_BIG, f"message over {self.max_message} bytes")
                return
            if event.message_finished:
                self._message_bytes = 0
            if self.inner is not None and not self.closing and event.data:
                self.inner.data_received(bytes(event.data))
        elif isinstance(event, TextMessage):
            self.fail(UNSUPPORTED_DATA, "text message (RFB needs binary frames)")
        elif isinstance(event, Ping):
            self._on_ping(bytes(event.payload))
        elif isinstance(event, CloseConnection):
            self._on_close(event)
        elif self._ping_owed:  # the answer to our keepalive Ping
            self._ping_owed = False
        elif not self.closing:  # an unasked Pong: nothing to answer, but it counts
            self._control_run += 1
            if self._control_run > MAX_CONTROL_RUN:
                self.fail(POLICY_VIOLATION, f"{self._control_run} control frames in a row")

    def _on_request(self, request: Request) -> None:
        if self.route is not None:
            found = self.route(request.target)
            if found is None:
                self._reject(
                    RejectConnection(status_code=404), f"no console at {request.target[:80]!r}"
                )
                return
            self.make_inner, self.policy = found
        headers = {name.lower(): value for name, value in request.extra_headers}
        raw_origin = headers.get(b"origin")
        origin = raw_origin.decode("latin-1") if raw_origin is not None else None
        refusal = self.policy.refusal(origin)
        if refusal is not None:
            self._reject(RejectConnection(status_code=403), f"refused: {refusal}")
            return
        subprotocol = next((p for p in SUBPROTOCOLS if p in request.subprotocols), None)
        if request.subprotocols and subprotocol is None:
            log.info(
                "%s: no common subprotocol in %s: going on without one",
                self.label,
                ", ".join(request.subprotocols),
            )
        self._send(AcceptConnection(subprotocol=subprotocol))
        self._cancel_timer()
        self.info = {"path": request.target, "origin": origin, "subprotocol": subprotocol}
        log.info(
            "%s: WebSocket open (path %s, origin %s, subprotocol %s)",
            self.label,
            request.target,
            origin or "none",
            subprotocol or "none",
        )
        assert self.raw is not None
        self.adapter = WebSocketTransport(self, self.raw)
        self.inner = self.make_inner()
        self.inner.connection_made(self.adapter)
        self._arm_ping()

    def _arm_ping(self) -> None:
        if self.ping_interval > 0 and not self.closing and not self._lost:
            self._ping_timer = asyncio.get_running_loop().call_later(
                self.ping_interval, self._send_ping
            )

    def _send_ping(self) -> None:
        """Our keepalive Ping (RFC 6455 section 5.5.2), unless the socket is backed up (then
        it carries data anyway)."""
        self._ping_timer = None
        if self.closing or self._lost or self.ws.state is not ConnectionState.OPEN:
            return
        if self.raw is not None and self.raw.get_write_buffer_size() <= PONG_ROOM:
            self._send(Ping(payload=b"vncterm"))
            self._ping_owed = True
            self.pings_sent += 1
        self._arm_ping()

    def _on_close(self, event: CloseConnection) -> None:
        if self.ws.state is ConnectionState.REMOTE_CLOSING:
            # the viewer started the closing handshake: answer, then close the socket
            log.info(
                "%s: closed by the viewer (code %s%s)",
                self.label,
                event.code,
                f", {event.reason}" if event.reason else "",
            )
            self._send(event.response())
            self.closing = True
            self._close_raw()
        elif self.ws.state is ConnectionState.CLOSED:
            self._close_raw()  # the answer to our own Close
        else:
            # wsproto found a framing error (state still OPEN): close with its code
            self.fail(event.code, event.reason or "protocol error")

    # -- output and closing ------------------------------------------------------------------------

    def send_message(self, data: bytes) -> None:
        """One binary message (the adapter's ``write``); dropped once closing."""
        if data and not self.closing and self.ws.state is ConnectionState.OPEN:
            self._send(BytesMessage(data=data))

    def fail(self, code: int, reason: str) -> None:
        """Close because the viewer broke the protocol (or a limit), logging why."""
        log.warning("%s: closing (%d): %s", self.label, code, reason)
        self.close_reason = reason
        self.start_closing(code, reason)

    def start_closing(self, code: int, reason: str = "") -> None:
        """Begin the closing handshake (RFC 6455 section 7.1.2)."""
        if self.closing or self.raw is None:
            return
        self.closing = True
        if self.ws.state is ConnectionState.OPEN:
            self._send(CloseConnection(code=code, reason=reason[:120]))
            self._timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._close_raw)
        else:
            self._close_raw()

    def _serve_file(self, head: bytes) -> None:
        """``--web``: one static file (web_static), then the connection closes."""
        assert self.web is not None and self.raw is not None
        self.raw.write(answer(head, self.web, self.policy, self.label))
        self._drop("web request answered")

    def _reject(self, hint: Event | None, reason: str) -> None:
        """Refuse the opening handshake with an HTTP error (RFC 6455 section 4.2.2)."""
        log.warning(
            "%s: WebSocket handshake %s",
            self.label,
            reason if reason.startswith("refused") else f"failed: {reason}",
        )
        self.close_reason = reason
        status = hint.status_code if isinstance(hint, RejectConnection) else 400
        try:
            self._send(
                RejectConnection(
                    status_code=status,
                    has_body=True,
                    headers=[
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(_NOT_WEBSOCKET)).encode()),
                    ]
                    + (hint.headers if isinstance(hint, RejectConnection) else []),
                )
            )
            self._send(RejectData(data=_NOT_WEBSOCKET))
        except LocalProtocolError:
            pass  # the request was too broken for an HTTP answer
        self._drop(reason)

    def _send(self, event: Event) -> None:
        if self.raw is None or self.raw.is_closing():
            return
        self.raw.write(self.ws.send(event))

    def _drop(self, reason: str) -> None:
        self.closing = True
        self.close_reason = self.close_reason or reason
        self._close_raw()

    def _close_raw(self) -> None:
        self._cancel_timer()
        if self.raw is not None and not self.raw.is_closing():
            self.raw.close()

    def _handshake_timeout(self) -> None:
        self._timer = None
        if self.inner is None and not self._lost:
            log.warning("%s: no WebSocket handshake within %.0f s", self.label, HANDSHAKE_TIMEOUT)
            self._drop("handshake timeout")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ping_timer is not None and (self.closing or self._lost):
            self._ping_timer.cancel()
            self._ping_timer = None
