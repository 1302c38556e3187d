"""A QMP client over a unix socket (QEMU's ``-qmp unix:PATH,server=on``), on the sans-I/O core
``qmp.protocol``.

It connects, negotiates capabilities, and then runs commands (``await execute(...)``) and hands
asynchronous events to ``on_event``. When the socket is missing, closes (QEMU restarted) or
answers garbage, it reconnects with capped exponential backoff until :meth:`QmpClient.close`;
each trouble is logged once (a reason repeated on every retry is not logged again), nothing is
raised out of the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from ..errors import UsageError
from ..qmp import protocol as qp

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
#: Seconds from connecting to the end of the capabilities negotiation. A client that connects
#: while QEMU is still starting (its socket exists, its monitor is not attached yet) never gets
#: a greeting on that connection (measured with QEMU 7.2): it must try again, soon.
READY_TIMEOUT = 3.0
#: Seconds a command may wait for its reply.
COMMAND_TIMEOUT = 10.0
#: A connection that lived this long resets the backoff.
STABLE_AFTER = 2.0

EventCallback = Callable[[str, dict[str, Any]], None]


class QmpError(Exception):
    """QEMU refused a command (``error_class`` e.g. "DeviceNotFound")."""

    def __init__(self, command: str, error_class: str, desc: str) -> None:
        super().__init__(f"{command}: {error_class}: {desc}")
        self.error_class = error_class
        self.desc = desc


class _Protocol(asyncio.Protocol):
    def __init__(self, client: QmpClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # the connection is the client's from here: bytes may come before connecting returns
        self.transport = cast(asyncio.Transport, transport)
        self.client._conn, self.client._proto = self, qp.QmpProtocol()
        self.client._garbage_logged = False

    def data_received(self, data: bytes) -> None:
        self.client._received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(str(exc) if exc else "closed by QEMU")


class QmpClient:
    """One QMP socket, reconnected until :meth:`close`."""

    def __init__(
        self,
        path: str,
        *,
        on_event: EventCallback | None = None,
        on_ready: Callable[[], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
        min_backoff: float = 0.25,
        max_backoff: float = 5.0,
    ) -> None:
        self.path = path
        self.on_event = on_event
        self.on_ready = on_ready
        self.on_lost = on_lost
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        #: True once capabilities are negotiated, until the connection is lost.
        self.ready = False
        #: The QEMU version of the current connection ("7.2.22").
        self.version = ""
        self.connections = 0
        self._proto: qp.QmpProtocol | None = None
        self._conn: _Protocol | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._problem: str | None = None  # the last trouble logged (not logged again)
        self._garbage_logged = False

    # -- the connection loop ---------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting (in the background)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def _trouble(self, reason: str) -> None:
        """Log a trouble once: the same reason on every retry is not repeated."""
        if reason != self._problem:
            self._problem = reason
            log.warning("QMP %s: %s", self.path, reason)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.min_backoff
        while True:
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_unix_connection(lambda: _Protocol(self), self.path),
                    CONNECT_TIMEOUT,
                )
            except OSError as e:  # TimeoutError included
                self._trouble(f"cannot connect ({e.strerror or 'timeout'}); retrying")
            else:
                since = loop.time()
                timer = loop.call_later(READY_TIMEOUT, self._not_ready, conn)
                reason = await conn.lost
                timer.cancel()
                self._lose(conn, reason)
                if loop.time() - since >= STABLE_AFTER:
                    delay = self.min_backoff
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    def _not_ready(self, conn: _Protocol) -> None:
        """No greeting or no answer to qmp_capabilities in time: try again."""
        if conn is self._conn and not self.ready and conn.transport is not None:
            self._trouble(f"no QMP greeting within {READY_TIMEOUT:g} s; retrying")
            conn.transport.abort()

    def _lose(self, conn: _Protocol, reason: str) -> None:
        """The connection ended: fail its commands, tell the owner."""
        if conn.transport is not None:
            conn.transport.abort()
        was_ready = self.ready
        self._conn, self._proto, self.ready = None, None, False
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionError(f"QMP connection lost: {reason}"))
        if self._task is None:  # closed by its owner
            return
        if was_ready:
            self._trouble(f"connection lost ({reason}); reconnecting")
            if self.on_lost is not None:
                self.on_lost(reason)
        elif self._problem is None or not self._problem.startswith(("not a QMP", "no QMP")):
            self._trouble(f"closed before QMP was ready ({reason}); retrying")

    # -- what the server sends -------------------------------------------------------------------

    def _received(self, conn: _Protocol, data: bytes) -> None:
        proto = self._proto
        if proto is None or conn is not self._conn:
            return
        for event in proto.receive_data(data):
            self._handle(conn, event)
            if self._conn is not conn:
                return
        self._flush()

    def _handle(self, conn: _Protocol, event: qp.Event) -> None:
        if isinstance(event, qp.Greeting):
            self.version = event.version
        elif isinstance(event, qp.Ready):
            self.ready = True
            self.connections += 1
            if self._problem is not None:
                log.info("QMP %s: connected (QEMU %s)", self.path, self.version)
            self._problem = None
            if self.on_ready is not None:
                self.on_ready()
        elif isinstance(event, qp.Reply | qp.Failure):
            fut = self._waiting.pop(event.id, None)
            if fut is not None and not fut.done():
                if isinstance(event, qp.Reply):
                    fut.set_result(event.result)
                else:
                    fut.set_exception(QmpError(event.command, event.error_class, event.desc))
        elif isinstance(event, qp.AsyncEvent):
            if self.on_event is not None:
                try:
                    self.on_event(event.name, event.data)
                except Exception:
                    log.exception("QMP %s: handling event %s failed", self.path, event.name)
        elif event.fatal:
            self._trouble(f"not a QMP server ({event.reason}); retrying")
            if conn.transport is not None:
                conn.transport.abort()
        elif not self._garbage_logged:
            self._garbage_logged = True
            log.warning("QMP %s: ignoring garbage (%s); logged once", self.path, event.reason)

    def _flush(self) -> None:
        conn, proto = self._conn, self._proto
        if conn is not None and proto is not None and conn.transport is not None:
            data = proto.data_to_send()
            if data and not conn.transport.is_closing():
                conn.transport.write(data)

    # -- commands --------------------------------------------------------------------------------

    async def execute(
        self, name: str, arguments: dict[str, Any] | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> Any:
        """Run command ``name``; its result. QmpError when QEMU refuses it, ConnectionError
        when not connected (or the connection is lost first), TimeoutError."""
        proto = self._proto
        if proto is None or not self.ready:
            raise ConnectionError("QMP not connected")
        try:
            cid = proto.command(name, arguments)
        except UsageError as e:
            raise ConnectionError(str(e)) from None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[cid] = fut
        self._flush()
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiting.pop(cid, None)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        conn = self._conn
        if conn is not None:
            self._lose(conn, "closed")
