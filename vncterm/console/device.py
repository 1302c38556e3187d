"""An existing tty or pty (a serial port, ``-serial pty`` of QEMU, a USB adapter) as a console.

The device is opened without becoming our controlling terminal, switched to raw mode (8 bits,
no echo, no signals, no CR/LF translation, no flow control) at an optional baud rate, and read
without blocking from the event loop. When it goes away (EIO/EOF: the pty's other end closed, a
USB adapter unplugged) the status says so and the path is reopened with capped exponential
backoff until :meth:`DeviceConsole.close`; its original settings are restored on detach.

Pseudo-terminals are different: the number of a pty whose other side closed goes to the next
program that asks for a pty (a user's ssh login, say), so ``/dev/pts/N`` given as the path is
never reopened: the console stops and says why. A symlink that the guest's manager keeps
pointing at the current pty is followed instead: it is resolved again on every attempt, and
attached only when it points at a new pty (the link was replaced, or points elsewhere) rather
than at the one that closed. A tty that is some process's controlling terminal (a login's
shell, found by ``tty_nr`` in ``/proc/PID/stat``: ``TIOCGSID`` answers only for the caller's
own terminal) is refused, so vncterm never reads another session's keystrokes.
:meth:`send_break` runs ``tcsendbreak`` (which sleeps 0.25 to 0.5 s) in a worker thread on a
real serial tty. On a pty (QEMU's ``-serial pty``) Linux accepts tcsendbreak and does nothing
(the pty driver has no break control), so a pty reports that it cannot carry a BREAK.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
import termios
from typing import Any, Final

from .reattach import MAX_PENDING_WRITE, ReattachingConsole

log = logging.getLogger(__name__)

_GONE: Final = frozenset({errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF})
#: Linux device majors of pseudo-terminal slaves: BSD-style (3) and Unix98 (136-143).
PTY_SLAVE_MAJORS: Final = frozenset({3, *range(136, 144)})


def is_pty_slave(rdev: int) -> bool:
    """Whether device ``rdev`` is the terminal end of a pseudo-terminal (not a serial line)."""
    return os.major(rdev) in PTY_SLAVE_MAJORS


def controlling_process(rdev: int) -> int | None:
    """The pid of a process whose controlling terminal is device ``rdev`` (field ``tty_nr`` of
    ``/proc/PID/stat``), or None."""
    major, minor = os.major(rdev), os.minor(rdev)
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    line = f.read()
                tty_nr = int(line[line.rindex(b")") + 2 :].split()[4])
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile, or unreadable
            if (
                tty_nr
                and ((tty_nr >> 8) & 0xFFF) == major
                and ((tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)) == minor
            ):
                return int(entry.name)
    return None


def baud_constant(baud: int) -> int:
    """The termios speed constant for ``baud`` (ValueError when the platform has none)."""
    value = getattr(termios, f"B{baud}", None)
    if not isinstance(value, int) or baud <= 0:
        raise ValueError(f"unsupported baud rate {baud}")
    return value


def make_raw(attrs: list[Any], speed: int | None) -> list[Any]:
    """A copy of tcgetattr() ``attrs`` set like cfmakeraw(3), plus CLOCAL/CREAD and ``speed``."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    iflag &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
        | termios.IXOFF
    )
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag &= ~(termios.CSIZE | termios.PARENB | termios.CRTSCTS)
    cflag |= termios.CS8 | termios.CLOCAL | termios.CREAD
    cc = list(cc)
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    if speed is not None:
        ispeed = ospeed = speed
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


class DeviceConsole(ReattachingConsole):
    """A tty/pty at ``path``, raw, at ``baud`` (unchanged when None), reopened when it returns."""

    attaching = "opening"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        baud: int | None = None,
        raw: bool = True,
        min_backoff: float = 0.25,
        max_backoff: float = 5.0,
        max_pending_write: int = MAX_PENDING_WRITE,
    ) -> None:
        self.path = os.fspath(path)
        super().__init__(
            self.path,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            max_pending_write=max_pending_write,
        )
        self.speed = baud_constant(baud) if baud is not None else None
        self.raw = raw
        self.fd = -1
        self._saved: list[Any] | None = None
        self._pending = bytearray()
        self._writer = False
        self._lost: asyncio.Future[str] | None = None
        self._paused = False
        #: The pty attached now: (its path, the link's identity or None for a plain path).
        self._pty: tuple[str, tuple[int, int] | None] | None = None
        #: The pty that closed (never attached again through the same link).
        self._closed_pty: tuple[str, tuple[int, int] | None] | None = None

    def _resolve(self) -> tuple[str, tuple[int, int] | None]:
        """The device the path names now, and the link's identity (inode, change time) when
        the path is a symlink (None otherwise)."""
        st = os.lstat(self.path)
        if not stat.S_ISLNK(st.st_mode):
            return self.path, None
        return os.path.realpath(self.path), (st.st_ino, st.st_ctime_ns)

    def _give_up(self, reason: str) -> str | None:
        """A pty given by its own path is never reopened (its number is reused)."""
        pty, self._pty = self._pty, None
        if pty is not None:
            self._closed_pty = pty
        plain_pty = pty is not None and pty[1] is None
        if plain_pty or (
            pty is None
            and self.connections == 0
            and os.path.realpath(self.path).startswith("/dev/pts/")
            and not os.path.islink(self.path)
        ):
            return (
                f"stopped: {self.path} {'closed' if plain_pty else f'failed ({reason})'}; "
                "a pty is never reopened (its number goes to the next program that asks "
                "for one): give a symlink the guest's manager keeps current"
            )
        return None

    def _open(self) -> int:
        path, link = self._resolve()
        if link is not None and (path, link) == self._closed_pty:
            raise OSError(errno.EAGAIN, f"{self.path} still points at {path}, which closed")
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            rdev = os.fstat(fd).st_rdev
            owner = controlling_process(rdev) if os.isatty(fd) else None
            if owner is not None:
                raise OSError(
                    errno.EBUSY,
                    f"{path} is the controlling terminal of process "
                    f"{owner} (another session): refused",
                )
            if os.isatty(fd):
                saved = termios.tcgetattr(fd)
                if self.raw or self.speed is not None:
                    attrs = make_raw(saved, self.speed) if self.raw else list(saved)
                    if not self.raw and self.speed is not None:
                        attrs[4] = attrs[5] = self.speed
                    termios.tcsetattr(fd, termios.TCSANOW, attrs)
                self._saved = saved
            else:
                log.warning("%s is not a terminal: no raw mode, baud or break", self.path)
                self._saved = None
        except BaseException:
            os.close(fd)
            raise
        self._pty = (path, link) if is_pty_slave(rdev) else None
        return fd

    async def _attach(self) -> asyncio.Future[str]:
        assert self._loop is not None
        loop = self._loop
        self.fd = self._open()
        self._lost = lost = loop.create_future()
        if not self._paused:
            loop.add_reader(self.fd, self._readable)
        self._attached()
        return lost

    def _gone(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
        if self._loop is not None and self.fd >= 0:
            self._loop.remove_reader(self.fd)
            if self._writer:
                self._loop.remove_writer(self.fd)
                self._writer = False

    def _detach(self) -> None:
        fd, self.fd = self.fd, -1
        self.connected = False
        self._pending.clear()
        if fd < 0:
            return
        if self._loop is not None:
            self._loop.remove_reader(fd)
            if self._writer:
                self._loop.remove_writer(fd)
        self._writer = False
        if self._saved is not None:
            try:
                termios.tcsetattr(fd, termios.TCSANOW, self._saved)
            except (OSError, termios.error):
                pass
        os.close(fd)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._gone(exc.strerror or "read error")
            return
        if not data:
            self._gone("end of file")
            return
        if self._on_data is not None:
            self._on_data(data)

    def _flush(self) -> None:
        while self._pending and self.fd >= 0:
            try:
                n = os.write(self.fd, self._pending)
            except BlockingIOError:
                break
            except OSError as exc:
                self._pending.clear()
                self._gone(exc.strerror or "write error")
                return
            del self._pending[:n]
        assert self._loop is not None
        if self._pending and not self._writer and self.fd >= 0:
            self._loop.add_writer(self.fd, self._flush)
            self._writer = True
        elif not self._pending and self._writer:
            self._loop.remove_writer(self.fd)
            self._writer = False

    def write(self, data: bytes) -> None:
        """Queue bytes for the device; dropped while detached or beyond the write cap."""
        if data and self._may_queue(len(self._pending), data):
            self._pending += data
            if not self._writer:
                self._flush()

    def send_break(self) -> bool:
        """Start a serial BREAK (tcsendbreak in a thread); False when detached, not a tty, or
        a pty (where a break goes nowhere)."""
        if not self.connected or self._saved is None or self._pty or self._loop is None:
            return False
        fd = os.dup(self.fd)  # ours until the thread is done, even if the device goes away

        def brk() -> None:
            try:
                termios.tcsendbreak(fd, 0)
            except (OSError, termios.error) as exc:
                log.warning("%s: break failed: %s", self.path, exc)
            finally:
                os.close(fd)

        self._loop.run_in_executor(None, brk)
        return True

    def pending_write(self) -> int:
        """Bytes written but not yet taken by the device."""
        return len(self._pending)

    def pause_reading(self) -> None:
        """Stop reading (the device's own flow control pushes back); kept across reopens."""
        self._paused = True
        if self._loop is not None and self.fd >= 0:
            self._loop.remove_reader(self.fd)

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading`."""
        self._paused = False
        if self._loop is not None and self.fd >= 0 and self.connected:
            self._loop.add_reader(self.fd, self._readable)
