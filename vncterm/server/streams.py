"""Named byte streams offered to viewers through the tunnelled-stream extension.

The console itself is one stream (rendered on the terminal too); ``--stream`` adds others that
are not rendered (a QEMU monitor, say). Every byte a stream produces reaches each capture once
and in order; what a capture client sends goes to the stream's backend.

Slow capture clients: the console is never slowed down, so a capture client that falls more than
``CAPTURE_LIMIT`` bytes behind is disconnected. An unrendered stream instead pushes back on its own
source: it stops reading its backend while any of its capture clients has more than
``PUSHBACK_AT`` bytes waiting, and resumes once all have drained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from ..console.base import Console

log = logging.getLogger(__name__)

#: A console capture client this far behind is disconnected.
CAPTURE_LIMIT = 8 << 20
#: An unrendered stream stops reading its source while a capture client has this much waiting.
PUSHBACK_AT = 1 << 20


class CaptureClient(Protocol):
    """What the hub needs from a viewer holding captures."""

    def stream_data(self, stream_id: int, data: bytes) -> None: ...
    def stream_ended(self, stream_id: int) -> None: ...
    def stream_changes(self, changes: list[tuple[str, bool]]) -> None: ...
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
    #: Whether the guest has the port open (None: it does not say).
    guest_open: bool | None = None

    @property
    def available(self) -> bool:
        return self.backend.connected


class StreamHub:
    """All streams of one session and the viewers that can see them."""

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}
        self.clients: list[CaptureClient] = []  # viewers that speak the extension
        self._announced: dict[str, bool] = {}

    def add(self, name: str, backend: Console, rendered: bool) -> Stream:
        stream = Stream(name, backend, rendered)
        self.streams[name] = stream
        self._announced[name] = False
        return stream

    def remove(self, name: str) -> Stream | None:
        """Forget stream ``name`` (unplugged): its captures end and clients are told."""
        stream = self.streams.pop(name, None)
        if stream is None:
            return None
        for client, stream_id in stream.captures:
            client.stream_ended(stream_id)
        stream.captures.clear()
        if self._announced.pop(name, False):
            for client in self.clients:
                client.stream_changes([(name, False)])
        return stream

    def set_open(self, name: str, open: bool | None) -> None:
        """Whether the guest has the stream ``name`` open (minimal: noted, not yet sent)."""
        stream = self.streams.get(name)
        if stream is not None:
            stream.guest_open = open

    def available_names(self) -> list[str]:
        """Streams announced as present (what a viewer joining now is told)."""
        return [name for name, present in self._announced.items() if present]

    # -- viewers ---------------------------------------------------------------------------------

    def join(self, client: CaptureClient) -> None:
        """A viewer announced the extension: it learns every stream that exists now."""
        if client not in self.clients:
            self.clients.append(client)
            client.stream_changes([(name, True) for name in self.available_names()])

    def leave(self, client: CaptureClient) -> None:
        if client in self.clients:
            self.clients.remove(client)
        for stream in self.streams.values():
            stream.captures = [(c, i) for c, i in stream.captures if c is not client]
        self.check_pushback()

    def start(self, client: CaptureClient, name: str, stream_id: int) -> bool:
        stream = self.streams.get(name)
        if stream is None or not stream.available:
            return False
        stream.captures.append((client, stream_id))
        return True

    def held_by(self, client: CaptureClient) -> int:
        """How many captures ``client`` holds now (of every stream)."""
        return sum(c is client for stream in self.streams.values() for c, _ in stream.captures)

    def end(self, client: CaptureClient, stream_id: int) -> None:
        for stream in self.streams.values():
            stream.captures = [
                (c, i) for c, i in stream.captures if not (c is client and i == stream_id)
            ]
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
        stream = self.streams[name]
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
        """A backend attached or detached: announce it; end captures of a vanished stream."""
        stream = self.streams.get(name)
        if stream is None:  # removed meanwhile
            return
        now = stream.available
        if self._announced.get(name) == now:
            return
        self._announced[name] = now
        if not now:
            for client, stream_id in stream.captures:
                client.stream_ended(stream_id)
            stream.captures.clear()
        for client in self.clients:
            client.stream_changes([(name, now)])
