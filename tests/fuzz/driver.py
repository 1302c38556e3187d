"""Shared by the hypothesis fuzz tests and the atheris harness: connections brought to every
state of the RFB handshake (sections 7.1 to 7.3), VeNCrypt included (section 7.2.19), and an
owner loop that feeds them bytes the way ``server.viewer`` does.

The contract checked: ``receive_data`` returns events or raises ``ProtocolError`` (after which
the connection is CLOSED and takes nothing more), ``data_to_send`` never raises, and what the
connection holds stays under :data:`BUFFER_BOUND` (plus the chunk just fed).
"""

from __future__ import annotations

import ssl
import struct
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from vncterm.errors import ProtocolError
from vncterm.rfb import auth, events, streams, vencrypt
from vncterm.rfb.connection import (
    MAX_CUT_TEXT,
    MAX_EARLY_INPUT,
    MAX_ENCODINGS,
    SecurityConfig,
    ServerConnection,
    State,
)

CHALLENGE = bytes(range(16))
#: The most a connection may hold between calls, whatever the viewer sends.
BUFFER_BOUND = (
    max(
        MAX_CUT_TEXT + 8,
        streams.MAX_DATA + 11,
        MAX_EARLY_INPUT,
        4 + 4 * MAX_ENCODINGS,
        8 + 16 * 255,
    )
    + 64
)
TLS_BOUND = vencrypt.MAX_TLS_PENDING


def challenge(n: int) -> bytes:
    return CHALLENGE[:n]


@cache
def tls_material() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context (certificate made now) and a client context trusting it."""
    from certs import make_certs  # tests/ is on the path (pytest, or the atheris harness)

    files = make_certs(Path(tempfile.mkdtemp(prefix="vncterm-fuzz-")))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(files.server_cert), str(files.server_key))
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=str(files.ca))
    return server, client


@cache
def tls_security() -> SecurityConfig:
    # cheap scrypt parameters: the fuzzers reach the Plain check thousands of times
    line = "u:" + vencrypt.hash_password(b"p", b"fuzz-salt-012345", n=2, r=1, p=1)
    return SecurityConfig(
        password=b"pw", tls_context=tls_material()[0], plain_users=vencrypt.parse_users(line)
    )


class TlsPeer:
    """The viewer's TLS end, over memory buffers."""

    def __init__(self) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = tls_material()[1].wrap_bio(
            self.incoming, self.outgoing, server_hostname="localhost"
        )

    def pump(self, data: bytes) -> bytes:
        self.incoming.write(data)
        try:
            self.obj.do_handshake()
            while self.obj.read(65536):
                pass
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def wrap(self, plain: bytes) -> bytes:
        if plain:
            self.obj.write(plain)
        return self.outgoing.read()


@dataclass
class Fuzzable:
    """A connection in a given state and how to turn fuzz bytes into what it receives."""

    conn: ServerConnection
    wrap: Callable[[bytes], bytes]  # plaintext -> wire bytes (identity before TLS)


def _plain(security: SecurityConfig | None, prefix: bytes) -> Fuzzable:
    conn = ServerConnection(security, random_bytes=challenge)
    feed(conn, [prefix])
    return Fuzzable(conn, lambda b: b)


def _tls(plaintext_prefix: bytes) -> Fuzzable:
    conn = ServerConnection(tls_security(), random_bytes=challenge)
    peer = TlsPeer()
    feed(conn, [b"RFB 003.008\n\x13\x00\x02" + struct.pack(">I", vencrypt.X509_PLAIN)])
    wire = peer.pump(b"")  # the ClientHello
    for _ in range(6):
        answer: list[bytes] = []
        feed(conn, [wire], answer)
        wire = peer.pump(b"".join(answer))
        if not wire:
            break
    assert conn.state is State.PLAIN_AUTH, conn.state
    feed(conn, [peer.wrap(plaintext_prefix)])
    return Fuzzable(conn, peer.wrap)


def _pre_tls_start() -> Fuzzable:
    return _plain(tls_security(), b"RFB 003.008\n\x13\x00\x02" + struct.pack(">I", 262))


_PLAIN_OK = struct.pack(">II", 1, 1) + b"up"
_VNC = SecurityConfig(b"pw", b"ro")

#: State name -> a builder of a fresh connection in that state.
STATES: dict[str, Callable[[], Fuzzable]] = {
    "version": lambda: _plain(None, b""),
    "security_choice": lambda: _plain(_VNC, b"RFB 003.008\n"),
    "vnc_auth_response": lambda: _plain(_VNC, b"RFB 003.007\n\x02"),
    "client_init": lambda: _plain(_VNC, b"RFB 003.008\n\x02" + auth.vnc_response(b"pw", CHALLENGE)),
    "normal": lambda: _plain(None, b"RFB 003.008\n\x01\x01"),
    "normal_rfb33": lambda: _plain(None, b"RFB 003.003\n\x00"),
    "vencrypt_version": lambda: _plain(tls_security(), b"RFB 003.008\n\x13"),
    "vencrypt_subtype": lambda: _plain(tls_security(), b"RFB 003.008\n\x13\x00\x02"),
    "tls_handshake": _pre_tls_start,
    "plain_auth": lambda: _tls(b""),
    "tls_normal": lambda: _tls(_PLAIN_OK + b"\x01"),
}


def feed(
    conn: ServerConnection, chunks: Iterable[bytes], sent: list[bytes] | None = None
) -> list[events.Event]:
    """Feed ``chunks`` like the server's viewer does; check the contract after each. What the
    connection answers is appended to ``sent``."""
    out: list[events.Event] = []
    for chunk in chunks:
        try:
            evs = conn.receive_data(chunk)
            while evs:
                out += evs
                if any(isinstance(e, events.ClientInit) for e in evs):
                    conn.send_server_init(720, 450, "fuzz")
                for e in evs:
                    if isinstance(e, events.PlainCredentials):  # the server checks off-loop
                        users = conn.security.plain_users or {}
                        out.append(
                            conn.plain_checked(vencrypt.check_plain(users, e.user, e.password))
                        )
                evs = conn.receive_data(b"") if conn.has_buffered_input else []
        except ProtocolError:
            assert conn.state is State.CLOSED
            assert conn.receive_data(b"more") == []
        answer = conn.data_to_send()
        if sent is not None:
            sent.append(answer)
        if conn.state is State.CLOSED:
            return out
        assert len(conn._in) <= BUFFER_BOUND + len(chunk), (conn.state, len(conn._in))
        tls = conn._tls
        if tls is not None:
            assert tls._incoming.pending <= TLS_BOUND + len(chunk)
    return out


def run_one(state: str, data: bytes, cuts: list[int], tamper: int | None = None) -> None:
    """One fuzz case: ``data`` (plaintext; encrypted for the TLS states) cut at ``cuts``;
    ``tamper`` flips a byte of the wire form (ciphertext for the TLS states)."""
    target = STATES[state]()
    wire = target.wrap(data)
    if tamper is not None and wire:
        i = tamper % len(wire)
        wire = wire[:i] + bytes([wire[i] ^ 0x5A]) + wire[i + 1 :]
    pieces, prev = [], 0
    for cut in sorted({c for c in cuts if 0 < c < len(wire)}) + [len(wire)]:
        pieces.append(wire[prev:cut])
        prev = cut
    feed(target.conn, pieces)
