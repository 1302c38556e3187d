"""VeNCrypt (RFB security type 19, rfbproto section 7.2.19 "VeNCrypt") without I/O.

The server offers VeNCrypt version 0.2, then a list of U32 sub-types; after the viewer picks one
and the server acknowledges it with a U8 1, the TLS sub-types run a TLS handshake and every later
byte of the connection travels inside TLS. The TLS session here is an :class:`ssl.SSLObject` over
two :class:`ssl.MemoryBIO`: bytes the viewer sent ahead of the handshake (its ClientHello right
behind its sub-type choice) go into the incoming BIO, so nothing read ahead is lost.

Sub-types (section 7.2.19, VeNCrypt 0.2 numbers):

=====  =========  ===============================================================
 257   TLSNone    anonymous TLS, then as security None (section 7.2.1)
 258   TLSVnc     anonymous TLS, then VNC Authentication (section 7.2.2)
 260   X509None   TLS with the server's certificate, then as security None
 261   X509Vnc    TLS with the server's certificate, then VNC Authentication
 262   X509Plain  TLS with the server's certificate, then Plain: U32 user length,
                  U32 password length, user, password; then SecurityResult
=====  =========  ===============================================================

Anonymous TLS needs cipher suites without authentication (``aNULL``), which only TLS 1.2 has
and which OpenSSL 3 allows at ``@SECLEVEL=0`` only: :func:`anonymous_context` builds such a
context, and the owner decides whether to offer it.

The Plain user list holds password *hashes* (:func:`hash_password`, :func:`verify_password`):
``scrypt$N$r$p$SALT$HASH`` with SALT and HASH in unpadded URL-safe base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import struct
from collections.abc import Mapping

from ..errors import ProtocolError
from ..users import PlainUser
from .constants import VeNCryptSubtype

VERSION = (0, 2)
#: The server's U8 answers to the viewer's version and to its sub-type choice.
VERSION_OK, VERSION_REFUSED = 0, 0xFF
SUBTYPE_OK, SUBTYPE_REFUSED = 1, 0

TLS_NONE = VeNCryptSubtype.TLS_NONE
TLS_VNC = VeNCryptSubtype.TLS_VNC
TLS_PLAIN = VeNCryptSubtype.TLS_PLAIN
X509_NONE = VeNCryptSubtype.X509_NONE
X509_VNC = VeNCryptSubtype.X509_VNC
X509_PLAIN = VeNCryptSubtype.X509_PLAIN

NAMES: dict[int, str] = {
    TLS_NONE: "TLSNone",
    TLS_VNC: "TLSVnc",
    TLS_PLAIN: "TLSPlain",
    X509_NONE: "X509None",
    X509_VNC: "X509Vnc",
    X509_PLAIN: "X509Plain",
}
ANONYMOUS: frozenset[int] = frozenset({TLS_NONE, TLS_VNC, TLS_PLAIN})
PLAIN: frozenset[int] = frozenset({TLS_PLAIN, X509_PLAIN})
VNC: frozenset[int] = frozenset({TLS_VNC, X509_VNC})

#: Caps on the Plain credentials a viewer may make us read (section 7.2.19, Plain).
MAX_USER = 255
MAX_PASSWORD = 1024
#: Unparsed ciphertext we hold at most (a TLS record is at most 16 KiB plus overhead).
MAX_TLS_PENDING = 64 * 1024

_PLAIN_HEADER = struct.Struct(">II")


def subtype_list(subtypes: tuple[int, ...]) -> bytes:
    """The VeNCrypt 0.2 sub-type list: U8 count, U32 each."""
    return bytes([len(subtypes)]) + b"".join(struct.pack(">I", t) for t in subtypes)


def parse_plain(buf: bytes | bytearray) -> tuple[int, str, bytes] | None:
    """Plain credentials at the start of ``buf``: (bytes used, user, password), or None if not
    all there yet. Lengths are capped before anything is read."""
    if len(buf) < 8:
        return None
    ulen, plen = _PLAIN_HEADER.unpack_from(buf)
    if ulen > MAX_USER or plen > MAX_PASSWORD:
        raise ProtocolError(
            f"Plain credentials too long ({ulen}/{plen} bytes; limits {MAX_USER}/{MAX_PASSWORD})"
        )
    end = 8 + ulen + plen
    if len(buf) < end:
        return None
    user = bytes(buf[8 : 8 + ulen]).decode("utf-8", "replace")
    return end, user, bytes(buf[8 + ulen : end])


def plain_credentials(user: str, password: bytes) -> bytes:
    """What a client sends for Plain: U32 user length, U32 password length, user, password.
    Raises ValueError past the lengths a server reads (:data:`MAX_USER`, :data:`MAX_PASSWORD`).
    """
    name = user.encode()
    if len(name) > MAX_USER or len(password) > MAX_PASSWORD:
        raise ValueError(
            f"Plain user name or password too long (limits {MAX_USER}/{MAX_PASSWORD} bytes)"
        )
    return _PLAIN_HEADER.pack(len(name), len(password)) + name + password


def client_choice(offered: tuple[int, ...], have_user: bool) -> int:
    """The X509 sub-type a client picks from the server's list (strongest first): Plain when
    it has a user name, VNC Authentication, or None. Anonymous TLS is never picked: it does not
    prove who the server is. Raises ValueError saying what is missing."""
    for subtype in offered:
        if (subtype == X509_PLAIN and have_user) or subtype in (X509_VNC, X509_NONE):
            return subtype
    names = ", ".join(NAMES.get(t, str(t)) for t in offered) or "nothing"
    if X509_PLAIN in offered:
        raise ValueError(f"the server offers {names}: X509Plain needs a user name")
    raise ValueError(
        f"the server offers {names}: only anonymous TLS, which does not prove who "
        "the server is (the X509 sub-types do)"
    )


class TLSLayer:
    """A server-side TLS session fed and drained through memory buffers.

    ``feed`` takes ciphertext from the viewer and returns the plaintext it completes (empty
    while the handshake runs); ``encrypt`` queues plaintext for the viewer; ``take_output``
    returns the ciphertext to send. TLS failures raise :class:`ssl.SSLError` to the caller.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.handshake_done = False
        #: Set once the peer sent its close_notify (the TLS session is over).
        self.peer_closed = False

    def feed(self, data: bytes) -> bytes:
        if data:
            self._incoming.write(data)
        if not self.handshake_done:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                self._check_pending()
                return b""
            self.handshake_done = True
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self.obj.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            if not chunk:  # the peer's close_notify (read() gives b"" after it)
                self.peer_closed = True
                break
            chunks.append(chunk)
        self._check_pending()
        return b"".join(chunks)

    def _check_pending(self) -> None:
        # whatever is left is less than one record; more means the peer is not speaking TLS
        if self._incoming.pending > MAX_TLS_PENDING:
            raise ProtocolError("viewer sent too much unparsable TLS data")

    def close(self) -> None:
        """Queue our close_notify (the answer to the peer's, RFC 8446 section 6.1)."""
        try:
            self.obj.unwrap()
        except ssl.SSLError:
            pass  # the alert is queued; not waiting for the peer's is fine

    def encrypt(self, data: bytes) -> None:
        if data:
            self.obj.write(data)

    def take_output(self) -> bytes:
        return self._outgoing.read()

    def describe(self) -> str:
        """Protocol and cipher, for logs."""
        cipher = self.obj.cipher()
        return f"{self.obj.version()} {cipher[0] if cipher else '?'}"


def without_session_tickets(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """Make a VeNCrypt server context send no TLS 1.3 session tickets; returns ``ctx``.

    In TLS 1.3 the tickets (NewSessionTicket) come after the handshake, in the same flight as
    the first bytes of VNC (the SecurityResult, or the VNC Authentication challenge). GnuTLS
    answers ``gnutls_record_recv()`` with GNUTLS_E_AGAIN after handling such a message, even
    when the next record is already in its buffer, and TigerVNC before 1.13 (Debian 12 ships
    1.12) took that for "the socket is empty": it waited on the socket for bytes that had
    already arrived, and the handshake stalled until the server's timeout. No VNC viewer
    resumes TLS sessions, so the tickets are of no use here anyway. TLS 1.2 tickets are sent
    inside the handshake and are not affected.
    """
    ctx.num_tickets = 0
    return ctx


def anonymous_context() -> ssl.SSLContext | None:
    """A server context for anonymous TLS (TLSNone/TLSVnc), or None when this OpenSSL build
    refuses ``aNULL`` suites (checked by listing the ciphers the context would offer)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # anonymous suites do not exist in TLS 1.3
    try:
        ctx.set_ciphers("aNULL:!eNULL:@SECLEVEL=0")
    except ssl.SSLError:
        return None
    if not any("ADH" in c["name"] or "AECDH" in c["name"] for c in ctx.get_ciphers()):
        return None
    return ctx


# -- password hashes for Plain --------------------------------------------------------------------

SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(
    password: bytes, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> str:
    """``scrypt$N$r$p$SALT$HASH`` (hashlib.scrypt, 32-byte key). The caller supplies the salt
    (16 random bytes) so that this module stays free of I/O."""
    key = hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + (1 << 20), dklen=32
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def check_hash_format(encoded: str) -> None:
    """Raise ValueError unless ``encoded`` is a hash :func:`verify_password` understands."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a scrypt$N$r$p$SALT$HASH password hash")
    n, r, p = (int(x) for x in parts[1:4])
    if n < 2 or n & (n - 1) or n > 1 << 20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    _unb64(parts[4])
    if len(_unb64(parts[5])) != 32:
        raise ValueError("scrypt hash must be 32 bytes")


def verify_password(password: bytes, encoded: str) -> bool:
    """True when ``password`` matches ``encoded`` (constant-time comparison)."""
    _, n, r, p, salt, key = encoded.split("$")
    again = hash_password(password, _unb64(salt), int(n), int(r), int(p))
    return hmac.compare_digest(again.rsplit("$", 1)[1], key)


#: Verified against when the user is unknown, so that the answer takes as long either way.
DUMMY_HASH = hash_password(b"", b"vncterm-dummy-salt")


def parse_users(text: str) -> dict[str, PlainUser]:
    """The ``--plain-users`` file: ``NAME:HASH[:view-only]`` per line; ``#`` comments and blank
    lines are ignored. Raises ValueError naming the bad line."""
    users: dict[str, PlainUser] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) not in (2, 3) or not fields[0]:
            raise ValueError(f"line {number}: expected NAME:HASH or NAME:HASH:view-only")
        name, hashed = fields[0], fields[1]
        flags = (
            {f.strip() for f in fields[2].split(",") if f.strip()} if len(fields) == 3 else set()
        )
        unknown = flags - {"view-only"}
        if unknown:
            raise ValueError(f"line {number}: unknown flag(s) {', '.join(sorted(unknown))}")
        try:
            check_hash_format(hashed)
        except ValueError as e:
            raise ValueError(f"line {number}: {e}") from None
        if name in users:
            raise ValueError(f"line {number}: user {name!r} listed twice")
        users[name] = PlainUser(name, hashed, "view-only" in flags)
    return users


def check_plain(users: Mapping[str, PlainUser], user: str, password: bytes) -> PlainUser | None:
    """The user entry when ``user``/``password`` are valid; None otherwise (same work either
    way)."""
    entry = users.get(user)
    ok = verify_password(password, entry.password_hash if entry else DUMMY_HASH)
    return entry if ok and entry is not None else None
