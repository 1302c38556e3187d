"""Who may connect: TLS contexts, the Plain user file, blocking after failed authentication, the
viewer limit.

Blocking schedule (per address; unix-socket viewers per peer uid, :func:`address_key`): the
first :data:`BLOCK_THRESHOLD` - 1 consecutive failures cost nothing; the failure that reaches the
threshold blocks the address for :data:`BLOCK_BASE` seconds, and every further failure after a
block doubles it (10 s, 20 s, 40 s, ... at most :data:`BLOCK_CAP`, one hour). A successful
authentication clears the record; a record is forgotten one cap period after its block ends (or
after its last failure, if it was never blocked). A blocked address is refused the spec's way
(RFB section 7.1.2: zero security types and a reason); a connection from it opened before the
block gets, at the moment its answer would be checked, a failed SecurityResult with the reason
(section 7.1.3) without any check: that neither counts as a failure nor clears the block.
At most :data:`MAX_RECORDS` addresses are remembered (see :class:`AuthBlocker`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..rfb import vencrypt
from ..users import PlainUser
from .audit import AuditLog

if TYPE_CHECKING:
    from .viewer_protocol import Peer

log = logging.getLogger(__name__)

BLOCK_THRESHOLD = 3
BLOCK_BASE = 10.0
BLOCK_CAP = 3600.0
#: Addresses remembered at most (see :class:`AuthBlocker` for what happens beyond).
MAX_RECORDS = 100_000
#: A full table is scanned for expired records at most this often (seconds).
SWEEP_INTERVAL = 10.0
#: Plain checks (scrypt) run at once, in worker threads, and checks waiting at most.
PLAIN_WORKERS = 2
PLAIN_QUEUE = 128

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid (Linux SO_PEERCRED)


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
        raise ConfigError(
            f"{ssl.OPENSSL_VERSION} offers no anonymous TLS cipher suites "
            "(TLSNone/TLSVnc): use --tls-cert"
        )
    return ctx


@dataclass(slots=True)
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0

    def expiry(self, cap: float) -> float:
        """When the record may be forgotten: one cap period after its block or last failure."""
        return max(self.blocked_until, self.last_failure) + cap


class AuthBlocker:
    """Counts authentication failures per address and blocks for a growing time.

    Records of addresses never blocked (``_fresh``, oldest first) are the only ones dropped to
    make room; a block is kept until it has expired, and while :data:`MAX_RECORDS` blocked
    addresses are remembered the table is :meth:`saturated`: the owner then refuses addresses it
    has no record of instead of forgetting a block.
    """

    def __init__(
        self,
        threshold: int = BLOCK_THRESHOLD,
        base: float = BLOCK_BASE,
        cap: float = BLOCK_CAP,
        clock: Callable[[], float] = time.monotonic,
        max_records: int = MAX_RECORDS,
    ) -> None:
        self.threshold = threshold
        self.base = base
        self.cap = cap
        self.clock = clock
        self.max_records = max_records
        self._fresh: dict[str, _Record] = {}
        self._blocked: dict[str, _Record] = {}
        self._swept: float | None = None

    def __len__(self) -> int:
        return len(self._fresh) + len(self._blocked)

    def _get(self, key: str) -> _Record | None:
        """The live record of ``key``; an expired one is forgotten."""
        rec = self._blocked.get(key) or self._fresh.get(key)
        if rec is not None and self.clock() > rec.expiry(self.cap):
            self._blocked.pop(key, None)
            self._fresh.pop(key, None)
            return None
        return rec

    def blocked_for(self, key: str) -> float:
        """Seconds ``key`` stays blocked (0 when it may try)."""
        rec = self._get(key)
        return 0.0 if rec is None else max(0.0, rec.blocked_until - self.clock())

    def known(self, key: str) -> bool:
        """True when ``key`` has a live record."""
        return self._get(key) is not None

    def saturated(self) -> bool:
        """True when the table is full of blocked addresses: a new address cannot be recorded,
        so it must not be let try."""
        if len(self._blocked) < self.max_records:
            return False
        self._sweep()
        return len(self._blocked) >= self.max_records

    def failed(self, key: str) -> float:
        """Record a failure; returns the block it starts (0 for none)."""
        now = self.clock()
        rec = self._get(key)
        if rec is None:
            if not self._make_room():
                log.warning(
                    "%s: authentication failure not recorded: %d blocked addresses "
                    "already remembered",
                    key,
                    len(self._blocked),
                )
                return 0.0
            rec = self._fresh[key] = _Record()
        rec.failures += 1
        rec.last_failure = now
        if rec.failures < self.threshold:
            return 0.0
        duration = min(self.cap, self.base * float(2 ** min(rec.failures - self.threshold, 32)))
        rec.blocked_until = max(rec.blocked_until, now + duration)
        if key in self._fresh:
            self._blocked[key] = self._fresh.pop(key)
        return duration

    def succeeded(self, key: str) -> None:
        self._fresh.pop(key, None)
        self._blocked.pop(key, None)

    def _make_room(self) -> bool:
        """Room for one more record: expired ones go first, then the oldest never blocked."""
        if len(self) < self.max_records:
            return True
        self._sweep()
        if len(self) >= self.max_records and self._fresh:
            del self._fresh[next(iter(self._fresh))]
        return len(self) < self.max_records

    def _sweep(self) -> None:
        """Forget expired records (a full scan, so at most every :data:`SWEEP_INTERVAL` s)."""
        now = self.clock()
        if self._swept is not None and now - self._swept < SWEEP_INTERVAL:
            return
        self._swept = now
        for table in (self._fresh, self._blocked):
            for k in [k for k, r in table.items() if now > r.expiry(self.cap)]:
                del table[k]


class PlainChecks:
    """Runs Plain password checks (scrypt, tens of milliseconds each) in worker threads so that
    the event loop keeps serving: at most ``workers`` at once (hashlib.scrypt releases the GIL),
    at most ``queue`` more waiting their turn; past that a check is refused at once."""

    def __init__(self, workers: int = PLAIN_WORKERS, queue: int = PLAIN_QUEUE) -> None:
        self.workers = workers
        self.queue = queue
        self._executor: ThreadPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Checks running or waiting."""
        return len(self._tasks)

    def submit(
        self,
        users: Mapping[str, PlainUser],
        user: str,
        password: bytes,
        skip: Callable[[], bool],
        done: Callable[[PlainUser | None, str | None], None],
    ) -> None:
        """Check ``user``/``password``; ``done(entry, refusal)`` gets the user entry (None when
        wrong) or a refusal reason. ``skip()`` is asked when the check's turn comes: true (the
        address got blocked meanwhile) answers None without hashing."""
        if len(self._tasks) >= self.workers + self.queue:
            reason = (
                f"too many logins being checked (at most {self.workers + self.queue}): "
                "try again later"
            )
            asyncio.get_running_loop().call_soon(done, None, reason)  # never from inside submit
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="vncterm-plain")
            self._slots = asyncio.Semaphore(self.workers)
        task = asyncio.ensure_future(self._check(users, user, password, skip, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(
        self,
        users: Mapping[str, PlainUser],
        user: str,
        password: bytes,
        skip: Callable[[], bool],
        done: Callable[[PlainUser | None, str | None], None],
    ) -> None:
        assert self._slots is not None and self._executor is not None
        entry: PlainUser | None = None
        async with self._slots:
            if not skip():
                loop = asyncio.get_running_loop()
                try:
                    entry = await loop.run_in_executor(
                        self._executor, vencrypt.check_plain, users, user, password
                    )
                except Exception as e:  # a hash that passed the file check but still fails
                    log.error("Plain check of user %r failed: %s", user, e)
        done(entry, None)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class Gatekeeper:
    """Admission for one server: blocked addresses, the viewer limit, the audit log, and the
    set of open connections (handshaking ones included)."""

    def __init__(
        self,
        blocker: AuthBlocker | None = None,
        max_viewers: int | None = None,
        audit: AuditLog | None = None,
        stuck_timeout: float = 20.0,
    ) -> None:
        self.blocker = blocker or AuthBlocker()
        self.max_viewers = max_viewers
        self.audit = audit
        self.stuck_timeout = stuck_timeout
        self.connections: set[Peer] = set()
        self.plain = PlainChecks()

    def admit(self, viewer: Peer) -> str | None:
        """Register a new connection; the reason to refuse it, or None."""
        self.connections.add(viewer)
        reason = self.blocked_reason(viewer.address_key)
        if reason is not None:
            return reason
        if not self.blocker.known(viewer.address_key) and self.blocker.saturated():
            return (
                "too many addresses blocked after authentication failures: new addresses "
                "are refused for now"
            )
        if self.max_viewers is not None and len(self.connections) > self.max_viewers:
            return f"too many viewers (at most {self.max_viewers})"
        return None

    def blocked_reason(self, key: str) -> str | None:
        """Why ``key`` may not try now (it is blocked), or None. The connection's check
        (:attr:`ServerConnection.auth_gate`) asks this at the moment it would check, so a block
        also stops connections opened before it."""
        wait = self.blocker.blocked_for(key)
        if wait > 0:
            return (
                f"too many authentication failures from this address: "
                f"try again in {int(wait) + 1} s"
            )
        return None

    def release(self, viewer: Peer) -> None:
        self.connections.discard(viewer)

    def auth_failed(self, viewer: Peer) -> float:
        duration = self.blocker.failed(viewer.address_key)
        if duration:
            log.warning(
                "%s: address blocked for %.0f s after repeated authentication failures",
                viewer,
                duration,
            )
            if self.audit is not None:
                self.audit.record(
                    "blocked", str(viewer), address=viewer.address_key, seconds=duration
                )
        return duration

    def auth_succeeded(self, viewer: Peer) -> str | None:
        """Clear the address's failures; the reason to drop it if it is blocked meanwhile."""
        reason = self.blocked_reason(viewer.address_key)
        if reason is not None:
            return reason
        self.blocker.succeeded(viewer.address_key)
        return None


def address_key(transport: asyncio.BaseTransport) -> str:
    """What failures are counted by: the peer's IP address; for a unix socket the peer's user
    (SO_PEERCRED), so that one local user cannot lock the others out."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple):
        return str(peer[0])
    sock = transport.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except (AttributeError, OSError) as e:
        log.warning("no peer credentials on unix socket (%s): counted as one unknown user", e)
        return "unix:uid:?"
    _pid, uid, _gid = _UCRED.unpack(creds)
    return f"unix:uid:{uid}"
