"""VeNCrypt (RFB spec section 7.2.19): the sans-I/O core against Python's own TLS client, and the
running server against a real TLS peer, libvncclient built with GnuTLS."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from certs import CertFiles
from harness import RunningVncterm
from hypothesis import given, settings
from hypothesis import strategies as st
from peers import libvnc_tls
from rawclient import RawClient

from vncterm.errors import ProtocolError
from vncterm.rfb import auth, events, vencrypt
from vncterm.rfb.connection import SecurityConfig, ServerConnection, State
from vncterm.server.security import anonymous_tls_context, tls_context
from vncterm.users import PlainUser

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]
CHALLENGE = bytes(range(16))


def challenge(n: int) -> bytes:
    return CHALLENGE[:n]


@pytest.fixture(scope="module")
def users() -> dict[str, PlainUser]:
    lines = [
        f"alice:{vencrypt.hash_password(b'wonderland', b'salt-alice-01234')}",
        f"bob:{vencrypt.hash_password(b'builder', b'salt-bob-0123456')}:view-only",
    ]
    return vencrypt.parse_users("# users\n" + "\n".join(lines) + "\n")


# -- the sans-I/O core with Python's TLS client ----------------------------------------------------


class TlsViewer:
    """The viewer side of a VeNCrypt session, over memory buffers, for driving ServerConnection."""

    def __init__(
        self,
        ca: Path | None,
        cert: Path | None = None,
        key: Path | None = None,
        anonymous: bool = False,
    ) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if anonymous:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("aNULL:!eNULL:@SECLEVEL=0")
        else:
            ctx.load_verify_locations(cafile=str(ca))
            if cert is not None:
                ctx.load_cert_chain(str(cert), str(key))
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.plain = bytearray()
        self.error: ssl.SSLError | None = None

    def hello(self) -> bytes:
        with pytest.raises(ssl.SSLWantReadError):
            self.obj.do_handshake()
        return self.outgoing.read()

    def pump(self, from_server: bytes) -> bytes:
        """Ciphertext from the server in; ciphertext for the server out; plaintext collected."""
        self.incoming.write(from_server)
        try:
            self.obj.do_handshake()
            while True:
                self.plain += self.obj.read(65536)
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as e:  # the server refused us with an alert
            self.error = e
        return self.outgoing.read()

    def send(self, data: bytes) -> bytes:
        self.obj.write(data)
        return self.outgoing.read()


def vencrypt_until_tls(conn: ServerConnection, subtype: int) -> None:
    conn.receive_data(b"RFB 003.008\n")
    assert conn.data_to_send() == b"RFB 003.008\n\x01\x13"
    conn.receive_data(b"\x13")
    assert conn.data_to_send() == b"\x00\x02"
    conn.receive_data(b"\x00\x02")
    offered = conn.data_to_send()
    assert offered[:2] == b"\x00" + bytes([offered[1]])
    assert subtype in struct.unpack(f">{offered[1]}I", offered[2:])


def split_feed(conn: ServerConnection, data: bytes, cuts: list[int]) -> list[events.Event]:
    out: list[events.Event] = []
    prev = 0
    for cut in sorted({c for c in cuts if 0 < c < len(data)}) + [len(data)]:
        out += conn.receive_data(data[prev:cut])
        prev = cut
    return out


def run_tls(
    conn: ServerConnection, client: TlsViewer, first: bytes, cuts: list[int]
) -> list[events.Event]:
    """Drive the TLS handshake to the end, the server's bytes fed in pieces at ``cuts``."""
    evs = split_feed(conn, first, cuts)
    out = conn.data_to_send()
    assert out[:1] == b"\x01"  # the sub-type acknowledgement, in the clear
    out = out[1:]
    for _ in range(10):
        reply = client.pump(out)
        if reply:
            evs += split_feed(conn, reply, cuts)
        out = conn.data_to_send()
        if not reply and not out:
            break
    return evs


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 600), max_size=6))
def test_x509plain_in_memory_with_read_ahead_and_any_split(
    certs: CertFiles, users: dict[str, PlainUser], cuts: list[int]
) -> None:
    """The viewer's sub-type choice and ClientHello arrive in one piece (read ahead of the TLS
    upgrade) and then split anywhere: the same Authenticated event, and messages after it."""
    sec = SecurityConfig(
        tls_context=tls_context(str(certs.server_cert), str(certs.server_key), None),
        plain_users=users,
    )
    conn = ServerConnection(sec)
    vencrypt_until_tls(conn, vencrypt.X509_PLAIN)
    client = TlsViewer(certs.ca)
    evs = run_tls(conn, client, struct.pack(">I", vencrypt.X509_PLAIN) + client.hello(), cuts)
    assert conn.state is State.PLAIN_AUTH and client.plain == b""
    creds = struct.pack(">II", 5, 10) + b"alice" + b"wonderland"
    wire = client.send(creds + b"\x01" + struct.pack(">BBHHHH", 3, 0, 0, 0, 10, 10))
    evs += split_feed(conn, wire, cuts)
    assert evs == [events.PlainCredentials("alice", b"wonderland")]  # checked by the owner
    assert conn.state is State.PLAIN_CHECK and "wonderland" not in repr(evs)
    evs = [conn.plain_checked(vencrypt.check_plain(users, "alice", b"wonderland"))]
    evs += conn.receive_data(b"")  # ClientInit and the request, held while checking
    assert evs[:2] == [
        events.Authenticated(19, view_only=False, subtype=262, user="alice"),
        events.ClientInit(shared=True),
    ]
    conn.send_server_init(720, 450, "tls")
    evs = conn.receive_data(b"")
    assert isinstance(evs[0], events.FramebufferUpdateRequest)
    client.pump(conn.data_to_send())
    assert bytes(client.plain[:4]) == struct.pack(">I", 0)  # SecurityResult OK, encrypted
    assert bytes(client.plain[4:8]) == struct.pack(">HH", 720, 450)
    assert conn.tls_info is not None and "TLS" in conn.tls_info


def test_plain_view_only_user_and_wrong_password(
    certs: CertFiles, users: dict[str, PlainUser]
) -> None:
    sec = SecurityConfig(
        tls_context=tls_context(str(certs.server_cert), str(certs.server_key), None),
        plain_users=users,
    )
    for user, password, expected in (
        (b"bob", b"builder", events.Authenticated(19, view_only=True, subtype=262, user="bob")),
        (
            b"alice",
            b"wrong",
            events.AuthenticationFailed("Authentication failed", user="alice", subtype=262),
        ),
        (
            b"nobody",
            b"x",
            events.AuthenticationFailed("Authentication failed", user="nobody", subtype=262),
        ),
    ):
        conn = ServerConnection(sec)
        vencrypt_until_tls(conn, vencrypt.X509_PLAIN)
        client = TlsViewer(certs.ca)
        assert run_tls(conn, client, struct.pack(">I", 262) + client.hello(), []) == []
        creds = struct.pack(">II", len(user), len(password)) + user + password
        assert conn.receive_data(client.send(creds)) == [
            events.PlainCredentials(user.decode(), password)
        ]
        entry = vencrypt.check_plain(users, user.decode(), password)
        assert conn.plain_checked(entry) == expected
        client.pump(conn.data_to_send())
        if isinstance(expected, events.Authenticated):
            assert conn.view_only and bytes(client.plain) == bytes(4)
        else:
            reason = b"Authentication failed"
            assert bytes(client.plain) == struct.pack(">II", 1, len(reason)) + reason
            assert conn.state is State.CLOSED


def test_client_certificate_required(certs: CertFiles) -> None:
    """With a CA, X509None needs a client certificate from it: without one, or with one from
    another CA, the handshake fails and that is an authentication failure."""
    sec = SecurityConfig(
        tls_context=tls_context(str(certs.server_cert), str(certs.server_key), str(certs.ca))
    )
    assert sec.vencrypt_subtypes == (vencrypt.X509_NONE,)
    for cert, key, ok in (
        (certs.client_cert, certs.client_key, True),
        (certs.rogue_cert, certs.rogue_key, False),
        (None, None, False),
    ):
        conn = ServerConnection(sec)
        vencrypt_until_tls(conn, vencrypt.X509_NONE)
        client = TlsViewer(certs.ca, cert, key)
        evs = run_tls(conn, client, struct.pack(">I", 260) + client.hello(), [])
        if ok:
            assert evs == [events.Authenticated(19, view_only=False, subtype=260)]
            assert bytes(client.plain) == bytes(4)  # SecurityResult OK (3.8)
        else:
            assert len(evs) == 1 and isinstance(evs[0], events.AuthenticationFailed)
            assert "TLS handshake failed" in evs[0].reason
            assert conn.state is State.CLOSED


def test_close_notify_is_answered_and_ends_the_connection(certs: CertFiles) -> None:
    """A viewer that ends its TLS session cleanly gets our close_notify back (its TLS library
    may wait for it), after the messages it sent before; the connection is then over."""
    sec = SecurityConfig(
        tls_context=vencrypt.without_session_tickets(
            tls_context(str(certs.server_cert), str(certs.server_key), None)
        )
    )
    conn = ServerConnection(sec)
    vencrypt_until_tls(conn, vencrypt.X509_NONE)
    client = TlsViewer(certs.ca)
    run_tls(conn, client, struct.pack(">I", 260) + client.hello(), [])
    init = client.send(b"\x01")
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.unwrap()  # our close_notify goes out; the server's is awaited
    evs = conn.receive_data(init + client.outgoing.read())
    assert evs == [events.ClientInit(shared=True), events.TLSClosed()]
    assert conn.state is State.CLOSED
    client.incoming.write(conn.data_to_send())
    client.obj.unwrap()  # the server's close_notify arrived: no SSLWantReadError
    assert conn.receive_data(b"more") == []


def test_anonymous_tls_vnc_auth_in_memory() -> None:
    sec = SecurityConfig(password=b"secret", anon_tls_context=anonymous_tls_context())
    assert sec.types == (19,) and sec.vencrypt_subtypes == (vencrypt.TLS_VNC,)
    conn = ServerConnection(sec, random_bytes=challenge)
    vencrypt_until_tls(conn, vencrypt.TLS_VNC)
    client = TlsViewer(None, anonymous=True)
    assert run_tls(conn, client, struct.pack(">I", 258) + client.hello(), []) == []
    assert bytes(client.plain) == CHALLENGE
    evs = conn.receive_data(client.send(auth.vnc_response(b"secret", CHALLENGE)))
    assert evs == [events.Authenticated(19, view_only=False, subtype=258)]
    assert "AECDH" in (conn.tls_info or "") or "ADH" in (conn.tls_info or "")


def test_vencrypt_negotiation_errors_and_rfb33_refusal(certs: CertFiles) -> None:
    sec = SecurityConfig(
        password=b"pw", tls_context=tls_context(str(certs.server_cert), str(certs.server_key), None)
    )
    conn = ServerConnection(sec, random_bytes=challenge)
    conn.receive_data(b"RFB 003.008\n\x13")
    conn.data_to_send()
    with pytest.raises(ProtocolError, match=r"VeNCrypt version 0\.1"):
        conn.receive_data(b"\x00\x01")
    assert conn.data_to_send() == b"\xff"
    conn = ServerConnection(sec, random_bytes=challenge)
    conn.receive_data(b"RFB 003.008\n\x13\x00\x02")
    conn.data_to_send()
    with pytest.raises(ProtocolError, match="sub-type 256 was not offered"):
        conn.receive_data(struct.pack(">I", 256))
    assert conn.data_to_send() == b"\x00"
    # an RFB 3.3 viewer cannot choose VeNCrypt: refused with a reason, the spec's way
    conn = ServerConnection(sec, random_bytes=challenge)
    evs = conn.receive_data(b"RFB 003.003\n")
    assert len(evs) == 1 and isinstance(evs[0], events.Refused)
    out = conn.data_to_send()[12:]
    assert out[:4] == bytes(4) and b"VeNCrypt" in out[8:]


def test_not_tls_after_the_upgrade_is_an_authentication_failure(certs: CertFiles) -> None:
    sec = SecurityConfig(
        tls_context=tls_context(str(certs.server_cert), str(certs.server_key), str(certs.ca))
    )
    conn = ServerConnection(sec)
    vencrypt_until_tls(conn, vencrypt.X509_NONE)
    evs = conn.receive_data(struct.pack(">I", 260) + b"GET / HTTP/1.1\r\n\r\n")
    assert len(evs) == 1 and isinstance(evs[0], events.AuthenticationFailed)
    assert conn.state is State.CLOSED
    assert conn.data_to_send().startswith(b"\x01")  # the ack, then a TLS alert


def test_users_file_format_and_hash() -> None:
    line = vencrypt.hash_password(b"pw", b"0123456789abcdef")
    assert line.startswith("scrypt$16384$8$1$")
    assert vencrypt.verify_password(b"pw", line) and not vencrypt.verify_password(b"pW", line)
    users = vencrypt.parse_users(f"a:{line}\n\n# c\nb:{line}:view-only\n")
    assert not users["a"].view_only and users["b"].view_only
    for bad in (f"a:{line}:admin", "a:plain-text-password", f"a:{line}\na:{line}", f":{line}"):
        with pytest.raises(ValueError, match="line"):
            vencrypt.parse_users(bad)


# -- the running server against libvncclient (GnuTLS) ----------------------------------------------


@pytest.fixture
def tls_server(
    request: pytest.FixtureRequest, certs: CertFiles, users: dict[str, PlainUser]
) -> Iterator[RunningVncterm]:
    options = dict(request.param)
    if options.pop("x509", True):
        options.update(tls_cert=str(certs.server_cert), tls_key=str(certs.server_key))
    if options.pop("ca", False):
        options["tls_ca"] = str(certs.ca)
    if options.pop("plain", False):
        options["plain_users"] = users
    with RunningVncterm(SHELL, **options) as server:
        server.wait_text("$")
        yield server


def keysyms(text: str) -> list[int]:
    return [0xFF0D if c == "\r" else ord(c) for c in text]


def assert_same_screen(result: libvnc_tls.TlsResult, server: RunningVncterm) -> None:
    assert result.ok, result.log
    assert result.framebuffer is not None
    expected = server.framebuffer()
    assert result.framebuffer.shape == expected.shape
    assert np.array_equal(result.framebuffer, expected)


@pytest.mark.parametrize("tls_server", [{"password": b"secret"}], indirect=True)
def test_libvncclient_x509vnc(tls_server: RunningVncterm, certs: CertFiles) -> None:
    r = libvnc_tls.connect(
        tls_server.port,
        ca=certs.ca,
        password="secret",
        keys=keysyms("echo x509-$((6*7))\r"),
        min_updates=2,
    )
    assert r.ok and r.subauth == vencrypt.X509_VNC, r.log
    tls_server.wait_text("x509-42")
    bad = libvnc_tls.connect(tls_server.port, ca=certs.ca, password="wrong")
    assert not bad.ok and "Authentication failed" in bad.log
    # a viewer that does not trust the server's CA refuses it (libvncclient checks the chain)
    untrusted = libvnc_tls.connect(tls_server.port, ca=certs.rogue_cert, password="secret")
    assert not untrusted.ok and "TLS handshake failed" in untrusted.log
    final = libvnc_tls.connect(tls_server.port, ca=certs.ca, password="secret", quiet_ms=500)
    assert_same_screen(final, tls_server)


@pytest.mark.parametrize("tls_server", [{"plain": True}], indirect=True)
def test_libvncclient_x509plain_and_view_only_user(
    tls_server: RunningVncterm, certs: CertFiles
) -> None:
    r = libvnc_tls.connect(
        tls_server.port,
        ca=certs.ca,
        user="alice",
        password="wonderland",
        keys=keysyms("echo plain-$((2*21))\r"),
        min_updates=2,
    )
    assert r.ok and r.subauth == vencrypt.X509_PLAIN, r.log
    tls_server.wait_text("plain-42")
    watcher = libvnc_tls.connect(
        tls_server.port,
        ca=certs.ca,
        user="bob",
        password="builder",
        keys=keysyms("echo typed-by-bob\r"),
        quiet_ms=500,
    )
    assert watcher.ok, watcher.log
    assert_same_screen(watcher, tls_server)  # bob sees the screen...
    after = libvnc_tls.connect(
        tls_server.port,
        ca=certs.ca,
        user="alice",
        password="wonderland",
        keys=keysyms("echo after-bob\r"),
    )
    assert after.ok, after.log
    lines = tls_server.wait_text("after-bob")
    assert not any("typed-by-bob" in line for line in lines)  # ...but cannot type
    wrong = libvnc_tls.connect(tls_server.port, ca=certs.ca, user="alice", password="nope")
    assert not wrong.ok


@pytest.mark.parametrize("tls_server", [{"ca": True}], indirect=True)
def test_libvncclient_x509none_with_client_certificates(
    tls_server: RunningVncterm, certs: CertFiles
) -> None:
    r = libvnc_tls.connect(
        tls_server.port, ca=certs.ca, cert=certs.client_cert, key=certs.client_key, quiet_ms=500
    )
    assert r.ok and r.subauth == vencrypt.X509_NONE, r.log
    assert_same_screen(r, tls_server)
    for cert, key in ((None, None), (certs.rogue_cert, certs.rogue_key)):
        refused = libvnc_tls.connect(tls_server.port, ca=certs.ca, cert=cert, key=key)
        assert not refused.ok, refused.log


@pytest.mark.parametrize(
    "tls_server",
    [{"x509": False, "tls_anon": True, "password": b"pw"}, {"x509": False, "tls_anon": True}],
    indirect=True,
)
def test_libvncclient_anonymous_tls(tls_server: RunningVncterm) -> None:
    """TLSVnc / TLSNone: OpenSSL 3 still offers anonymous ECDH suites at security level 0
    (TLS 1.2 only); GnuTLS asks for them with +ANON-ECDH."""
    password = "pw" if tls_server.config.password else None
    r = libvnc_tls.connect(tls_server.port, password=password, quiet_ms=500)
    assert r.ok, r.log
    assert r.subauth == (vencrypt.TLS_VNC if password else vencrypt.TLS_NONE)
    assert_same_screen(r, tls_server)


# -- Plain over real sockets: checks off the event loop, and blocking ---------------------------


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, f"closed after {len(buf)} of {n} bytes"
        buf += chunk
    return buf


def x509plain_socket(port: int, ca: Path, source: str = "127.0.0.1") -> ssl.SSLSocket:
    """A VeNCrypt X509Plain connection (section 7.2.19) through its TLS handshake, ready for
    the Plain credentials."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(source, 0))
    assert recv_exact(s, 12) == b"RFB 003.008\n"
    s.sendall(b"RFB 003.008\n")
    assert recv_exact(s, 2) == b"\x01\x13"
    s.sendall(b"\x13")
    assert recv_exact(s, 2) == b"\x00\x02"
    s.sendall(b"\x00\x02")
    assert recv_exact(s, 1) == b"\x00"
    count = recv_exact(s, 1)[0]
    assert vencrypt.X509_PLAIN in struct.unpack(f">{count}I", recv_exact(s, 4 * count))
    s.sendall(struct.pack(">I", vencrypt.X509_PLAIN))
    assert recv_exact(s, 1) == b"\x01"
    ctx = ssl.create_default_context(cafile=str(ca))
    return ctx.wrap_socket(s, server_hostname="localhost")


def send_plain(s: socket.socket, user: bytes, password: bytes) -> None:
    s.sendall(struct.pack(">II", len(user), len(password)) + user + password)


def security_result(s: socket.socket) -> tuple[int, str]:
    (result,) = struct.unpack(">I", recv_exact(s, 4))
    if result == 0:
        return 0, ""
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    return result, recv_exact(s, n).decode()


@pytest.mark.slow
@pytest.mark.parametrize("tls_server", [{"plain": True}], indirect=True)
def test_plain_storm_does_not_stop_the_event_loop(
    tls_server: RunningVncterm, certs: CertFiles
) -> None:
    """60 wrong Plain logins from 60 addresses at once (scrypt each): another viewer's key
    echo keeps coming back while they are checked, and each counts as a failure."""
    viewer_sock = x509plain_socket(tls_server.port, certs.ca)
    send_plain(viewer_sock, b"alice", b"wonderland")
    assert security_result(viewer_sock) == (0, "")
    viewer = RawClient.secured(viewer_sock)
    viewer.update(incremental=False)
    storm = [
        x509plain_socket(tls_server.port, certs.ca, source=f"127.0.1.{i + 1}") for i in range(60)
    ]
    echoes: list[float] = []
    stop = threading.Event()

    def type_and_watch() -> None:
        keys = [ord("x"), 0xFF08]  # x, BackSpace: the screen changes and changes back
        while not stop.is_set():
            key = keys[len(echoes) % 2]
            viewer.sock.sendall(struct.pack(">BBxxI", 4, 1, key) + struct.pack(">BBxxI", 4, 0, key))
            viewer.update()  # an update comes once the echo is on the screen
            echoes.append(time.monotonic())

    typist = threading.Thread(target=type_and_watch, daemon=True)
    typist.start()
    time.sleep(0.3)
    start = time.monotonic()
    for s in storm:
        send_plain(s, b"alice", b"not-the-password")
    results = [security_result(s) for s in storm]
    end = time.monotonic()
    stop.set()
    typist.join(timeout=10)
    for s in storm:
        s.close()
    viewer.close()
    assert results == [(1, "Authentication failed")] * 60
    during = [t for t in echoes if start <= t <= end]
    gaps = [b - a for a, b in zip([start, *during], [*during, end], strict=True)]
    print(
        f"storm of 60 Plain checks: {end - start:.2f} s; {len(during)} key echoes during it; "
        f"longest wait for one {max(gaps):.2f} s"
    )
    assert len(during) >= 5  # the event loop kept serving (inline scrypt allowed ~1)
    assert tls_server.server is not None
    assert tls_server.call(lambda: len(tls_server.server.guard.blocker)) >= 60  # all counted


@pytest.mark.parametrize("tls_server", [{"plain": True}], indirect=True)
def test_plain_failures_block_and_refuse_pending_checks(
    tls_server: RunningVncterm, certs: CertFiles
) -> None:
    """Plain failures count for blocking; checks pending when the block starts are refused
    with its reason, the right password included (not checked, not counted)."""
    assert tls_server.server is not None
    blocker = tls_server.server.guard.blocker
    blocker.clock = lambda: time.monotonic() + 3 * 86400.0
    pending = [x509plain_socket(tls_server.port, certs.ca) for _ in range(10)]
    for i, s in enumerate(pending):
        send_plain(s, b"alice", b"wonderland" if i == len(pending) - 1 else b"guess")
    results = [security_result(s) for s in pending]
    for s in pending:
        s.close()
    assert results.count((1, "Authentication failed")) == blocker.threshold, results
    refused = [why for r, why in results if r == 1 and "too many authentication" in why]
    assert len(refused) == len(pending) - blocker.threshold
    assert results[-1][0] == 1  # the right password, but blocked
    assert 0 < blocker.blocked_for("127.0.0.1") <= blocker.base
