"""The QMP client's protocol core, sans I/O (QEMU's ``docs/interop/qmp-spec.rst``).

QMP is JSON objects, one per line (QEMU ends each with CRLF). The server greets first
(``{"QMP": {...}}``); the client must send ``qmp_capabilities`` before any other command; then
each command ``{"execute": NAME, "arguments": {...}, "id": ID}`` gets one reply carrying the same
id (``{"return": ...}`` or ``{"error": {"class", "desc"}}``), and asynchronous events
(``{"event": NAME, "data": {...}, "timestamp": {...}}``) may come at any time.

:class:`QmpProtocol` takes bytes with :meth:`~QmpProtocol.receive_data` and hands back events;
what it has to send is taken with :meth:`~QmpProtocol.data_to_send`. Nothing the server sends
raises: a line that is too long, not JSON, or not a QMP message is a :class:`Garbage` event
(``fatal`` before the greeting: the peer is not a QMP server). Lines are capped at
``max_line`` bytes and commands in flight at ``max_pending``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError

#: The longest line taken from the server (a query-chardev or qom-list answer is a few KB).
MAX_LINE = 1 << 20
#: Commands that may wait for their replies at once.
MAX_PENDING = 64


@dataclass(frozen=True)
class Greeting:
    """The server's greeting: its QEMU version ("7.2.22")."""

    version: str


@dataclass(frozen=True)
class Ready:
    """``qmp_capabilities`` was accepted: commands may be sent."""


@dataclass(frozen=True)
class Reply:
    """The successful answer to command ``id``."""

    id: int
    command: str
    result: Any


@dataclass(frozen=True)
class Failure:
    """The error answer to command ``id`` (``error_class`` e.g. "DeviceNotFound")."""

    id: int
    command: str
    error_class: str
    desc: str


@dataclass(frozen=True)
class AsyncEvent:
    """An asynchronous event (``VSERPORT_CHANGE``, ``DEVICE_DELETED``, ...)."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Garbage:
    """A line that is not what QMP allows; ``fatal`` when the peer cannot be a QMP server."""

    reason: str
    fatal: bool = False


Event = Greeting | Ready | Reply | Failure | AsyncEvent | Garbage

_CAPABILITIES = "qmp_capabilities"


class QmpProtocol:
    """One QMP connection's state: greeting, negotiation, commands in flight."""

    def __init__(self, max_line: int = MAX_LINE, max_pending: int = MAX_PENDING) -> None:
        self.max_line = max_line
        self.max_pending = max_pending
        self.greeted = False
        self.ready = False
        self._buf = bytearray()
        self._skipping = False  # inside an over-long line, until its newline
        self._out: list[bytes] = []
        self._next_id = 1
        self._pending: dict[int, str] = {}
        self._capabilities_id = 0

    @property
    def pending(self) -> int:
        """Commands sent and not answered yet."""
        return len(self._pending)

    def command(self, name: str, arguments: dict[str, Any] | None = None) -> int:
        """Queue command ``name``; its id (the reply carries it). UsageError before
        :class:`Ready` or past ``max_pending`` commands in flight."""
        if not self.ready:
            raise UsageError(f"QMP command {name!r} before the capabilities negotiation")
        return self._send(name, arguments)

    def _send(self, name: str, arguments: dict[str, Any] | None) -> int:
        if len(self._pending) >= self.max_pending:
            raise UsageError(f"more than {self.max_pending} QMP commands in flight")
        cid = self._next_id
        self._next_id += 1
        msg: dict[str, Any] = {"execute": name, "id": cid}
        if arguments:
            msg["arguments"] = arguments
        self._out.append(json.dumps(msg).encode() + b"\n")
        self._pending[cid] = name
        return cid

    def data_to_send(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out

    def receive_data(self, data: bytes) -> list[Event]:
        """Bytes from the server; the events they complete."""
        events: list[Event] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self.max_line:
                    if not self._skipping:
                        events.append(self._garbage(f"a line longer than {self.max_line} bytes"))
                    self._skipping = True
                    self._buf.clear()
                return events
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if self._skipping:  # the end of an over-long line
                self._skipping = False
                continue
            if len(line) > self.max_line:
                events.append(self._garbage(f"a line longer than {self.max_line} bytes"))
                continue
            if line.strip():
                events.append(self._message(line))

    def _garbage(self, reason: str) -> Garbage:
        return Garbage(reason, fatal=not self.greeted)

    def _message(self, line: bytes) -> Event:
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):
            return self._garbage(f"not JSON: {line[:60]!r}")
        if not isinstance(msg, dict):
            return self._garbage(f"not a JSON object: {line[:60]!r}")
        if not self.greeted:
            return self._greeting(msg)
        if "event" in msg:
            name, data = msg["event"], msg.get("data", {})
            if not isinstance(name, str) or not isinstance(data, dict):
                return self._garbage(f"a malformed event: {line[:60]!r}")
            return AsyncEvent(name, data)
        if "return" in msg or "error" in msg:
            return self._reply(msg, line)
        return self._garbage(f"neither a reply nor an event: {line[:60]!r}")

    def _greeting(self, msg: dict[str, Any]) -> Event:
        info = msg.get("QMP")
        if not isinstance(info, dict):
            return self._garbage("no QMP greeting")
        self.greeted = True
        try:
            v = info["version"]["qemu"]
            version = f"{int(v['major'])}.{int(v['minor'])}.{int(v['micro'])}"
        except (KeyError, TypeError, ValueError):
            version = "unknown"
        self._capabilities_id = self._send(_CAPABILITIES, None)
        return Greeting(version)

    def _reply(self, msg: dict[str, Any], line: bytes) -> Event:
        cid = msg.get("id")
        name = self._pending.pop(cid, None) if isinstance(cid, int) else None
        if name is None or not isinstance(cid, int):
            return self._garbage(f"a reply to no command of ours: {line[:60]!r}")
        error = msg.get("error")
        if error is not None:
            if not isinstance(error, dict):
                error = {}
            failure = Failure(cid, name, str(error.get("class", "")), str(error.get("desc", "")))
            if cid == self._capabilities_id:
                return Garbage(f"qmp_capabilities refused: {failure.desc}", fatal=True)
            return failure
        if cid == self._capabilities_id:
            self.ready = True
            return Ready()
        return Reply(cid, name, msg["return"])
