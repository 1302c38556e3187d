"""Named byte streams offered to viewers through the tunnelled-stream extension.

The console itself is one stream (rendered on the terminal too); ``--stream`` adds others that
are not rendered (a QEMU monitor, say). Every byte a stream produces reaches each capture once
and in order; what a capture client sends goes to the stream's backend.

Slow capture clients: the console is never slowed down, so a capture client that falls more than
``CAPTURE_LIMIT`` bytes behind is disconnected. An unrendered stream instead pushes back on its own
source: it stops reading its backend while any of its capture clients has more than
``PUSHBACK_AT`` bytes waiting, and resumes once all have drained.

Streams come and go (``remove``: their captures end cleanly) and have a state
(``rfb.streams.StreamState``: the guest has the port open or not, vncterm is attached or not),
sent to the viewers that asked for states. A stream connected *on demand* (a device found
through QMP or libvirt) has no backend while nobody captures it: the first capture connects
one, the end of the last lets it go, so the guest sees the host side open and close.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..console.base import Console, DataCallback, StatusCallback
from ..rfb.streams import StreamChange, StreamState

log = logging.getLogger(__name__)

#: A console capture client this far behind is disconnected.
CAPTURE_LIMIT = 8 << 20
#: An unrendered stream stops reading its source while a capture client has this much waiting.
PUSHBACK_AT = 1 << 20


class CaptureClient(Protocol):
    """What the hub needs from a viewer holding captures."""

    def stream_data(self, stream_id: int, data: bytes) -> None: ...
    def stream_ended(self, stream_id: int) -> None: ...
    def stream_changes(self, changes: list[StreamChange]) -> None: ...
    def buffered(self) -> int: ...
    def close(self, reason: str) -> None: ...


@dataclass
class Stream:
    """One named stream and the captures of it."""

    name: str
    backend: Console
    rendered: bool
    captures: list[tuple[CaptureClient, int]] = field(default_factory=list)
    paused: bool = False
    #: For a stream connected on demand: makes a backend for each spell of captures.
    connect: Callable[[], Console] | None = None
    #: Whether the guest has the port open (None: it does not say).
    guest_open: bool | None = None
    #: An on-demand stream's backend is live (it has captures).
    active: bool = False

    @property
    def available(self) -> bool:
        """Offered to viewers: an on-demand stream always, another while attached."""
        return self.connect is not None or self.backend.connected

    def state(self) -> StreamState:
        return StreamState(self.name, self.guest_open, self.backend.connected)


class Unattached(Console):
    """The backend of an on-demand stream while nobody captures it."""

    connected = False

    async def start(self, on_data: DataCallback, on_status: StatusCallback) -> None:
        return None

    def write(self, data: bytes) -> None:
        return None

    async def wait_closed(self) -> int:
        return 0

    def close(self) -> None:
        return None


class StreamHub:
    """All streams of one session and the viewers that can see them."""

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}
        self.clients: list[CaptureClient] = []  # viewers that speak the extension
        self._announced: dict[str, bool] = {}
        self._states: dict[str, StreamState] = {}  # the last state sent of each stream
        #: Told when an on-demand stream gets its first capture (True) or loses its last.
        self.on_demand: Callable[[Stream, bool], None] | None = None

    def add(
        self,
        name: str,
        backend: Console,
        rendered: bool,
        connect: Callable[[], Console] | None = None,
        guest_open: bool | None = None,
    ) -> Stream:
        """A new stream (announced by :meth:`availability_changed`); ``connect`` makes it an
        on-demand stream (``backend`` is then :class:`Unattached` until captured)."""
        stream = Stream(name, backend, rendered, connect=connect, guest_open=guest_open)
        self.streams[name] = stream
        self._announced[name] = False
        return stream

    def remove(self, name: str) -> Stream | None:
        """The stream ``name`` is gone: its captures end, viewers are told; the caller
        closes the backend it returns (None if there was no such stream)."""
        stream = self.streams.pop(name, None)
        if stream is None:
            return None
        for client, stream_id in stream.captures:
            client.stream_ended(stream_id)
        stream.captures.clear()
        self._states.pop(name, None)
        if self._announced.pop(name, False):
            for client in self.clients:
                client.stream_changes([(name, False)])
        if stream.active:
            stream.active = False
            self._demand(stream, False)
        return stream

    def set_open(self, name: str, open: bool | None) -> None:
        """Whether the guest has the stream ``name`` open (None: unknown); viewers that asked
        for states are told when it changes. An unknown name is ignored."""
        stream = self.streams.get(name)
        if stream is None:
            log.debug("state of unknown stream %r ignored", name)
            return
        stream.guest_open = open
        self._send_state(stream)

    def _send_state(self, stream: Stream) -> None:
        if not self._announced.get(stream.name):
            return
        state = stream.state()
        if self._states.get(stream.name) != state:
            self._states[stream.name] = state
            for client in self.clients:
                client.stream_changes([state])

    def _demand(self, stream: Stream, active: bool) -> None:
        if self.on_demand is not None:
            try:
                self.on_demand(stream, active)
            except Exception as e:  # a backend that cannot be made: the stream stays idle
                what = "connect" if active else "close"
                log.warning("stream %r: cannot %s: %s", stream.name, what, e)

    def _release_idle(self) -> None:
        """On-demand streams whose last capture ended let their backend go."""
        for stream in list(self.streams.values()):
            if stream.active and not stream.captures:
                stream.active = False
                self._demand(stream, False)

    def available_names(self) -> list[str]:
        """Streams announced as present (what a viewer joining now is told)."""
        return [name for name, present in self._announced.items() if present]

    # -- viewers ---------------------------------------------------------------------------------

    def join(self, client: CaptureClient) -> None:
        """A viewer announced the extension: it learns every stream that exists now."""
        if client not in self.clients:
            self.clients.append(client)
            names = self.available_names()
            changes: list[StreamChange] = [(name, True) for name in names]
            changes += [self.streams[name].state() for name in names]
            client.stream_changes(changes)

    def leave(self, client: CaptureClient) -> None:
        if client in self.clients:
            self.clients.remove(client)
        for stream in self.streams.values():
            stream.captures = [(c, i) for c, i in stream.captures if c is not client]
        self._release_idle()
        self.check_pushback()

    def start(self, client: CaptureClient, name: str, stream_id: int) -> bool:
        stream = self.streams.get(name)
        if stream is None or not stream.available:
            return False
        stream.captures.append((client, stream_id))
        if stream.connect is not None and not stream.active:
            stream.active = True
            self._demand(stream, True)
        return True

    def held_by(self, client: CaptureClient) -> int:
        """How many captures ``client`` holds now (of every stream)."""
        return sum(c is client for stream in self.streams.values() for c, _ in stream.captures)

    def end(self, client: CaptureClient, stream_id: int) -> None:
        for stream in self.streams.values():
            stream.captures = [
                (c, i) for c, i in stream.captures if not (c is client and i == stream_id)
            ]
        self._release_idle()
        self.check_pushback()

    def route(self, client: CaptureClient, stream_id: int) -> Stream | None:
        """The stream behind a client's capture ``stream_id`` (None if it holds no such capture)."""
        for stream in self.streams.values():
            for c, i in stream.captures:
                if c is client and i == stream_id:
                    return stream
        return None

    # -- streams ---------------------------------------------------------------------------------

    def publish(self, name: str, data: bytes) -> None:
        """Bytes the stream ``name`` produced: to every capture, in order."""
        stream = self.streams.get(name)
        if stream is None:  # removed while its backend still had bytes to hand over
            return
        for client, stream_id in list(stream.captures):
            client.stream_data(stream_id, data)
            waiting = client.buffered()
            if stream.rendered:
                if waiting > CAPTURE_LIMIT:
                    client.close(
                        f"capture of stream {name!r} fell more than "
                        f"{CAPTURE_LIMIT >> 20} MiB behind"
                    )
            elif waiting > PUSHBACK_AT and not stream.paused:
                stream.paused = True
                stream.backend.pause_reading()

    def check_pushback(self) -> None:
        """Resume unrendered streams whose capture clients have drained."""
        for stream in self.streams.values():
            if stream.paused and all(c.buffered() <= PUSHBACK_AT // 4 for c, _ in stream.captures):
                stream.paused = False
                stream.backend.resume_reading()

    def availability_changed(self, name: str) -> None:
        """A backend attached or detached: announce it; end captures of a vanished stream;
        tell its new state."""
        stream = self.streams.get(name)
        if stream is None:
            return
        now = stream.available
        if self._announced.get(name) != now:
            self._announced[name] = now
            if not now:
                for client, stream_id in stream.captures:
                    client.stream_ended(stream_id)
                stream.captures.clear()
                self._states.pop(name, None)
            for client in self.clients:
                client.stream_changes([(name, now)])
        self._send_state(stream)
