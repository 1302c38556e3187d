"""The audit log (``--audit-log FILE`` or ``--audit-log journal``): one JSON object per line.

Every record has ``ts`` (UTC, ISO 8601), ``event`` and, for viewer events, ``viewer`` (its
address label). Events: ``start``, ``stop``, ``connect``, ``refused`` (reason), ``auth``
(``ok``, ``method``, ``subtype``, ``user``, ``view_only``, ``tls``, ``reason``), ``blocked``
(address, seconds), ``disconnect`` (reason), ``input`` (``keys`` key presses, ``paste_bytes``,
``pointer`` events, ``refused`` for input a view-only viewer sent, counted over at most
:data:`INPUT_WINDOW` seconds: a paste or a typing burst is one line, not one per key),
``stream_start`` / ``stream_end``, ``resize``.

With ``journal`` the same records go to systemd's journal through its native datagram socket
(``MESSAGE`` holds the JSON, ``VNCTERM_EVENT`` the event name); no library needed.

A FILE is created 0600 and written through ``outfile.AppendFile``: a write error (a full disk)
is reported once and never stops vncterm; when writing works again, an ``audit_gap`` record
(``missed_bytes``, ``reason``) marks where records are missing.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any

from .outfile import AppendFile, Notice

log = logging.getLogger(__name__)

INPUT_WINDOW = 1.0
JOURNAL_SOCKET = "/run/systemd/journal/socket"


def _gap_record(missed: int, reason: str) -> bytes:
    """The record an audit file gets where records are missing."""
    entry = {"ts": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
             "event": "audit_gap", "missed_bytes": missed, "reason": reason}
    return (json.dumps(entry) + "\n").encode()


@dataclass
class _Input:
    keys: int = 0
    paste_bytes: int = 0
    pointer: int = 0
    refused: int = 0


class AuditLog:
    """Writes audit records; aggregates input per viewer."""

    def __init__(self, target: str, on_notice: Notice | None = None) -> None:
        self.target = target
        self._file: AppendFile | None = None
        self._journal: socket.socket | None = None
        self._journal_lost = 0  # records the journal refused since it last took one
        if target == "journal":
            self._journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._journal.set_inheritable(False)
            self._journal.connect(JOURNAL_SOCKET)
        else:
            self._file = AppendFile(target, "audit log", marker=_gap_record, on_notice=on_notice)
        self._input: dict[str, _Input] = {}
        self._flush_handle: asyncio.TimerHandle | None = None

    def record(self, event: str, viewer: str | None = None, **fields: Any) -> None:
        entry: dict[str, Any] = {
            "ts": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "event": event,
        }
        if viewer is not None:
            entry["viewer"] = viewer
        entry.update(fields)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        if self._file is not None:
            self._file.write((line + "\n").encode())  # reports its own write errors
        elif self._journal is not None:
            msg = (f"MESSAGE={line}\nSYSLOG_IDENTIFIER=vncterm\n"
                   f"VNCTERM_EVENT={event}\nPRIORITY=5\n")
            try:
                if self._journal_lost:  # the journal may have restarted: a new connection
                    self._journal.connect(JOURNAL_SOCKET)
                self._journal.send(msg.encode())
            except OSError as e:
                self._journal_lost += 1
                if self._journal_lost == 1:
                    log.error("audit log %s: %s; records are counted until it works again",
                              self.target, e)
                return
            if self._journal_lost:
                log.warning("audit log %s: working again; %d records were lost", self.target,
                            self._journal_lost)
                self._journal_lost = 0

    # -- input, aggregated -----------------------------------------------------------------------

    def input(self, viewer: str, *, keys: int = 0, paste_bytes: int = 0, pointer: int = 0,
              refused: int = 0) -> None:
        acc = self._input.setdefault(viewer, _Input())
        acc.keys += keys
        acc.paste_bytes += paste_bytes
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

    def close(self) -> None:
        self.flush_input()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
