"""Files vncterm appends a console's record to (``--log``, ``--audit-log FILE``): created
owner-only, and never a reason for the console to stop.

A file is created with mode 0600 (it holds what the console printed: passwords typed at a
prompt, keys, tokens); an existing one keeps its mode, with a warning when others may read it.
Each write goes straight to the descriptor (no buffer to flush, nothing held back after an
error). When a write fails (a full disk, EIO, a quota), the failure is reported once, with its
reason, in vncterm's log and through ``on_notice``; the bytes are counted, not kept; a write is
tried again at most every ``retry`` seconds. When one succeeds, the file first gets a marker
made by ``marker(missed_bytes, reason)`` (a line saying how much is missing and why, so the gap
in the record is visible where it is), and vncterm's log and ``on_notice`` say how many bytes
were missed. A failure within ``QUIET`` seconds of the last report is not reported (only
marked in the file); closing logs the total missed.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Shows a notice: (key, text, seconds or None while the condition lasts); a later notice of
#: the same key replaces it.
Notice = Callable[[str, str, float | None], None]
Marker = Callable[[int, str], bytes]

#: Seconds between attempts to write while a file is failing.
RETRY = 1.0
#: A file failing again within this many seconds of its last report is not reported again
#: (a disk hovering at full); its markers still count every byte.
QUIET = 60.0
#: Seconds the notice that a file is written again stays up.
RESUMED_NOTICE = 10.0


def console_marker(missed: int, reason: str) -> bytes:
    """The line a console log gets where bytes are missing (plain text, no escapes)."""
    return f"\r\n[vncterm] {missed} bytes of console output not logged ({reason})\r\n".encode()


def open_private(path: str) -> int:
    """Open ``path`` for appending; create it 0600. Warn when an existing file is readable by
    others (its mode is the administrator's choice and is left alone)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "%s is readable by others (mode %04o); vncterm creates its files 0600",
            path,
            stat.S_IMODE(mode),
        )
    return fd


class AppendFile:
    """An append-only record file that survives write errors (see the module docstring)."""

    def __init__(
        self,
        path: str,
        what: str,
        marker: Marker = console_marker,
        on_notice: Notice | None = None,
        retry: float = RETRY,
        clock: Callable[[], float] = time.monotonic,
        whole: bool = False,
    ) -> None:
        self.path = path
        #: Each write is one record (a JSON line): one written in part is cut off again.
        self.whole = whole
        self.what = what
        self.marker = marker
        self.on_notice = on_notice
        self.retry = retry
        self.clock = clock
        self._fd = open_private(path)
        #: Why writing fails now (None while it works).
        self.failing: str | None = None
        #: Bytes lost in the current failure, and in all of them.
        self.missed = 0
        self.missed_total = 0
        self._retry_at = 0.0
        self._quiet_until = 0.0
        self._reported = False  # the current failure was reported

    def write(self, data: bytes) -> bool:
        """Append ``data``; False when (some of) it could not be written (then counted)."""
        if self._fd < 0 or not data:
            return self._fd >= 0
        if self.failing is not None and not self._resume():
            self._lose(len(data))
            return False
        done, error = self._write_all(data)
        if error is not None:
            if done and self.whole and self._cut(done):
                done = 0
            self._fail(error)
            self._lose(len(data) - done)
            return False
        return True

    def _cut(self, done: int) -> bool:
        """Take back the ``done`` bytes of a record written in part; False when it cannot."""
        try:
            os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_END) - done)
        except OSError:
            return False
        return True

    def _write_all(self, data: bytes) -> tuple[int, OSError | None]:
        """Write all of ``data``: (bytes written, the error that stopped it or None)."""
        view = memoryview(data)
        done = 0
        try:
            while done < len(view):
                done += os.write(self._fd, view[done:])
        except OSError as e:
            return done, e
        return done, None

    def _fail(self, error: OSError) -> None:
        now = self.clock()
        self._retry_at = now + self.retry
        if self.failing is not None:
            return
        self.failing = error.strerror or str(error)
        self._reported = now >= self._quiet_until
        if not self._reported:
            return
        self._quiet_until = now + QUIET
        log.error(
            "%s %s: cannot write (%s); vncterm goes on and counts what it misses",
            self.what,
            self.path,
            self.failing,
        )
        self._notify(f"{self.what} {self.path}: cannot write ({self.failing}); the console goes on")

    def _lose(self, n: int) -> None:
        self.missed += n
        self.missed_total += n

    def _resume(self) -> bool:
        """While failing: try the marker (at most every ``retry`` s); True once it is written."""
        if self.clock() < self._retry_at:
            return False
        reason = self.failing or ""
        _, error = self._write_all(self.marker(self.missed, reason))
        if error is not None:
            self._retry_at = self.clock() + self.retry
            return False
        if self._reported:
            log.warning(
                "%s %s: writing again; %d bytes were not written (%s)",
                self.what,
                self.path,
                self.missed,
                reason,
            )
            self._notify(
                f"{self.what} {self.path}: writing again; {self.missed} bytes missed",
                RESUMED_NOTICE,
            )
        self.failing = None
        self.missed = 0
        return True

    def _notify(self, text: str, ttl: float | None = None) -> None:
        """Show ``text`` under this file's key (``ttl`` None: while the failure lasts)."""
        if self.on_notice is not None:
            try:
                self.on_notice(f"file {self.path}", text, ttl)
            except Exception:  # the notice is a courtesy; the record goes on without it
                log.exception("%s %s: showing a notice failed", self.what, self.path)

    def reopen(self) -> None:
        """Open the path again (SIGHUP after log rotation moved the file away); on failure keep
        writing where it wrote."""
        if self._fd < 0:
            return
        try:
            fd = open_private(self.path)
        except OSError as e:
            log.warning("%s %s: cannot reopen: %s", self.what, self.path, e.strerror)
            return
        os.close(self._fd)
        self._fd = fd

    def close(self) -> None:
        if self.missed_total:
            log.warning(
                "%s %s: %d bytes were not written in all%s",
                self.what,
                self.path,
                self.missed_total,
                f" ({self.missed} still)" if self.failing else "",
            )
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
