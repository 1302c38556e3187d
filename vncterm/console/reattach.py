"""What consoles that come and go have in common: a QEMU chardev socket, a serial device.

:class:`ReattachingConsole` runs the attach loop: attach (``_attach``), wait until the
attachment is lost, detach (``_detach``), and try again with capped exponential backoff (0.25 s
doubling to 5 s; an attachment that lived ``STABLE_AFTER`` seconds starts over from the
minimum) until :meth:`close`. Each change is logged and reported through ``on_status``, so the
session can show it on its status row. Writes beyond ``max_pending_write`` queued bytes, or while
detached, are dropped and counted (warned about once per attachment).
"""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Final

from .base import Console, DataCallback, StatusCallback

log = logging.getLogger(__name__)

MAX_PENDING_WRITE: Final = 4 << 20  # bytes queued for the console before writes are dropped
STABLE_AFTER: Final = 2.0  # an attachment that lived this long resets the backoff


class ReattachingConsole(Console):
    """A console attached to ``description`` again and again until :meth:`close`."""

    #: The status shown before each attempt after a loss, e.g. "connecting to".
    attaching = "attaching to"

    def __init__(
        self,
        description: str,
        *,
        min_backoff: float = 0.25,
        max_backoff: float = 5.0,
        max_pending_write: int = MAX_PENDING_WRITE,
    ) -> None:
        self.description = description
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.max_pending_write = max_pending_write
        self.connected = False
        self.connections = 0  # successful attachments so far
        self.dropped_writes = 0  # bytes dropped (detached or over the cap)
        self._on_data: DataCallback | None = None
        self._on_status: StatusCallback | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = False

    # -- what a backend provides ---------------------------------------------------------------

    @abc.abstractmethod
    async def _attach(self) -> asyncio.Future[str]:
        """Attach (OSError when it cannot now) and call :meth:`_attached`; the future is
        resolved with the reason when the attachment is lost."""

    @abc.abstractmethod
    def _detach(self) -> None:
        """Let go of the attachment (any state; called more than once)."""

    def _give_up(self, reason: str) -> str | None:
        """After a loss or a failed attempt (``reason``): None to try again, or the final
        status when this console must never be attached again."""
        return None

    # -- the loop ------------------------------------------------------------------------------

    async def start(self, on_data: DataCallback, on_status: StatusCallback) -> None:
        """Start the attach loop; returns after the first attempt, attached or not."""
        if self._task is not None:
            raise RuntimeError(f"{type(self).__name__}.start() called twice")
        self._on_data, self._on_status = on_data, on_status
        self._closed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        first: asyncio.Future[None] = self._loop.create_future()
        self._task = asyncio.create_task(self._run(first), name=f"console {self.description}")
        await asyncio.shield(first)

    def _status(self, text: str) -> None:
        log.info("%s: %s", self.description, text)
        if self._on_status is not None:
            self._on_status(text)

    def _attached(self) -> None:
        """Bookkeeping of a new attachment, reported as "connected"."""
        self.connected = True
        self.connections += 1
        self._warned = False
        self._status("connected")

    async def _run(self, first: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        delay = self.min_backoff
        announce = True
        try:
            while True:
                if announce:
                    self._status(f"{self.attaching} {self.description}")
                try:
                    lost = await self._attach()
                except OSError as exc:  # TimeoutError included
                    self._detach()
                    reason = exc.strerror or "timeout"
                    announce = False
                else:
                    since = loop.time()
                    if not first.done():
                        first.set_result(None)
                    reason = await lost
                    self._detach()
                    if loop.time() - since >= STABLE_AFTER:
                        delay = self.min_backoff
                    announce = True
                if not first.done():
                    first.set_result(None)
                final = self._give_up(reason)
                if final is not None:
                    self._status(final)
                    return
                self._status(f"disconnected: reconnecting in {delay:g} s ({reason})")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        finally:
            if not first.done():
                first.set_result(None)
            self._detach()

    # -- writes ----------------------------------------------------------------------------------

    def _may_queue(self, queued: int, data: bytes, attached: bool = True) -> bool:
        """Whether ``data`` may join ``queued`` bytes waiting (``attached``: the backend still
        has its attachment); counts and warns when not."""
        if not (attached and self.connected):
            self.dropped_writes += len(data)
            log.debug("%s: detached, dropped %d bytes", self.description, len(data))
            return False
        if queued + len(data) > self.max_pending_write:
            self.dropped_writes += len(data)
            if not self._warned:
                log.warning(
                    "%s: console not reading, dropping %d bytes (more than %d queued)",
                    self.description,
                    len(data),
                    self.max_pending_write,
                )
                self._warned = True
            return False
        self._warned = False
        return True

    # -- the end ---------------------------------------------------------------------------------

    async def wait_closed(self) -> int:
        """Wait for :meth:`close`; such a console never ends on its own."""
        if self._closed is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        await self._closed.wait()
        return 0

    def close(self) -> None:
        """Stop reattaching and let go."""
        if self._task is not None:
            self._task.cancel()
        self._detach()
        if self._closed is not None:
            self._closed.set()
