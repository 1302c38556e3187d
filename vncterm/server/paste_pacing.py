"""Pastes typed at a pace a slow console keeps up with (``--paste-rate``, ``--paste-line-delay``).

A serial line without flow control (a UART behind ``--tty``, a boot loader polling it) drops
what comes faster than its reader takes it. A pty and QEMU's serial sockets give back-pressure
(the writer waits until the reader or the guest's UART has room), so there a paste goes at
once; on a ``--tty`` it is paced by default. While a paced paste runs, the status row shows its
progress, and Escape pressed by a viewer with control cancels the rest (the Escape is not
typed); a bracketed paste's closing sequence is still sent, so the program leaves paste mode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..config import Config
from .status import StatusRow

log = logging.getLogger(__name__)

#: Defaults on a ``--tty`` (no back-pressure): bytes a second, seconds after each line.
PASTE_TTY_RATE = 1000
PASTE_TTY_LINE_DELAY = 0.02
#: The most paste bytes waiting at once (further pastes are refused while it is full).
MAX_QUEUED = 4 << 20
#: Seconds between two writes of a paced paste (each writes rate * TICK bytes, at least one).
TICK = 0.02
STATUS_KEY = "paste"
#: Seconds between two progress updates on the status row.
PROGRESS_EVERY = 0.25


def pace_for(config: Config) -> tuple[int, float]:
    """(bytes a second, seconds after a line) for ``config``'s console: its options, else
    paced on a --tty only."""
    tty = config.console is not None and config.console.kind == "tty"
    rate = config.paste_rate
    delay = config.paste_line_delay
    if rate is None:
        rate = PASTE_TTY_RATE if tty else 0
    if delay is None:
        delay = PASTE_TTY_LINE_DELAY if tty else 0.0
    return rate, delay


class PastePacer:
    """Types pastes through ``write``, paced when a rate or a line delay is set."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        status: StatusRow,
        rate: int = 0,
        line_delay: float = 0.0,
    ) -> None:
        self.write, self.status = write, status
        self.rate, self.line_delay = rate, line_delay
        self._queue = bytearray()
        self._tail = b""  # sent after the queue, even when cancelled (bracketed paste's end)
        self._total = self._sent = 0
        self._task: asyncio.Task[None] | None = None
        self._shown_at = float("-inf")

    @property
    def paced(self) -> bool:
        return self.rate > 0 or self.line_delay > 0

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def paste(self, data: bytes, tail: bytes = b"") -> None:
        """Type ``data`` then ``tail``: at once, or paced behind any paste still running."""
        if not self.paced:
            self.write(data + tail)
            return
        if len(self._queue) + len(data) > MAX_QUEUED:
            log.warning("paste of %d bytes refused: %d still waiting", len(data), len(self._queue))
            self.status.show(STATUS_KEY, "paste refused: too much still being typed", ttl=5)
            return
        if self.active:  # one after the other: the earlier one's end first
            self._queue += self._tail
            self._tail = b""
        else:
            self._total = self._sent = 0
        self._queue += data
        self._tail = tail
        self._total += len(data)
        if not self.active:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def cancel(self) -> bool:
        """Stop a paced paste (Escape): True when one was running."""
        if not self.active:
            return False
        assert self._task is not None
        self._task.cancel()
        self._task = None  # done from now on, though the task ends on the loop's next turn
        left = len(self._queue)
        self._finish()
        log.info("paste cancelled: %d of %d bytes not typed", left, self._total)
        self.status.show(STATUS_KEY, f"paste cancelled: {left} bytes not typed", ttl=5)
        return True

    async def _run(self) -> None:
        try:
            while self._queue:
                chunk = self._next_chunk()
                self.write(chunk)
                self._sent += len(chunk)
                self._progress()
                pause = len(chunk) / self.rate if self.rate else 0.0
                if chunk.endswith(b"\r"):
                    pause += self.line_delay
                await asyncio.sleep(pause)
            self._finish()
            self.status.clear(STATUS_KEY)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the console's write cannot fail, but nothing escapes
            log.warning("paste stopped: %s", e)
            self._queue.clear()

    def _next_chunk(self) -> bytes:
        """Up to a tick's worth of bytes, ending at the first line end."""
        size = max(1, int(self.rate * TICK)) if self.rate else len(self._queue)
        end = self._queue.find(b"\r", 0, size)
        if end >= 0:
            size = end + 1
        chunk = bytes(self._queue[:size])
        del self._queue[:size]
        return chunk

    def _progress(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._queue and now - self._shown_at >= PROGRESS_EVERY:
            self._shown_at = now
            self.status.show(
                STATUS_KEY, f"pasting: {self._sent} of {self._total} bytes typed (Escape cancels)"
            )

    def _finish(self) -> None:
        """Send the tail and forget the rest."""
        self._queue.clear()
        tail, self._tail = self._tail, b""
        if tail:
            self.write(tail)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
