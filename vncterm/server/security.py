"""Who may connect: TLS contexts, the Plain user file, blocking after failed authentication, the
viewer limit.

Blocking schedule (per address; unix-socket viewers share one key per socket path): the first
:data:`BLOCK_THRESHOLD` - 1 consecutive failures cost nothing; the failure that reaches the
threshold blocks the address for :data:`BLOCK_BASE` seconds, and every further failure after a
block doubles it (10 s, 20 s, 40 s, ... at most :data:`BLOCK_CAP`, one hour). A successful
authentication clears the record; a record is forgotten one cap period after its block ends. A
blocked address is refused the spec's way (RFB section 7.1.2: zero security types and a reason),
and a connection from it that was already past the refusal point is dropped if it then succeeds.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..rfb import vencrypt
from .audit import AuditLog

if TYPE_CHECKING:
    from .viewer import Viewer

log = logging.getLogger(__name__)

BLOCK_THRESHOLD = 3
BLOCK_BASE = 10.0
BLOCK_CAP = 3600.0
#: Records kept at most (expired ones are pruned first, then the oldest).
MAX_RECORDS = 10000


def tls_context(cert: str, key: str | None, ca: str | None) -> ssl.SSLContext:
    """The X509 server context: TLS 1.2 or later, the certificate chain from ``cert`` (and
    ``key``), client certificates required and checked against ``ca`` when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        if ca is not None:
            ctx.load_verify_locations(cafile=ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot load TLS certificate/key/CA: {e}") from None
    return ctx


def anonymous_tls_context() -> ssl.SSLContext:
    """The anonymous-TLS context, or ConfigError when this OpenSSL has no anonymous suites."""
    ctx = vencrypt.anonymous_context()
    if ctx is None:
        raise ConfigError(f"{ssl.OPENSSL_VERSION} offers no anonymous TLS cipher suites "
                          "(TLSNone/TLSVnc): use --tls-cert")
    return ctx


def read_users_file(path: str) -> dict[str, vencrypt.PlainUser]:
    """The ``--plain-users`` file (format in :func:`vncterm.rfb.vencrypt.parse_users`)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read users file: {e}") from None
    try:
        users = vencrypt.parse_users(text)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    if not users:
        raise ConfigError(f"users file {path} lists no user")
    return users


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0


class AuthBlocker:
    """Counts authentication failures per address and blocks for a growing time."""

    def __init__(self, threshold: int = BLOCK_THRESHOLD, base: float = BLOCK_BASE,
                 cap: float = BLOCK_CAP, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.base = base
        self.cap = cap
        self.clock = clock
        self._records: dict[str, _Record] = {}

    def blocked_for(self, key: str) -> float:
        """Seconds ``key`` stays blocked (0 when it may try)."""
        rec = self._records.get(key)
        if rec is None:
            return 0.0
        now = self.clock()
        if now > rec.blocked_until + self.cap:
            del self._records[key]
            return 0.0
        return max(0.0, rec.blocked_until - now)

    def failed(self, key: str) -> float:
        """Record a failure; returns the block it starts (0 for none)."""
        self.blocked_for(key)  # forget a stale record first
        rec = self._records.setdefault(key, _Record())
        rec.failures += 1
        if rec.failures < self.threshold:
            return 0.0
        duration = min(self.cap, self.base * float(2 ** min(rec.failures - self.threshold, 32)))
        rec.blocked_until = max(rec.blocked_until, self.clock() + duration)
        self._prune()
        return duration

    def succeeded(self, key: str) -> None:
        self._records.pop(key, None)

    def _prune(self) -> None:
        if len(self._records) <= MAX_RECORDS:
            return
        now = self.clock()
        for k in [k for k, r in self._records.items() if r.blocked_until < now]:
            del self._records[k]
        while len(self._records) > MAX_RECORDS:
            del self._records[next(iter(self._records))]


class Gatekeeper:
    """Admission for one server: blocked addresses, the viewer limit, the audit log, and the
    set of open connections (handshaking ones included)."""

    def __init__(self, blocker: AuthBlocker | None = None, max_viewers: int | None = None,
                 audit: AuditLog | None = None, stuck_timeout: float = 20.0) -> None:
        self.blocker = blocker or AuthBlocker()
        self.max_viewers = max_viewers
        self.audit = audit
        self.stuck_timeout = stuck_timeout
        self.connections: set[Viewer] = set()

    def admit(self, viewer: Viewer) -> str | None:
        """Register a new connection; the reason to refuse it, or None."""
        self.connections.add(viewer)
        wait = self.blocker.blocked_for(viewer.address_key)
        if wait > 0:
            return (f"too many authentication failures from this address: "
                    f"try again in {int(wait) + 1} s")
        if self.max_viewers is not None and len(self.connections) > self.max_viewers:
            return f"too many viewers (at most {self.max_viewers})"
        return None

    def release(self, viewer: Viewer) -> None:
        self.connections.discard(viewer)

    def auth_failed(self, viewer: Viewer) -> float:
        duration = self.blocker.failed(viewer.address_key)
        if duration:
            log.warning("%s: address blocked for %.0f s after repeated authentication "
                        "failures", viewer, duration)
            if self.audit is not None:
                self.audit.record("blocked", str(viewer), address=viewer.address_key,
                                  seconds=duration)
        return duration

    def auth_succeeded(self, viewer: Viewer) -> str | None:
        """Clear the address's failures; the reason to drop it if it is blocked meanwhile."""
        wait = self.blocker.blocked_for(viewer.address_key)
        if wait > 0:
            return "address blocked after authentication failures on other connections"
        self.blocker.succeeded(viewer.address_key)
        return None
