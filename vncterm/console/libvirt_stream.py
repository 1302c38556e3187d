"""A libvirt domain's character device read through a libvirt stream, as a console.

``virDomainOpenConsole`` reaches a domain's **pty** serial or console (also over a remote URI,
``qemu+ssh://``), ``virDomainOpenChannel`` its channels. libvirt lets one client hold a pty
console at a time: while ``virsh console`` holds it, opening fails with "Active console session
exists" and this backend retries with backoff (0.25 s doubling to 5 s), the status row saying
so; with ``force`` (``--libvirt-force-console``) it takes the console over instead when it
first opens it (``VIR_DOMAIN_CONSOLE_FORCE``: the other holder's stream ends), but whoever takes
it from vncterm afterwards (``virsh console --force``) keeps it: vncterm then waits, so two
forcing holders never take it back and forth. A guest that is gone (destroyed,
shut down) ends the retries for good: :meth:`LibvirtStreamConsole.domain_gone`.

The stream is non-blocking; libvirt's calls run off the event loop
(:mod:`vncterm.console.libvirt_thread`): the stream is read in its event callback on libvirt's
thread, writes are queued here and sent there once the stream is writable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from .libvirt_thread import call, call_soon, libvirt_module
from .reattach import MAX_PENDING_WRITE, ReattachingConsole

log = logging.getLogger(__name__)

#: Most bytes read from the stream per readable event (then other streams get their turn).
READ_CHUNK: Final = 64 << 10
READS_PER_EVENT: Final = 16

#: Sends a serial BREAK for this device (QMP ``chardev-send-break`` through libvirt); called on
#: a worker thread, it blocks until QEMU answered.
Breaker = Callable[[], None]


class LibvirtStreamConsole(ReattachingConsole):
    """The device ``alias`` (None: the domain's first console) of the domain ``lookup()``
    returns, through a libvirt stream; ``channel`` opens a channel instead of a console."""

    attaching = "opening"

    def __init__(
        self,
        lookup: Callable[[], Any],
        alias: str | None,
        description: str,
        *,
        channel: bool = False,
        force: bool = False,
        breaker: Breaker | None = None,
        max_pending_write: int = MAX_PENDING_WRITE,
    ) -> None:
        super().__init__(description, max_pending_write=max_pending_write)
        self.lookup = lookup
        self.alias = alias
        self.channel = channel
        self.force = force
        #: Force the next opening: once someone took the console from us, we wait instead.
        self._force_next = force
        self.breaker = breaker
        self._stream: Any = None
        self._lost: asyncio.Future[str] | None = None
        self._out = bytearray()  # bytes the stream did not take yet
        self._paused = False
        self._gone: str | None = None
        self._breaking = False  # writes wait until the BREAK was sent (the SysRq key follows it)
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Guards the stream and the write queue, shared with libvirt's thread.
        self._lock = threading.Lock()

    # -- attaching (on the event loop) ----------------------------------------------------------

    async def _attach(self) -> asyncio.Future[str]:
        libvirt = libvirt_module()
        if self._gone is not None:
            raise OSError(0, self._gone)
        try:
            stream = await call(self._open)
        except libvirt.libvirtError as e:
            raise OSError(0, e.get_error_message() or str(e)) from None
        if self._gone is not None:  # the guest went while we opened
            call_soon(stream.abort)
            raise OSError(0, self._gone)
        self._loop = asyncio.get_running_loop()
        self._lost = self._loop.create_future()
        with self._lock:
            self._stream = stream
            self._out.clear()
        try:
            stream.eventAddCallback(self._events(), self._on_event, None)
        except libvirt.libvirtError as e:
            raise OSError(0, e.get_error_message() or str(e)) from None
        self._attached()
        return self._lost

    def _open(self) -> Any:
        """On a worker thread: the domain's device as a new non-blocking stream."""
        libvirt = libvirt_module()
        dom = self.lookup()
        stream = dom.connect().newStream(libvirt.VIR_STREAM_NONBLOCK)
        if self.channel:
            flags = libvirt.VIR_DOMAIN_CHANNEL_FORCE * self._force_next
            dom.openChannel(self.alias, stream, flags)
        else:
            dom.openConsole(self.alias, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE * self._force_next)
        return stream

    def _events(self) -> int:
        libvirt = libvirt_module()
        events: int = libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
        if not self._paused:
            events |= libvirt.VIR_STREAM_EVENT_READABLE
        if self._out and not self._breaking:
            events |= libvirt.VIR_STREAM_EVENT_WRITABLE
        return events

    def _update_events(self) -> None:
        libvirt = libvirt_module()
        stream = self._stream
        if stream is None:
            return
        try:
            stream.eventUpdateCallback(self._events())
        except libvirt.libvirtError as e:
            self._lose(e.get_error_message() or "stream error")

    def _lose(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)

    def _detach(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            self._out.clear()
        if stream is not None:
            self._force_next = False  # taken from us (or lost): never take it back by force
        self.connected = False
        if stream is None:
            return
        try:
            stream.eventRemoveCallback()
        except Exception:  # libvirtError: the stream is already broken
            pass
        call_soon(stream.abort)

    def _give_up(self, reason: str) -> str | None:
        return self._gone

    def connection_lost(self, reason: str) -> None:
        """The libvirt connection broke (its streams send no event then): attach again."""
        self._lose(reason)

    def domain_gone(self, reason: str) -> None:
        """The guest is gone (``reason``: "destroyed", "shut down"...): stop for good; the
        last status says so."""
        self._gone = reason
        self._lose(reason)
        if self._stream is None and self._task is not None and not self._task.done():
            self._task.cancel()  # between attempts: no retry will come
            self._status(reason)

    # -- events (on libvirt's thread) ------------------------------------------------------------

    def _on_event(self, stream: Any, events: int, _opaque: object) -> None:
        libvirt = libvirt_module()
        loop = self._loop
        if loop is None or stream is not self._stream:
            return
        data = b""
        reason = None
        try:
            if events & libvirt.VIR_STREAM_EVENT_READABLE and not self._paused:
                data, reason = self._read(stream)
            if events & libvirt.VIR_STREAM_EVENT_WRITABLE:
                self._flush(stream)
            if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
                reason = reason or "the stream ended"
        except libvirt.libvirtError as e:
            reason = e.get_error_message() or "stream error"
        try:
            loop.call_soon_threadsafe(self._on_loop, stream, data, reason)
        except RuntimeError:  # the loop is closed
            pass

    def _read(self, stream: Any) -> tuple[bytes, str | None]:
        chunks: list[bytes] = []
        for _ in range(READS_PER_EVENT):
            data = stream.recv(READ_CHUNK)
            if data == -2:  # would block
                break
            if not data:
                return b"".join(chunks), "end of stream (the guest's device closed)"
            chunks.append(bytes(data))
        return b"".join(chunks), None

    def _flush(self, stream: Any) -> None:
        with self._lock:
            while self._out and stream is self._stream and not self._breaking:
                sent = stream.send(bytes(self._out[:READ_CHUNK]))
                if sent == -2 or sent <= 0:
                    break
                del self._out[:sent]
            if (not self._out or self._breaking) and stream is self._stream:
                stream.eventUpdateCallback(self._events())

    def _on_loop(self, stream: Any, data: bytes, reason: str | None) -> None:
        """Back on the event loop: hand over what was read, note a loss."""
        if stream is not self._stream:
            return
        if data and self._on_data is not None:
            self._on_data(data)
        if reason is not None:
            self._lose(reason)

    # -- the Console interface -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue bytes for the guest (sent on libvirt's thread once the stream is writable);
        dropped while detached or beyond the write cap."""
        if not data or not self._may_queue(len(self._out), data, self._stream is not None):
            return
        with self._lock:
            was_empty = not self._out
            self._out += data
        if was_empty:
            self._update_events()

    def pending_write(self) -> int:
        return len(self._out)

    def send_break(self) -> bool:
        """A serial BREAK through the breaker (QMP passthrough) when there is one; keys typed
        meanwhile are sent after it (the SysRq letter must follow the BREAK)."""
        breaker, loop = self.breaker, self._loop
        if breaker is None or loop is None or not self.connected or self._breaking:
            return False
        self._breaking = True

        def send() -> None:  # on a worker thread
            try:
                breaker()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is closed
                    loop.call_soon_threadsafe(self._break_sent)

        call_soon(send)
        return True

    def _break_sent(self) -> None:
        self._breaking = False
        self._update_events()

    def pause_reading(self) -> None:
        self._paused = True
        self._update_events()

    def resume_reading(self) -> None:
        self._paused = False
        self._update_events()
