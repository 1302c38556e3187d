"""A blocking RFC 6455 client (framing by wsproto, client side) for the WebSocket tests.

:class:`WebSocketSocket` looks like enough of a socket (``recv``, ``sendall``, ``settimeout``,
``close``) for :class:`rawclient.RawClient` to speak RFB through it: :class:`WsRawClient`.
"""

from __future__ import annotations

import socket
import ssl

from rawclient import RawClient
from wsproto import ConnectionType, WSConnection
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
)


class HandshakeRefused(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body


class WebSocketSocket:
    """One client connection: the opening handshake in the constructor, then binary frames."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        origin: str | None = None,
        subprotocols: tuple[str, ...] = (),
        path: str = "/",
        timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock: socket.socket = (
            tls.wrap_socket(raw, server_hostname=host) if tls is not None else raw
        )
        self.ws = WSConnection(ConnectionType.CLIENT)
        headers = [(b"origin", origin.encode())] if origin else []
        self.sock.sendall(
            self.ws.send(
                Request(
                    host=f"{host}:{port}",
                    target=path,
                    subprotocols=list(subprotocols),
                    extra_headers=headers,
                )
            )
        )
        self.buffer = bytearray()
        self.pongs: list[bytes] = []
        self.pings: list[bytes] = []  # the server's Pings (each answered with a Pong)
        self.close_code: int | None = None
        self.close_reason = ""
        self.subprotocol: str | None = None
        status, body = 0, b""
        while True:
            event = self._next_event()
            if isinstance(event, AcceptConnection):
                self.subprotocol = event.subprotocol
                break
            if isinstance(event, RejectConnection):
                status = event.status_code
                if not event.has_body:
                    raise HandshakeRefused(status, b"")
            elif isinstance(event, RejectData):
                body += event.data
                if event.body_finished:
                    raise HandshakeRefused(status, body)
            elif event is None:
                raise HandshakeRefused(status, body)

    def _next_event(self) -> Event | None:
        """The next event, reading the socket when none is pending; None at EOF."""
        while True:
            for event in self.ws.events():
                return event
            data = self.sock.recv(65536)
            if not data:
                return None
            self.ws.receive_data(data)

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(self.ws.send(BytesMessage(data=data)))

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket (hand-made frames)."""
        self.sock.sendall(data)

    def ping(self, payload: bytes) -> None:
        self.sock.sendall(self.ws.send(Ping(payload=payload)))

    def recv(self, n: int) -> bytes:
        """Up to ``n`` bytes of binary payload; b"" once the server closed (close handshake
        answered, code in ``close_code``)."""
        while not self.buffer:
            event = self._next_event()
            if event is None:
                return b""
            if isinstance(event, BytesMessage):
                self.buffer += event.data
            elif isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
            elif isinstance(event, Ping):
                self.pings.append(bytes(event.payload))
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code, self.close_reason = event.code, event.reason or ""
                try:
                    self.sock.sendall(self.ws.send(event.response()))
                except Exception:
                    pass
                return b""
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def close(self) -> None:
        self.sock.close()


class WsRawClient(RawClient):
    """The protocol-test RFB client over a WebSocket."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        password: bytes | None = None,
        shared: bool = True,
        **ws: object,
    ) -> None:
        self.sock = WebSocketSocket(host, port, **ws)  # type: ignore[assignment,arg-type]
        self._start(password, shared)
