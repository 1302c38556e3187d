"""The pty relay: a small process that copies a pty master into a pipe, run by ``spawn.py``.

Why a process. A pty master hands out at most ~4 KiB per read (the line discipline's buffer),
and holds only ~64 KiB more before the program writing to it blocks: 1.7 ms of a ``cat`` at
40 MB/s. Read from the server's event loop, 20 MB of output costs ~5000 reads and half a
second of the loop's time; read from a thread, every read waits for the GIL while the terminal
parses, and the program stalls. This relay does the small reads with nothing else to do, into a
pipe of up to 1 MiB that the server drains in large reads. Measured on a 2-core machine, 20 MB
of ``cat`` parsed by the terminal: 23 MB/s from a reader thread, 34-44 MB/s through the relay.

Run as ``python -S ptyrelay.py PTY_FD PIPE_FD`` (both inherited). It ends when the pty reports
end of file (every slave descriptor closed: EIO), or when the server is gone (the pipe's read
end closed), so it never outlives the server holding the pty open.

Standard library only and no package imports: it is started by file name.
"""

from __future__ import annotations

import os
import select
import signal
import sys


def relay(pty: int, out: int) -> int:
    """Copy ``pty`` to ``out`` until either end is done; the exit status."""
    poller = select.poll()
    poller.register(pty, select.POLLIN)
    poller.register(out, 0)  # only POLLERR: the server closed its end
    while True:
        try:
            data = os.read(pty, 65536)  # the master is non-blocking (the server set it so)
        except BlockingIOError:
            if any(fd == out for fd, _ in poller.poll()):
                return 0
            continue
        except OSError:  # EIO: every slave descriptor closed
            return 0
        if not data:
            return 0
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(out, view):]
        except OSError:  # EPIPE: the server is gone
            return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when to stop
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if len(argv) != 3:
        print("usage: ptyrelay.py PTY_FD PIPE_FD", file=sys.stderr)
        return 2
    return relay(int(argv[1]), int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
