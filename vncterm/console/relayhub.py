"""The server's side of the pty relay (``ptyrelay.py``): one relay process per event loop,
shared by every pty console, started with the first and stopped with the last.

Each console gets a pipe that the relay splices its pty master into. The relay holds no output
of its own, so when it dies nothing is lost: the pipes it wrote into still hold what it moved
(their write ends died with it, so each reads to an end of file), and the rest is still in the
ptys. The hub then starts another relay and hands every console a new pipe, which the console
reads only after the old one's end: the order is kept. After :data:`MAX_RELAY_RESTARTS`
deaths within :data:`RESTART_WINDOW` seconds (or when no relay can be started, or one cannot
splice a pty) consoles read their pty on the event loop instead: slower, but nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from . import ptyrelay

log = logging.getLogger(__name__)

#: More relay deaths than this within RESTART_WINDOW seconds: consoles read their ptys
#: themselves for the rest of the hub's life.
MAX_RELAY_RESTARTS = 5
RESTART_WINDOW = 60.0
#: How long a message may wait for room in the control socket before the relay is given up on.
SEND_TIMEOUT = 2.0


class RelayClient(Protocol):
    """A pty console as the hub sees it."""

    @property
    def master(self) -> int:
        """The pty master (non-blocking)."""

    def add_pipe(self, fd: int) -> None:
        """Read ``fd`` (a non-blocking pipe) once every pipe handed before it has ended."""

    def pty_ended(self) -> None:
        """The pty reached its end: the last pipe handed over carries the last output."""

    def read_directly(self) -> None:
        """No relay for this pty: read the master itself once every pipe has ended."""


class RelayHub:
    """The relay process and the consoles it serves, for one event loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.loop = loop
        self.clock = clock
        self.proc: subprocess.Popen[bytes] | None = None
        self.given_up = False
        self._control: socket.socket | None = None
        self._clients: dict[int, RelayClient] = {}
        self._relayed: set[int] = set()  # clients the relay serves (not ended, not direct)
        self._next_id = 1
        self._deaths: deque[float] = deque()
        self._splice_refused = False

    def attach(self, client: RelayClient) -> int:
        """Start relaying ``client``'s pty; its id for :meth:`detach`."""
        ident = self._next_id
        self._next_id += 1
        self._clients[ident] = client
        self._relayed.add(ident)
        if self.given_up:
            self._go_direct(ident)
        elif self.proc is not None or self._start():
            self._hand_pipe(ident)
        return ident

    def detach(self, ident: int) -> None:
        """Stop relaying ``ident`` (its console closes its own pipes); the last one stops the
        relay."""
        self._clients.pop(ident, None)
        if ident in self._relayed:
            self._relayed.discard(ident)
            if self._control is not None:
                try:
                    self._send(b"R", ident, ())
                except OSError:
                    pass  # a dead relay drops it anyway
        if not self._clients:
            self.close()

    def close(self) -> None:
        """Stop the relay (it ends when its control socket closes) and forget this hub."""
        self._stop_relay()
        if _hubs.get(self.loop) is self:
            del _hubs[self.loop]

    # -- the relay process -----------------------------------------------------------------

    def _start(self) -> bool:
        """Start a relay; False (and every console reads for itself) when none can be."""
        try:
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError as e:
            self._give_up(f"cannot start the pty relay: {e}")
            return False
        try:
            # -I: not even the relay's own folder on sys.path (this package has a socket.py)
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", ptyrelay.__file__, str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as e:
            parent.close()
            self._give_up(f"cannot start the pty relay: {e}")
            return False
        finally:
            child.close()
        parent.setblocking(False)
        self._control = parent
        self.loop.add_reader(parent, self.poll)
        return True

    def _stop_relay(self) -> int | None:
        """Close the control socket and reap the relay; its exit status."""
        if self._control is not None:
            self.loop.remove_reader(self._control)
            self._control.close()
            self._control = None
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:  # it ends as soon as it sees the socket's end (or has ended: that is why we came)
            return proc.wait(1.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def _relay_died(self) -> None:
        """The control socket ended: the relay is gone. Start another for every console that
        was relayed, or give up when it dies too often."""
        status = self._stop_relay()
        now = self.clock()
        while self._deaths and self._deaths[0] <= now - RESTART_WINDOW:
            self._deaths.popleft()
        self._deaths.append(now)
        if len(self._deaths) > MAX_RELAY_RESTARTS:
            self._give_up(
                f"the pty relay ended {len(self._deaths)} times within"
                f" {RESTART_WINDOW:.0f} s (last status {status})"
            )
            return
        log.warning("pty relay ended with status %s; starting another", status)
        if self._start():
            for ident in sorted(self._relayed):
                self._hand_pipe(ident)

    def _give_up(self, reason: str) -> None:
        log.warning("%s: ptys are read on the event loop from now on", reason)
        self.given_up = True
        for ident in sorted(self._relayed):
            self._go_direct(ident)

    # -- messages --------------------------------------------------------------------------

    def _hand_pipe(self, ident: int) -> None:
        """A new pipe for ``ident``: its write end to the relay with the master, its read end
        to the console."""
        client = self._clients[ident]
        try:
            r, w = os.pipe()
        except OSError as e:
            log.warning("no pipe for a pty (%s)", e)
            self._go_direct(ident)
            return
        # the kernel's default size (64 KiB): the relay grows it when it fills (ptyrelay.py)
        try:
            self._send(b"A", ident, (client.master, w))
        except (BrokenPipeError, ConnectionResetError):
            os.close(r)  # the relay has just died: its successor will get this console
            return
        except OSError as e:
            os.close(r)
            log.warning("cannot hand a pty to the relay (%s)", e)
            self._go_direct(ident)
            return
        finally:
            os.close(w)
        os.set_blocking(r, False)
        client.add_pipe(r)

    def _go_direct(self, ident: int) -> None:
        self._relayed.discard(ident)
        self._clients[ident].read_directly()

    def _send(self, op: bytes, ident: int, fds: Iterable[int]) -> None:
        """One message to the relay, waiting at most SEND_TIMEOUT for room."""
        assert self._control is not None
        msg, fds = ptyrelay.HEADER.pack(op, ident), list(fds)
        while True:
            try:
                socket.send_fds(self._control, [msg], fds)
                return
            except BlockingIOError:
                if not select.select([], [self._control], [], SEND_TIMEOUT)[1]:
                    raise TimeoutError("the pty relay takes no messages") from None

    def poll(self) -> None:
        """Take the relay's messages (a console at its pipe's end calls this too: an end of
        the pty is told before the pipe closes)."""
        while self._control is not None:
            try:
                data = self._control.recv(64)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._relay_died()
                return
            if len(data) != ptyrelay.HEADER.size:
                continue
            op, ident = ptyrelay.HEADER.unpack(data)
            if ident not in self._relayed:
                continue
            if op == b"E":
                self._relayed.discard(ident)
                self._clients[ident].pty_ended()
            elif op == b"F":
                if not self._splice_refused:  # the same for every pty of this kernel: once
                    self._splice_refused = True
                    log.warning(
                        "the pty relay cannot splice a pty: such ptys are read on the event loop"
                    )
                self._go_direct(ident)


_hubs: dict[asyncio.AbstractEventLoop, RelayHub] = {}


def shared_hub(clock: Callable[[], float] = time.monotonic) -> RelayHub:
    """The running loop's hub (``clock`` is used only when this call creates it)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = RelayHub(loop, clock)
    return hub
