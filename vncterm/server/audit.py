"""The audit log (``--audit-log FILE`` or ``--audit-log journal``): one JSON object per line.

Every record has ``ts`` (UTC, ISO 8601), ``event`` and, for viewer events, ``viewer`` (its
address label). Events: ``start``, ``stop``, ``connect``, ``refused`` (reason), ``auth``
(``ok``, ``method``, ``subtype``, ``user``, ``view_only``, ``tls``, ``reason``), ``blocked``
(address, seconds), ``disconnect`` (reason), ``input`` (``keys`` key presses, ``pointer``
events, ``refused`` for input a view-only viewer sent, counted over at most
:data:`INPUT_WINDOW` seconds: a typing burst is one line, not one per key), ``paste`` (one per
paste: ``bytes`` and ``sha256`` of the pasted text in UTF-8, never the text), ``stream_start`` /
``stream_end`` (with ``bytes_in`` and ``sha256_in``, what the viewer wrote into the stream
during that capture, and a ``reason`` unless the viewer ended it), ``resize``, ``switch`` (a
viewer now ``showing`` the console or a desktop), ``desktop_attached`` / ``desktop_refused`` /
``desktop_gone`` (``peer``, size and name, or ``reason``).

With ``journal`` the same records go to systemd's journal through its native datagram socket
(``MESSAGE`` holds the JSON, ``VNCTERM_EVENT`` the event name); no library needed.

A FILE is created 0600 and written through ``outfile.AppendFile``: a write error (a full disk)
is reported once and never stops vncterm; when writing works again, an ``audit_gap`` record
(``missed_bytes``, ``reason``) marks where records are missing.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .logcontext import CONSOLE
from .outfile import AppendFile, Notice

log = logging.getLogger(__name__)

INPUT_WINDOW = 1.0
JOURNAL_SOCKET = "/run/systemd/journal/socket"


def _gap_record(missed: int, reason: str) -> bytes:
    """The record an audit file gets where records are missing."""
    entry = {
        "ts": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "event": "audit_gap",
        "missed_bytes": missed,
        "reason": reason,
    }
    return (json.dumps(entry) + "\n").encode()


@dataclass
class _Input:
    keys: int = 0
    pointer: int = 0
    refused: int = 0


@dataclass
class _Tally:
    """Bytes one capture wrote into its stream."""

    count: int = 0
    digest: Any = field(default_factory=hashlib.sha256)


class AuditLog:
    """Writes audit records; aggregates input per viewer."""

    def __init__(self, target: str, on_notice: Notice | None = None) -> None:
        self.target = target
        self._file: AppendFile | None = None
        self._journal: socket.socket | None = None
        self._journal_lost = 0  # records the journal refused since it last took one
        try:
            if target == "journal":
                self._journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._journal.set_inheritable(False)
                self._journal.connect(JOURNAL_SOCKET)
            else:
                self._file = AppendFile(
                    target, "audit log", marker=_gap_record, on_notice=on_notice
                )
        except OSError as e:
            if self._journal is not None:
                self._journal.close()
                raise ConfigError(
                    f"--audit-log journal: systemd's journal is not reachable "
                    f"here ({JOURNAL_SOCKET}: {e.strerror}); give a FILE "
                    "instead"
                ) from None
            raise ConfigError(f"--audit-log: cannot open {target}: {e.strerror}") from None
        self._input: dict[str, _Input] = {}
        #: Bytes each open capture wrote into its stream: (viewer, capture id) -> count, hash.
        self._captures: dict[tuple[str, int], _Tally] = {}
        self._flush_handle: asyncio.TimerHandle | None = None

    def record(self, event: str, viewer: str | None = None, **fields: Any) -> None:
        entry: dict[str, Any] = {
            "ts": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "event": event,
        }
        if viewer is not None:
            entry["viewer"] = viewer
        console = CONSOLE.get()
        if console:  # the console of a host this happened on
            entry["console"] = console
        entry.update(fields)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        if self._file is not None:
            self._file.write((line + "\n").encode())  # reports its own write errors
        elif self._journal is not None:
            msg = f"MESSAGE={line}\nSYSLOG_IDENTIFIER=vncterm\nVNCTERM_EVENT={event}\nPRIORITY=5\n"
            try:
                if self._journal_lost:  # the journal may have restarted: a new connection
                    self._journal.connect(JOURNAL_SOCKET)
                self._journal.send(msg.encode())
            except OSError as e:
                self._journal_lost += 1
                if self._journal_lost == 1:
                    log.error(
                        "audit log %s: %s; records are counted until it works again", self.target, e
                    )
                return
            if self._journal_lost:
                log.warning(
                    "audit log %s: working again; %d records were lost",
                    self.target,
                    self._journal_lost,
                )
                self._journal_lost = 0

    # -- input, aggregated -----------------------------------------------------------------------

    def input(self, viewer: str, *, keys: int = 0, pointer: int = 0, refused: int = 0) -> None:
        acc = self._input.setdefault(viewer, _Input())
        acc.keys += keys
        acc.pointer += pointer
        acc.refused += refused
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush_input()
                return
            self._flush_handle = loop.call_later(INPUT_WINDOW, self.flush_input)

    def flush_input(self, viewer: str | None = None) -> None:
        """Write the aggregated input of ``viewer`` (of everyone when None)."""
        if viewer is None:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None
            pending, self._input = self._input, {}
        else:
            acc = self._input.pop(viewer, None)
            pending = {viewer: acc} if acc is not None else {}
        for name, acc in pending.items():
            fields = {k: v for k, v in vars(acc).items() if v}
            if fields:
                self.record("input", name, window_s=INPUT_WINDOW, **fields)

    def paste(self, viewer: str, text: str) -> None:
        """A paste: its size and SHA-256 (of the UTF-8 text), never the text."""
        data = text.encode("utf-8", errors="surrogatepass")
        self.record("paste", viewer, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())

    # -- what viewers write into streams ---------------------------------------------------------

    def capture_started(self, viewer: str, capture: int) -> None:
        """An allowed capture: what the viewer writes into it is counted from now on."""
        self._captures[(viewer, capture)] = _Tally()

    def capture_input(self, viewer: str, capture: int, data: bytes) -> None:
        """``data`` written by ``viewer`` into its capture ``capture`` (counted and hashed)."""
        tally = self._captures.setdefault((viewer, capture), _Tally())
        tally.count += len(data)
        tally.digest.update(data)

    def capture_ended(self, viewer: str, capture: int, reason: str | None = None) -> None:
        """A capture ended: ``stream_end`` with what the viewer wrote during it."""
        tally = self._captures.pop((viewer, capture), None) or _Tally()
        fields: dict[str, Any] = {
            "id": capture,
            "bytes_in": tally.count,
            "sha256_in": tally.digest.hexdigest(),
        }
        if reason is not None:
            fields["reason"] = reason
        self.record("stream_end", viewer, **fields)

    def captures_ended(self, viewer: str | None, reason: str) -> None:
        """End the open captures of ``viewer`` (of everyone when None), with ``reason``."""
        for name, capture in list(self._captures):
            if viewer is None or name == viewer:
                self.capture_ended(name, capture, reason)

    def reopen(self) -> None:
        """Reopen the file (SIGHUP, after log rotation)."""
        if self._file is not None:
            self._file.reopen()

    def close(self) -> None:
        self.flush_input()
        self.captures_ended(None, "vncterm stopped")
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
