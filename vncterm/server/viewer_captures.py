"""One viewer's stream captures: what it asks for (StreamStart, StreamEnd) and what it writes
into a stream (StreamData), for the tunnelled-streams extension (``rfb/streams.py``).

A capture is refused to a view-only viewer, past ``--max-captures`` (logged once per viewer),
and for a stream that does not exist; each start, refusal and end goes to the audit log. A viewer
writing faster than the stream's backend takes it stops being read until the backend catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from ..console.base import Console
from ..rfb import events
from ..rfb.connection import ServerConnection
from .security import Gatekeeper
from .streams import CaptureClient, StreamHub

log = logging.getLogger(__name__)

#: A viewer writing to a stream is paused while the stream's backend has this much unwritten.
STREAM_INPUT_PAUSE = 256 * 1024
#: The events this module handles.
CAPTURE_EVENTS = (events.StreamStart, events.StreamEnd, events.StreamData)


class CaptureOwner(CaptureClient, Protocol):
    """The viewer, as its captures need it."""

    conn: ServerConnection
    guard: Gatekeeper
    transport: asyncio.Transport | None

    @property
    def closed(self) -> bool: ...

    def may_control(self) -> bool: ...


class ViewerCaptures:
    """The captures one viewer asks for and the data it writes into streams."""

    def __init__(
        self, viewer: CaptureOwner, hub: StreamHub, max_captures: Callable[[], int]
    ) -> None:
        self.viewer = viewer
        self.hub = hub
        self.max_captures = max_captures
        self._next_stream_id = 1
        self._refused = 0  # refusals for holding too many captures (logged once)
        self._input_paused = False

    def handle(self, ev: events.Event) -> None:
        if isinstance(ev, events.StreamStart):
            self.start(ev.name)
        elif isinstance(ev, events.StreamEnd):
            self.end(ev.stream_id)
        elif isinstance(ev, events.StreamData):
            self.write(ev.stream_id, ev.data)

    def start(self, name: str) -> None:
        """StreamStart: a capture of ``name`` under a new id, or its refusal (StreamEnded)."""
        viewer, conn = self.viewer, self.viewer.conn
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        conn.send_stream_started(stream_id, name)
        quiet = False
        if not viewer.may_control():
            log.warning("%s: capture of %r refused: view-only viewer", viewer, name)
            conn.send_stream_ended(stream_id)
            allowed = False
        elif self.hub.held_by(viewer) >= self.max_captures():
            quiet = self._refused > 0  # a client asking in a loop is logged once
            if not quiet:
                log.warning(
                    "%s: capture of %r refused: it holds %d, the most a viewer may",
                    viewer,
                    name,
                    self.max_captures(),
                )
            self._refused += 1
            conn.send_stream_ended(stream_id)
            allowed = False
        elif not self.hub.start(viewer, name, stream_id):
            log.warning("%s: capture of %r refused: no such stream", viewer, name)
            conn.send_stream_ended(stream_id)
            allowed = False
        else:
            log.info("%s: capturing stream %r as %d", viewer, name, stream_id)
            allowed = True
        audit = viewer.guard.audit
        if audit is not None and not quiet:
            audit.record("stream_start", str(viewer), stream=name, id=stream_id, allowed=allowed)
            if allowed:
                audit.capture_started(str(viewer), stream_id)

    def end(self, stream_id: int) -> None:
        """StreamEnd: the viewer ended one of its captures."""
        log.info("%s: ended capture %d", self.viewer, stream_id)
        self.hub.end(self.viewer, stream_id)
        if self.viewer.guard.audit is not None:
            self.viewer.guard.audit.capture_ended(str(self.viewer), stream_id)

    def write(self, stream_id: int, data: bytes) -> None:
        """StreamData: bytes for the stream behind capture ``stream_id``."""
        viewer = self.viewer
        stream = self.hub.route(viewer, stream_id)
        if stream is None:
            log.debug("%s: data for capture %d that is not open: dropped", viewer, stream_id)
            return
        if viewer.guard.audit is not None:
            viewer.guard.audit.capture_input(str(viewer), stream_id, data)
        stream.backend.write(data)
        if stream.backend.pending_write() > STREAM_INPUT_PAUSE and not self._input_paused:
            # the stream's backend is not keeping up: stop reading this viewer until it is
            self._input_paused = True
            assert viewer.transport is not None
            viewer.transport.pause_reading()
            asyncio.get_running_loop().call_later(0.01, self._check_input, stream.backend)

    def _check_input(self, backend: Console) -> None:
        transport = self.viewer.transport
        if self.viewer.closed or transport is None:
            return
        if backend.pending_write() > STREAM_INPUT_PAUSE // 4:
            asyncio.get_running_loop().call_later(0.01, self._check_input, backend)
            return
        self._input_paused = False
        transport.resume_reading()
