"""The pty relay: ONE small process per vncterm process that moves every pty master's output into
a pipe per console, run by ``relayhub.py``.

Why a process. A pty master hands out at most ~4 KiB per read (the line discipline's buffer),
and holds only ~64 KiB more before the program writing to it blocks: 1.7 ms of a ``cat`` at
40 MB/s. Read from the server's event loop, 20 MB of output costs ~5000 reads and half a
second of the loop's time; read from a thread, every read waits for the GIL while the terminal
parses, and the program stalls. This relay does the small reads with nothing else to do, into
a pipe per console that the server drains in large reads. A pipe starts at the kernel's
default 64 KiB and grows to :data:`PIPE_GROWN` the first time it fills: an unprivileged user's
pipes may hold 64 MiB in all (``/proc/sys/fs/pipe-user-pages-soft``), which 200 idle consoles
at 1 MiB each would pass, leaving every later pipe at 8 KiB.

Why splice (splice(2), ``os.splice``). The bytes go from the pty straight into the pipe inside
the kernel: this process never holds output in its own memory, so killing it loses nothing
(what it has not moved stays in the pty, whose master the server also holds).

Run as ``python -S ptyrelay.py CONTROL_FD``: CONTROL_FD is a unix SOCK_SEQPACKET socket to the
server. Messages are :data:`HEADER` (an operation byte and a console id):

- server -> relay: ``A`` add, with two descriptors (SCM_RIGHTS): the pty master (non-blocking)
  and the write end of the console's pipe; ``R`` remove (close both).
- relay -> server: ``E`` the pty ended (EIO: every slave descriptor closed), sent before the
  pipe is closed; ``F`` this pty cannot be spliced (the server reads it itself), sent likewise.

A console whose pipe is full is not read (its master is left out of the poll set) until the
pipe has room. The relay ends when the server's side of the control socket closes, so it never
keeps a pty open after the server is gone. Standard library only and no package imports: it is
started by file name.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import socket
import struct
import sys

#: A control message: operation byte, console id.
HEADER = struct.Struct("!cI")
#: Splices per console per turn of the loop: fairness between consoles that flood at once.
SPLICES_PER_TURN = 32
#: What one splice asks for. A pty read gives at most its line discipline's buffer (4 KiB, less
#: one byte), and the kernel allocates a page per 4 KiB asked for before reading: ask for one.
SPLICE_MAX = 4096
#: What a console's pipe grows to once it fills (the kernel's default cap on a pipe, 1 MiB).
PIPE_GROWN = 1 << 20


class Pty:
    """One console: its id, its pty master and the write end of its pipe."""

    __slots__ = ("grown", "ident", "master", "pipe")

    def __init__(self, ident: int, master: int, pipe: int) -> None:
        self.ident, self.master, self.pipe = ident, master, pipe
        self.grown = False  # the pipe was grown (or could not be): it stays as it is


class Relay:
    """The relay's state: the control socket and the consoles it serves."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.poller = select.poll()
        self.poller.register(control, select.POLLIN)
        self.by_id: dict[int, Pty] = {}
        self.by_fd: dict[int, Pty] = {}

    def run(self) -> int:
        """Serve until the server is gone; the exit status."""
        while True:
            for fd, events in self.poller.poll():
                if fd == self.control.fileno():
                    if not self.command():
                        return 0
                    continue
                pty = self.by_fd.get(fd)
                if pty is None:
                    continue
                if fd == pty.pipe:
                    if events & (select.POLLERR | select.POLLHUP):
                        self.drop(pty)  # the server closed its end: the console is gone
                    elif events & select.POLLOUT:
                        self.wait_for_pty(pty)
                        self.move(pty, woken_by_pty=False)
                else:
                    self.move(pty, woken_by_pty=True)

    def command(self) -> bool:
        """Take one message from the server; False when the server is gone."""
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 64, 4)
        except OSError:
            return False
        if not data and not fds:
            return False
        if len(data) != HEADER.size:
            for fd in fds:
                os.close(fd)
            return True
        op, ident = HEADER.unpack(data)
        old = self.by_id.get(ident)
        if old is not None:  # a re-used id or a removal: the previous pair goes either way
            self.drop(old)
        if op == b"A" and len(fds) == 2:
            self.add(Pty(ident, fds[0], fds[1]))
        else:
            for fd in fds:
                os.close(fd)
        return True

    def add(self, pty: Pty) -> None:
        self.by_id[pty.ident] = pty
        self.by_fd[pty.master] = pty
        self.by_fd[pty.pipe] = pty
        self.poller.register(pty.pipe, 0)  # POLLERR only: the server closed its end
        self.poller.register(pty.master, select.POLLIN)

    def wait_for_pipe(self, pty: Pty) -> None:
        """The pipe is full: stop reading the pty until it has room."""
        self.poller.unregister(pty.master)  # (a hung-up master would wake us for nothing)
        self.poller.modify(pty.pipe, select.POLLOUT)

    def grow(self, pty: Pty) -> bool:
        """The pipe filled for the first time (a flood): grow it to PIPE_GROWN, once; False
        when it was grown before or cannot be (past the user's limit: it stays as it is)."""
        if pty.grown:
            return False
        pty.grown = True
        try:
            fcntl.fcntl(pty.pipe, fcntl.F_SETPIPE_SZ, PIPE_GROWN)
        except OSError:
            return False
        return True  # the pty is still readable: the poll wakes us again at once

    def wait_for_pty(self, pty: Pty) -> None:
        self.poller.modify(pty.pipe, 0)
        self.poller.register(pty.master, select.POLLIN)

    def move(self, pty: Pty, woken_by_pty: bool) -> None:
        """Splice what the pty has into its pipe, a bounded amount per turn."""
        for turn in range(SPLICES_PER_TURN):
            try:
                n = os.splice(pty.master, pty.pipe, SPLICE_MAX, flags=os.SPLICE_F_NONBLOCK)
            except BlockingIOError:
                # The pty is empty or the pipe full. Woken for a readable pty, nothing moved on
                # the first try: the pipe is full (in pages: splice fills one page per call).
                if turn == 0 and woken_by_pty and not self.grow(pty):
                    self.wait_for_pipe(pty)
                return
            except OSError as e:
                if e.errno == errno.EPIPE:
                    self.drop(pty)
                else:  # EIO: the pty's end; anything else: the server must read it itself
                    self.finish(pty, b"E" if e.errno == errno.EIO else b"F")
                return
            if n == 0:
                self.finish(pty, b"E")
                return

    def finish(self, pty: Pty, op: bytes) -> None:
        """Tell the server (before the pipe's end reaches it), then let the console go."""
        try:
            self.control.sendall(HEADER.pack(op, pty.ident))
        except OSError:
            pass
        self.drop(pty)

    def drop(self, pty: Pty) -> None:
        del self.by_id[pty.ident]
        for fd in (pty.master, pty.pipe):
            del self.by_fd[fd]
            try:
                self.poller.unregister(fd)
            except KeyError:
                pass
            os.close(fd)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when to stop
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if len(argv) != 2:
        print("usage: ptyrelay.py CONTROL_FD", file=sys.stderr)
        return 2
    control = socket.socket(fileno=int(argv[1]))
    control.setblocking(True)
    return Relay(control).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
