"""Telling a serial guest its size (``--tell-size``, only with ``--allow-resize``).

A serial line carries no window size: after a viewer resizes a serial console the guest's
programs still think it is the old size. With ``--tell-size`` vncterm types
``stty rows R cols C`` (and Enter) into the console itself, the one input it ever makes, and
only when that is safe: the guest's output has been quiet for QUIET seconds, no viewer typed
in that time, the text left of the cursor ends with a prompt matching ``--tell-size-prompt``
and nothing is right of it (the input line is empty). Until then it waits (a newer resize
replaces the size it waits to tell). Each time it is logged, marked in the recording and
written to the audit log (event ``tell-size``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from ..terminal.emulator import Emulator
from .audit import AuditLog

log = logging.getLogger(__name__)

#: A shell prompt's end: ``$``, ``#`` or ``>``, then maybe a space.
DEFAULT_PROMPT = r"[$#>] ?$"
MAX_PROMPT = 200
#: Seconds of quiet (no output, no typing) before vncterm types.
QUIET = 1.0
#: Seconds between two looks while it waits.
CHECK = 0.25


def compile_prompt(pattern: str) -> re.Pattern[str]:
    """``--tell-size-prompt`` as a regular expression (ValueError when it is not one)."""
    if len(pattern) > MAX_PROMPT:
        raise ValueError(f"longer than {MAX_PROMPT} characters")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(str(e)) from None


class SizeTeller:
    """Waits for a safe moment to type ``stty rows R cols C`` after a resize."""

    def __init__(
        self,
        emulator: Emulator,
        write: Callable[[bytes], None],
        prompt: re.Pattern[str],
        *,
        audit: AuditLog | None = None,
        mark: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        quiet: float = QUIET,
    ) -> None:
        self.emulator, self.write, self.prompt = emulator, write, prompt
        self.audit, self.mark, self.clock, self.quiet = audit, mark, clock, quiet
        self.pending: tuple[int, int] | None = None
        self._output_at = self._input_at = clock()
        self._timer: asyncio.TimerHandle | None = None

    def output(self) -> None:
        """The console printed something."""
        self._output_at = self.clock()

    def typed(self) -> None:
        """A viewer typed or pasted."""
        self._input_at = self.clock()

    def resized(self, cols: int, rows: int) -> None:
        """The terminal is now ``cols`` x ``rows``: tell the guest when it is safe."""
        self.pending = (cols, rows)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(CHECK, self._check)

    def _check(self) -> None:
        self._timer = None
        if self.pending is None:
            return
        try:
            ready = self._ready()
        except Exception as e:  # a look at the screen must never stop the console
            log.warning("--tell-size: cannot look at the screen: %s", e)
            ready = False
        if not ready:
            self._schedule()
            return
        cols, rows = self.pending
        self.pending = None
        command = f"stty rows {rows} cols {cols}"
        log.info("--tell-size: typed %r", command)
        self.write(command.encode() + b"\r")
        if self.mark is not None:
            self.mark(f"vncterm typed: {command}")
        if self.audit is not None:
            self.audit.record("tell-size", None, cols=cols, rows=rows, typed=command)

    def _ready(self) -> bool:
        """Quiet long enough, and the cursor right after a prompt on an empty input line."""
        now = self.clock()
        if now - self._output_at < self.quiet or now - self._input_at < self.quiet:
            return False
        x, y = self.emulator.cursor_position
        text = self.emulator.line_text(y)
        left, right = text[:x], text[x:]
        return not right.strip() and self.prompt.search(left) is not None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
