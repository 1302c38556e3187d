"""A console's recording (``--record FILE``): an asciicast v2 file that ``asciinema play`` and
``asciinema cat`` read.

The file is JSON lines: a header ``{"version": 2, "width", "height", "timestamp", "title"}``,
then one event per line, ``[seconds since the header, code, text]``: ``"o"`` console output,
``"r"`` a resize (``"COLSxROWS"``), ``"m"`` a marker for vncterm's own events (viewers coming
and going, the console reconnected or restarted, a gap while vncterm was not running), and
``"i"`` what viewers typed, only when asked (``--record-input``: it holds passwords typed at
prompts).

Each run of vncterm starts a new file (one left by an earlier run moves to ``FILE.1``, as in a
rotation). Output is decoded with the console's charset by an incremental decoder that keeps a
UTF-8 sequence split across reads whole and turns invalid bytes into U+FFFD, so no guest byte can
break the JSON. The file is written through :class:`AppendFile` (0600; a full disk is reported
once, counted, marked in the file with an ``"m"`` event when writing works again, and never
stops the console); an event written in part is cut off, so every line stays JSON. Past
``max_size`` bytes the file moves to ``FILE.1`` (older ones to ``FILE.2`` .. ``FILE.keep``) and
a new one starts with its own header, so each file plays on its own.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ..terminal.charsets import make_decoder
from .outfile import AppendFile, Notice

log = logging.getLogger(__name__)

#: A title longer than this is cut (it comes from the program: OSC 0/2).
MAX_TITLE = 256


class Recording:
    """One console's asciicast v2 recording (see the module docstring)."""

    def __init__(
        self,
        path: str,
        width: int,
        height: int,
        title: str = "",
        *,
        charset: str = "utf-8",
        record_input: bool = False,
        max_size: int = 64 << 20,
        keep: int = 4,
        on_notice: Notice | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.width, self.height = width, height
        self.title = title[:MAX_TITLE]
        self.record_input = record_input
        self.max_size = max_size
        self.keep = keep
        self.on_notice = on_notice
        self.clock = clock
        self.wall = wall
        self._output = make_decoder(charset)
        self._input = make_decoder(charset)
        #: Bytes in the current file (rotation counts them).
        self.size = 0
        self._start = clock()
        self._file = self._open()

    def _open(self) -> AppendFile:
        """A new file at ``path`` (one there already, from an earlier run, moves to FILE.1)
        and a header starting its clock."""
        try:
            if os.path.getsize(self.path) > 0:
                self._shift()
        except OSError:
            pass  # none there (or not ours to stat: AppendFile says why)
        f = AppendFile(
            self.path,
            "recording",
            marker=self._gap,
            on_notice=self.on_notice,
            clock=self.clock,
            whole=True,
        )
        self._start = self.clock()
        self.size = 0
        header: dict[str, Any] = {
            "version": 2,
            "width": self.width,
            "height": self.height,
            "timestamp": int(self.wall()),
        }
        if self.title:
            header["title"] = self.title
        self._file = f
        self._line(header)
        return f

    # -- events ----------------------------------------------------------------------------------

    def output(self, data: bytes) -> None:
        """Console output."""
        text = self._output(data)
        if text:
            self._event("o", text)

    def drawn(self, text: str) -> None:
        """Output vncterm made itself: the sequences that draw a restored screen."""
        self._event("o", text)

    def input(self, data: bytes) -> None:
        """What viewers typed or pasted (only with ``record_input``)."""
        if self.record_input:
            text = self._input(data)
            if text:
                self._event("i", text)

    def resize(self, cols: int, rows: int) -> None:
        """The terminal's new size."""
        self.width, self.height = cols, rows
        self._event("r", f"{cols}x{rows}")

    def marker(self, label: str) -> None:
        """One of vncterm's own events."""
        self._event("m", label)

    # -- writing ---------------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return round(max(0.0, self.clock() - self._start), 6)

    def _event(self, code: str, text: str) -> None:
        self._line([self._elapsed(), code, text])
        if self.size >= self.max_size:
            self._rotate()

    def _line(self, value: object) -> None:
        data = (json.dumps(value, ensure_ascii=False) + "\n").encode()
        if self._file.write(data):
            self.size += len(data)

    def _gap(self, missed: int, reason: str) -> bytes:
        """The marker where the file missed events (AppendFile writes it once it can)."""
        label = f"{missed} bytes of the recording lost ({reason})"
        return (json.dumps([self._elapsed(), "m", label]) + "\n").encode()

    def _shift(self) -> None:
        """FILE -> FILE.1 -> ... -> FILE.keep (the oldest goes). When renaming fails the
        recording goes on in the same file (logged)."""
        try:
            if self.keep == 0:
                os.unlink(self.path)
            for i in range(self.keep, 0, -1):
                older = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{i}")
        except OSError as e:
            log.warning("recording %s: cannot rotate (%s); going on in it", self.path, e.strerror)

    def _rotate(self) -> None:
        """A new FILE with its header, the full one moving to FILE.1."""
        self._file.close()
        try:
            self._file = self._open()
        except OSError as e:
            log.error("recording %s: cannot open a new file (%s): recording stopped", self.path, e)
            self.max_size = 1 << 62  # no more rotation attempts on a closed file

    def reopen(self) -> None:
        """SIGHUP after an outside rotation: write to the path again."""
        self._file.reopen()

    def close(self) -> None:
        self._file.close()
