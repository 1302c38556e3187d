"""A command on a new pty: the default console backend.

The child runs in its own session with the pty as controlling terminal, TERM=xterm-256color and
the window size set; it inherits no descriptor of ours (close_fds). The pty master is read
continuously by the process's shared relay (``relayhub.py``, ``ptyrelay.py``: a pty hands out
~4 KiB per read), which splices it into pipes that the event loop drains in large reads, so
the program never waits for viewers. Keys and pastes are written to the master from the event
loop.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import signal
import struct
import subprocess
import termios
import time
from collections import deque
from typing import Any

from .base import Console, DataCallback, StatusCallback
from .childsetup import reset_signals
from .relayhub import RelayHub, shared_hub

log = logging.getLogger(__name__)

MAX_PENDING_WRITE = 4 << 20  # keys and pastes waiting for the program to read them
#: How long to keep reading after the command exits while something else holds the pty open.
EOF_GRACE = 0.5
#: How much of the relay's output is handed to the terminal at once adapts to how fast the
#: terminal takes it: about READ_TIME of work per read (a frame at 60 fps), within these
#: bounds. Plain text floods then go in 1 MiB pieces (the flood path gains from long
#: stretches: 31-34 MB/s at 128 KiB, 34-40 at 512 KiB end to end), colour in ~200 KiB.
READ_TIME = 0.016
#: ... and where one event loop serves many consoles (a host), shorter turns, so a flood on one
#: keeps a quiet neighbour's key echo prompt. Measured beside a watched 20 MB flood (bench_host,
#: quiet 2-core machine): key-to-pixels p50/p99 18.7/30.4 ms at 4 ms turns, 11.5/17.8 ms at 2 ms,
#: for 4 floods at once 78.7 -> 72.4 MB/s together.
READ_TIME_SHARED = 0.002
READ_MIN, READ_MAX = 64 * 1024, 1 << 20
#: Reads of what already arrived, at most, when the command exited but the pty lives on.
DRAIN_READS = 64
#: How long a program has, after the SIGHUP of ``close()``, before its process group gets
#: SIGKILL (a program that ignores SIGHUP must not keep vncterm from stopping, nor outlive it).
KILL_GRACE = 3.0


def _set_ctty() -> None:  # runs in the child between fork and exec
    reset_signals()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _start(argv: list[str], keep: int, give: int, **popen: Any) -> subprocess.Popen[bytes]:
    """Popen ``argv``; ``give`` (the child's end of something) is closed here either way,
    ``keep`` (our end) too when the child cannot be started."""
    try:
        return subprocess.Popen(argv, **popen)
    except OSError:
        os.close(keep)
        raise
    finally:
        os.close(give)


class SpawnConsole(Console):
    """Runs ``argv`` on a new pseudo-terminal of ``cols`` x ``rows``."""

    can_resize = True

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict[str, str] | None = None):
        self.argv = argv
        self.cols, self.rows = cols, rows
        self.env = dict(os.environ if env is None else env)
        self.env["TERM"] = "xterm-256color"
        self.env.pop("COLUMNS", None)
        self.env.pop("LINES", None)
        self.master = -1
        self.proc: subprocess.Popen[bytes] | None = None
        self._pending = bytearray()
        self._writing = False
        self._closed: asyncio.Future[int] | None = None
        self._on_data: DataCallback | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._eof: asyncio.Future[None] | None = None
        self._hub: RelayHub | None = None
        self._relay_id = 0
        self._killer: asyncio.TimerHandle | None = None
        self._pipes: deque[int] = deque()  # the relay's pipes (read ends), oldest first
        self._reading = -1  # the descriptor being read: the oldest pipe, or the master
        self._ended = False  # the relay saw the pty's end: the last pipe's end is the output's
        self._direct = False  # no relay: read the master once the pipes are done
        self._read_size = READ_MIN
        #: Seconds of terminal work per read during a flood (READ_TIME, or READ_TIME_SHARED).
        self.read_time = READ_TIME

    async def start(self, on_data: DataCallback, on_status: StatusCallback) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._on_data = on_data
        self._closed = loop.create_future()
        self._eof = loop.create_future()
        master, slave = os.openpty()
        self._set_winsize(master, self.cols, self.rows)
        self.proc = _start(
            self.argv,
            keep=master,
            give=slave,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=self.env,
            start_new_session=True,
            preexec_fn=_set_ctty,
            close_fds=True,
        )
        os.set_blocking(master, False)
        self.master = master
        self._hub = shared_hub()
        self._relay_id = self._hub.attach(self)
        self._reaper = asyncio.ensure_future(self._reap())
        on_status(f"started {self.argv[0]} (pid {self.proc.pid})")

    # -- what the relay hub calls (relayhub.RelayClient) ------------------------------------

    def add_pipe(self, fd: int) -> None:
        self._pipes.append(fd)
        self._read_next()

    def pty_ended(self) -> None:
        self._ended = True
        self._read_next()

    def read_directly(self) -> None:
        self._direct = True
        self._read_next()

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _set_winsize(fd: int, cols: int, rows: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _read_next(self) -> None:
        """Unless something is being read: read the oldest pipe; with none left, the master
        (no relay) or nothing (the output's end, or waiting for the relay's successor)."""
        if self._reading >= 0 or self._eof is None or self._eof.done():
            return
        assert self._loop is not None
        if self._pipes:
            self._reading = self._pipes[0]
        elif self._direct and not self._ended and self.master >= 0:
            self._reading = self.master
        else:
            if self._ended:
                self._eof.set_result(None)
            return
        self._loop.add_reader(self._reading, self._readable)

    def _readable(self) -> None:
        """Hand what arrived to the terminal; at the end of what is read, go on to the next."""
        if self._drain_once() is None:
            self._source_ended()

    def _source_ended(self) -> None:
        """The pipe or master being read ended. A pipe ends when its relay let it go: the
        pty's end (told before, so :meth:`RelayHub.poll` sees it), or the relay's death."""
        assert self._loop is not None
        fd, self._reading = self._reading, -1
        self._loop.remove_reader(fd)
        if fd == self.master:
            self._ended = True
        else:
            os.close(self._pipes.popleft())
            if not self._pipes and not self._ended and self._hub is not None:
                self._hub.poll()  # may hand a pipe, tell the pty's end, or give up
        self._read_next()

    def _drain_once(self) -> bool | None:
        """One read of what is being read: True when it had data, False when it had none yet,
        None at its end."""
        try:
            data = os.read(self._reading, self._read_size)
        except BlockingIOError:
            return False
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the master's end (every slave descriptor closed)
                log.warning("pty read failed: %s", e)
            return None
        if not data:
            return None
        assert self._on_data is not None
        start = time.perf_counter()
        self._on_data(data)
        if len(data) >= READ_MIN:  # a flood: size the next read to READ_TIME of work
            rate = len(data) / max(time.perf_counter() - start, 1e-4)
            self._read_size = min(READ_MAX, max(READ_MIN, int(rate * self.read_time)))
        return True

    def _drain_now(self) -> None:
        """Take what has already arrived, without waiting (a bounded number of reads)."""
        for _ in range(DRAIN_READS):
            if self._reading < 0:
                return
            got = self._drain_once()
            if got is None:
                self._source_ended()
            elif not got:
                return

    def _stop_reading(self) -> None:
        """Let the relay and the pipes go, and any pending write."""
        assert self._loop is not None
        if self._reading >= 0:
            self._loop.remove_reader(self._reading)
            self._reading = -1
        while self._pipes:
            os.close(self._pipes.popleft())
        if self._hub is not None:
            hub, self._hub = self._hub, None
            hub.detach(self._relay_id)
        if self._eof is not None and not self._eof.done():
            self._eof.set_result(None)
        if self.master >= 0 and self._writing:
            self._loop.remove_writer(self.master)
            self._writing = False

    async def _reap(self) -> None:
        """Wait for the child; then take what it left in the pty and report its status."""
        assert self.proc is not None and self._closed is not None
        status = await wait_exit(self.proc)
        # The kernel hands pty output over asynchronously: keep reading until the pty reports
        # end of file (every slave descriptor closed), or briefly if a background process of
        # the command still holds it open.
        assert self._eof is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._eof), EOF_GRACE)
        except TimeoutError:  # what the relay already moved is not lost
            self._drain_now()
        self._stop_reading()
        if self._killer is not None:
            self._killer.cancel()
        if not self._closed.done():
            self._closed.set_result(128 - status if status < 0 else status)

    def write(self, data: bytes) -> None:
        if self.master < 0 or (self._closed is not None and self._closed.done()):
            return
        if len(self._pending) + len(data) > MAX_PENDING_WRITE:
            log.warning("console input dropped: %d bytes already waiting", len(self._pending))
            return
        self._pending += data
        self._flush()

    def _flush(self) -> None:
        while self._pending:
            try:
                n = os.write(self.master, self._pending[:65536])
            except BlockingIOError:
                break
            except OSError as e:
                log.warning("pty write failed: %s", e)
                self._pending.clear()
                break
            del self._pending[:n]
        assert self._loop is not None
        if self._pending and not self._writing:
            self._loop.add_writer(self.master, self._flush)
            self._writing = True
        elif not self._pending and self._writing:
            self._loop.remove_writer(self.master)
            self._writing = False

    def resize(self, cols: int, rows: int) -> bool:
        self.cols, self.rows = cols, rows
        if self.master >= 0:
            self._set_winsize(self.master, cols, rows)  # the kernel sends SIGWINCH
        return True

    async def wait_closed(self) -> int:
        assert self._closed is not None, "start() first"
        return await asyncio.shield(self._closed)

    async def gone(self) -> None:
        if self._closed is not None:
            await asyncio.shield(self._closed)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGHUP)
            if self._loop is not None and self._killer is None and not self._loop.is_closed():
                self._killer = self._loop.call_later(KILL_GRACE, self._kill)
        if self._loop is not None:
            self._stop_reading()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            log.warning(
                "console: %s is still running %.0f s after SIGHUP: SIGKILL",
                self.argv[0],
                KILL_GRACE,
            )
            self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        """``signum`` to the child's process group (it leads its own session)."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            pass


async def wait_exit(proc: subprocess.Popen[bytes]) -> int:
    """The child's exit status, without a thread waiting for each child: its pidfd (Linux 5.3)
    becomes readable when it exits. A thread of the loop's default pool per child would starve
    the pool (a handful of threads) once a process has a few more consoles: their exits went
    unseen, and so did everything else queued there."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # reaped already (its status is kept), or no pidfd
        return await loop.run_in_executor(None, proc.wait)
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    try:
        loop.add_reader(pidfd, readable)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)
    return proc.wait()
