"""``--publish-redis``: consoles published for websockify's ``TokenRedis`` plugin.

Key ``TOKEN`` (or ``NAMESPACE:TOKEN``), value the JSON ``{"host": "HOST:PORT"}``, which both
websockify 0.10 (Debian 12) and 0.13 read. Every key is written with an expiry that vncterm
refreshes while it lives (every third of it), so a host that dies takes its tokens with it
within the expiry; a removed console's key and, on a clean exit, every key are deleted.

Redis unreachable or restarting: consoles are served all the same; vncterm retries with a
doubling backoff and writes every key again once Redis answers, logging each change of state
once. The client is redis-py's asyncio client (``redis.asyncio``): the maintained client of
the Redis project itself, on the same event loop as the consoles.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)

#: Backoff between attempts while Redis does not answer (seconds), doubling.
RETRY_FIRST = 0.5
RETRY_LAST = 30.0
#: How long one Redis command may take, and the deletes on exit.
COMMAND_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class RedisAddress:
    """``HOST[:PORT[/DB]]`` (``[IPV6]:PORT``)."""

    host: str
    port: int = 6379
    db: int = 0

    @classmethod
    def parse(cls, text: str) -> RedisAddress:
        rest, _, db = text.partition("/")
        if rest.startswith("["):
            host, _, tail = rest[1:].partition("]")
            port = tail[1:] if tail.startswith(":") else tail
        else:
            host, _, port = rest.partition(":")
        if not host or (port and not port.isdigit()) or (db and not db.isdigit()):
            raise ConfigError(f"bad --publish-redis {text!r}: use HOST[:PORT[/DB]]")
        address = cls(host, int(port or 6379), int(db or 0))
        if not 1 <= address.port <= 65535:
            raise ConfigError(f"bad --publish-redis {text!r}: port out of range")
        return address

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}/{self.db}"


class RedisTokens:
    """Keeps ``TOKEN -> {"host": TARGET}`` in Redis for every published console."""

    def __init__(
        self,
        address: RedisAddress,
        *,
        password: str | None = None,
        namespace: str = "",
        expiry: float = 60.0,
    ) -> None:
        try:  # redis-py: the ``redis`` extra (and the test extra) install it
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:
            raise ConfigError(
                "--publish-redis needs the Python package redis (pip install redis)"
            ) from None

        self.address = address
        self.prefix = f"{namespace}:" if namespace else ""
        self.expiry = expiry
        self.client: Any = redis.asyncio.Redis(
            host=address.host,
            port=address.port,
            db=address.db,
            password=password,
            socket_timeout=COMMAND_TIMEOUT,
            socket_connect_timeout=COMMAND_TIMEOUT,
            retry=Retry(NoBackoff(), 0),  # our own backoff (_run), not redis-py's retries
        )
        self.wanted: dict[str, str] = {}  # key -> value
        self.gone: set[str] = set()  # keys to delete
        #: None before the first attempt, then whether Redis answered the last one.
        self.up: bool | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def publish(self, name: str, token: str, target: str) -> None:
        key = self.prefix + token
        self.wanted[key] = json.dumps({"host": target})
        self.gone.discard(key)
        self._wake.set()

    def withdraw(self, name: str, token: str) -> None:
        key = self.prefix + token
        if self.wanted.pop(key, None) is not None:
            self.gone.add(key)
            self._wake.set()

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                await self._sync()
            except Exception as e:  # redis.RedisError, OSError, a timeout: Redis is away
                if self.up is not False:
                    log.warning(
                        "Redis %s unreachable (%s): consoles served, tokens republished once "
                        "it answers",
                        self.address,
                        e or type(e).__name__,
                    )
                self.up = False
                await asyncio.sleep(delay)
                delay = min(RETRY_LAST, delay * 2)
                continue
            if self.up is not True:
                log.info(
                    "Redis %s: %d token(s) published (expiry %g s)%s",
                    self.address,
                    len(self.wanted),
                    self.expiry,
                    " again" if self.up is False else "",
                )
            self.up = True
            delay = RETRY_FIRST
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.expiry / 3)
            except TimeoutError:
                pass

    async def _sync(self) -> None:
        """Delete the keys withdrawn, (re)write every key wanted with a fresh expiry."""
        gone, wanted = set(self.gone), dict(self.wanted)
        async with self.client.pipeline(transaction=False) as pipe:
            for key in gone:
                pipe.delete(key)
            for key, value in wanted.items():
                pipe.set(key, value, px=int(self.expiry * 1000))
            if gone or wanted:
                await asyncio.wait_for(pipe.execute(), COMMAND_TIMEOUT)
            else:
                await asyncio.wait_for(self.client.ping(), COMMAND_TIMEOUT)
        self.gone -= gone

    async def close(self) -> None:
        """A clean exit: delete every key (if Redis answers soon), then disconnect."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        keys = [*self.wanted, *self.gone]
        try:
            if keys:
                await asyncio.wait_for(self.client.delete(*keys), CLOSE_TIMEOUT)
        except Exception as e:  # Redis away: the expiry removes them
            log.warning(
                "Redis %s: tokens not deleted (%s): they expire by themselves", self.address, e
            )
        try:
            await asyncio.wait_for(self.client.aclose(), CLOSE_TIMEOUT)
        except Exception:  # a connection already broken
            pass
