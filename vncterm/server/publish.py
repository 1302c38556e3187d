"""Where each console is, published for websockify's token plugins (many hosts behind one
browser front): ``TOKEN -> HOST:PORT`` for every console listening on TCP, kept true as
consoles come and go.

- :class:`TokenFiles` (``--publish-tokens DIR``) for websockify's ``TokenFile`` plugin, which
  reads every file of DIR on each lookup: one file per console, ``HOSTID.CONSOLE``, holding
  ``TOKEN: HOST:PORT``;
- :class:`~vncterm.server.publish_redis.RedisTokens` (``--publish-redis``) for ``TokenRedis``.

A publication never stops vncterm serving: its faults are logged once per change of state.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from typing import Protocol

from ..config import PublishConfig
from ..errors import ConfigError
from .state_dir import write_atomic
from .tokens import TokenBook

log = logging.getLogger(__name__)

#: The first line of every token file vncterm writes: at start, only files of our host id
#: that carry it are removed (websockify skips lines starting with ``#``).
MARK = "# vncterm host-id "
#: Token files are read by websockify, usually another user.
FILE_MODE = 0o644
#: The largest token file read back when looking for our stale ones.
MAX_MARK = 512


class Publishing:
    """A host's console tokens and every place its consoles are published: ``open()`` at start
    (ConfigError when the token folder cannot be written), ``publish``/``withdraw`` as consoles
    come and go, ``close()`` on a clean exit."""

    def __init__(self, config: PublishConfig) -> None:
        self.config = config
        self.tokens = TokenBook(None, config.token_names)
        self.publications: list[Publication] = []
        self._published: dict[str, str] = {}  # console name -> token published
        self._loopback_warned = False

    @property
    def wanted(self) -> bool:
        return self.config.token_dir is not None or self.config.redis is not None

    def open(self, state_dir: str | None) -> None:
        """Tokens kept in ``state_dir``; the Redis address is checked before the token folder
        is touched."""
        self.tokens = TokenBook(state_dir, self.config.token_names)
        pub = self.config
        store = None
        if pub.redis is not None:
            from .publish_redis import RedisAddress, RedisTokens

            store = RedisTokens(
                RedisAddress.parse(pub.redis),
                password=pub.redis_password,
                namespace=pub.redis_namespace,
                expiry=pub.expiry,
            )
        if pub.token_dir is not None:
            files = TokenFiles(pub.token_dir, pub.host_id)
            files.open()
            self.publications.append(files)
        if store is not None:
            store.start()
            self.publications.append(store)

    def publish(self, name: str, addresses: list[tuple[str, int] | str]) -> None:
        """Publish console ``name`` at its first TCP address (one on unix sockets only is
        not)."""
        bound = next((a for a in addresses if isinstance(a, tuple)), None)
        if not self.publications or bound is None:
            return
        target = advertised_target(bound, self.config.advertise)
        if self.config.redis and is_loopback(target) and not self._loopback_warned:
            self._loopback_warned = True
            log.warning(
                "publishing loopback address %s to Redis: a front on another machine cannot "
                "reach it (give --advertise HOST)",
                target,
            )
        token = self.tokens.token_for(name)
        self._published[name] = token
        for publication in self.publications:
            publication.publish(name, token, target)

    def withdraw(self, name: str) -> None:
        token = self._published.pop(name, None)
        if token is not None:
            for publication in self.publications:
                publication.withdraw(name, token)

    async def close(self) -> None:
        for publication in self.publications:
            try:
                await publication.close()
            except Exception:  # one publication's fault does not stop the others
                log.exception("closing a publication failed")
        self.publications = []


class Publication(Protocol):
    """One place consoles are published to."""

    def publish(self, name: str, token: str, target: str) -> None: ...

    def withdraw(self, name: str, token: str) -> None: ...

    async def close(self) -> None: ...


def advertised_target(bound: tuple[str, int], advertise: str | None) -> str:
    """``HOST:PORT`` that other machines reach a console listening on ``bound`` at: the
    ``--advertise`` host, else the address listened on (the host name for a wildcard)."""
    host, port = bound
    if advertise:
        host = advertise
    elif host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"{host}:{port}"


def is_loopback(target: str) -> bool:
    host = target.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenFiles:
    """``--publish-tokens DIR``: a file ``HOSTID.CONSOLE`` per console holding ``TOKEN:
    HOST:PORT``, replaced atomically by a rename from a sibling folder on the same filesystem
    (a temporary file inside DIR would be read half-written, and a folder inside DIR breaks
    websockify's reading of it)."""

    def __init__(self, folder: str, host_id: str) -> None:
        self.folder = os.path.abspath(folder)
        self.host_id = host_id
        parent, base = os.path.split(self.folder)
        self.tmp_dir = os.path.join(parent, f".{base}.tmp-{host_id}")
        self.files: dict[str, str] = {}  # console name -> path written
        self._failing: set[str] = set()  # consoles whose last write failed (logged once)

    def open(self) -> None:
        """At start: DIR and the sibling folder exist and are writable, on one filesystem;
        our own stale files (a crash) are removed. ConfigError otherwise."""
        try:
            os.makedirs(self.folder, mode=0o755, exist_ok=True)
            os.makedirs(self.tmp_dir, mode=0o700, exist_ok=True)
            if os.stat(self.folder).st_dev != os.stat(self.tmp_dir).st_dev:
                raise ConfigError(
                    f"--publish-tokens: {self.tmp_dir} is not on the filesystem of "
                    f"{self.folder}: files cannot be renamed into it"
                )
            probe = os.path.join(self.folder, f"{self.host_id}..probe")
            write_atomic(probe, MARK.encode() + b"probe\n", FILE_MODE, self.tmp_dir)
            os.unlink(probe)
        except OSError as e:
            why = f"{e.filename}: {e.strerror}" if e.filename else (e.strerror or str(e))
            raise ConfigError(f"--publish-tokens {self.folder}: cannot write there: {why}") from e
        self._remove_stale()

    def _remove_stale(self) -> None:
        prefix = f"{self.host_id}."
        try:
            names = os.listdir(self.folder)
        except OSError as e:
            log.warning("cannot list %s: %s", self.folder, e.strerror)
            return
        for entry in names:
            path = os.path.join(self.folder, entry)
            if entry.startswith(prefix) and self._ours(path):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    log.info("token file %s removed (left by an earlier run)", path)

    def _ours(self, path: str) -> bool:
        """True for a file that this host id wrote (its first line is our mark)."""
        try:
            with open(path, "rb") as f:
                head = f.read(MAX_MARK)
        except OSError:
            return False
        return head.split(b"\n", 1)[0].decode("utf-8", "replace") == MARK + self.host_id

    def publish(self, name: str, token: str, target: str) -> None:
        path = os.path.join(self.folder, f"{self.host_id}.{name}")
        text = f"{MARK}{self.host_id}\n{token}: {target}\n"
        try:
            write_atomic(path, text.encode(), FILE_MODE, self.tmp_dir)
        except OSError as e:
            if name not in self._failing:
                log.error("console %s: cannot write token file %s: %s", name, path, e)
            self._failing.add(name)
            return
        self._failing.discard(name)
        self.files[name] = path

    def withdraw(self, name: str, token: str) -> None:
        path = self.files.pop(name, None)
        if path is None:
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.error("console %s: cannot remove token file %s: %s", name, path, e)

    async def close(self) -> None:
        for name in list(self.files):
            self.withdraw(name, "")
        with contextlib.suppress(OSError):
            os.rmdir(self.tmp_dir)
