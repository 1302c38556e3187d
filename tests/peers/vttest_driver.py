"""The program a terminal (xterm, vncterm) runs to have vttest driven through a script, with
the terminal's own screen read back at every pause.

``python3 vttest_driver.py SCRIPT.json OUT.jsonl [SYNC_DIR]``

vttest runs on an inner pty of the terminal's size. Its output goes to the terminal as is, and
what the terminal sends (vttest's queries are answered: DA, DSR, DECRQM...) goes back to vttest.
The script is a JSON list of steps ``{"name", "keys", "until_menu", "check"}``: the keys
are typed into vttest; when it waits for a key (quiet, asleep in read() on its terminal with
nothing typed left unread: :meth:`Driver.settle`), the screen is read back and written to
OUT.jsonl as one line ``{"name", "cols", "rows", "cells"}``. ``cells`` holds one DECRQCRA
checksum per cell (VT420 ``CSI Pid;Pp;Pt;Pl;Pb;Pr * y``, answered by ``DCS Pid ! ~ XXXX
ST``), as the cell's value: its character plus its video
attributes (xterm's default ``checksumExtension``). Those replies are the driver's: they are
never passed on to vttest. With ``until_menu``, Return is typed after the keys (one more
checkpoint each, named ``name/2``, ``name/3``...) until vttest prints a menu prompt again;
with ``check`` false the step only waits for vttest to be quiet.

With SYNC_DIR, after each checkpoint the driver writes its number to ``SYNC_DIR/ready`` and
waits for the same number in ``SYNC_DIR/go`` before typing on (the test looks at the screen
meanwhile through a viewer). At the end ``OUT.jsonl.done`` is created.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import sys
import termios
import time
import tty
from pathlib import Path

#: vttest waits for a key once its output has been quiet this long, it sleeps in read() on the
#: terminal and has read all that was typed (else: once quiet for SLOW_QUIET).
QUIET = 0.12
SLOW_QUIET = 0.5
#: The longest wait for vttest to go quiet, and for the terminal's read-back replies.
LONGEST = 20.0
#: Return typed at most this many times after a step's keys, waiting for the menu prompt.
MAX_RETURNS = 40
PROMPT = b"Enter choice number"
#: DECRQCRA's reply, 7- or 8-bit controls (UTF-8 encoded C1 in a UTF-8 xterm).
REPLY = re.compile(rb"(?:\x1bP|\xc2?\x90)(\d+)!~([0-9A-Fa-f]{4})(?:\x1b\\|\xc2?\x9c)")
DECOM_REPLY = re.compile(rb"\x1b\[\?6;(\d)\$y")


def winsize(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on ``fd``."""
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Driver:
    """vttest on an inner pty; our stdin/stdout are the terminal."""

    def __init__(self, out: Path, sync: Path | None) -> None:
        self.tin = sys.stdin.fileno()
        self.tout = sys.stdout.fileno()
        self.out = out
        self.sync = sync
        self.count = 0
        self.seen = b""  # vttest's output since the last key
        rows, cols = winsize(self.tin)
        self.master, self.slave = os.openpty()
        set_winsize(self.master, rows, cols)
        self.pid = os.fork()
        if self.pid == 0:  # the child: vttest on the inner pty
            os.setsid()
            fcntl.ioctl(self.slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(self.slave, fd)
            os.execvp("vttest", ["vttest", f"{rows}x{cols}.132"])
        signal.signal(signal.SIGWINCH, lambda *_: self._resize())

    def _resize(self) -> None:
        rows, cols = winsize(self.tin)
        set_winsize(self.master, rows, cols)

    def _write(self, fd: int, data: bytes) -> None:
        while data:
            data = data[os.write(fd, data) :]

    def pump(self, timeout: float) -> bool:
        """Relay once in either direction; False when nothing came within ``timeout``."""
        try:
            ready, _, _ = select.select([self.master, self.tin], [], [], timeout)
        except InterruptedError:
            return True
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if fd == self.master:
                if not data:
                    raise EOFError("vttest ended")
                self.seen += data
                self._write(self.tout, data)
            elif data:
                self._write(self.master, data)
        return bool(ready)

    def waiting(self) -> bool:
        """vttest sleeps in read() on its terminal with nothing left to read."""
        try:
            syscall = Path(f"/proc/{self.pid}/syscall").read_text().split()
        except OSError:
            return False
        unread = struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD, b"\0" * 4))[0]
        return syscall[:2] == ["0", "0x0"] and unread == 0

    def settle(self) -> None:
        """Relay until vttest waits for a key: quiet for QUIET seconds while it waits in
        read(), or for SLOW_QUIET seconds."""
        deadline = time.monotonic() + LONGEST
        quiet = 0.0
        while time.monotonic() < deadline:
            if self.pump(QUIET):
                quiet = 0.0
                continue
            quiet += QUIET
            if quiet >= SLOW_QUIET or self.waiting():
                return

    def ask(self, query: bytes, pattern: re.Pattern[bytes], count: int) -> list[re.Match[bytes]]:
        """Write ``query`` to the terminal and collect ``count`` replies matching ``pattern``;
        any other byte the terminal sends meanwhile goes on to vttest."""
        self._write(self.tout, query)
        got: list[re.Match[bytes]] = []
        buf = b""
        deadline = time.monotonic() + LONGEST
        while len(got) < count and time.monotonic() < deadline:
            ready, _, _ = select.select([self.tin], [], [], 0.5)
            if not ready:
                continue
            buf += os.read(self.tin, 65536)
            pos = 0
            for m in pattern.finditer(buf):
                if buf[pos : m.start()]:
                    self._write(self.master, buf[pos : m.start()])
                got.append(m)
                pos = m.end()
            buf = buf[pos:]
        if buf:
            self._write(self.master, buf)
        return got

    def read_screen(self) -> tuple[int, int, list[list[int]]]:
        """Every cell's value, read back with one DECRQCRA per cell. Origin mode is left for
        the reading (DECRQCRA counts from the margins under it) and restored after."""
        rows, cols = winsize(self.tin)
        origin = self.ask(b"\x1b[?6$p", DECOM_REPLY, 1)
        decom = bool(origin) and origin[0].group(1) == b"1"
        if decom:
            self._write(self.tout, b"\x1b7\x1b[?6l")
        query = b"".join(
            b"\x1b[%d;1;%d;%d;%d;%d*y" % (r * 1000 + c, r, c, r, c)
            for r in range(1, rows + 1)
            for c in range(1, cols + 1)
        )
        replies = self.ask(query, REPLY, rows * cols)
        if decom:
            self._write(self.tout, b"\x1b8")
        cells = [[-1] * cols for _ in range(rows)]
        for m in replies:
            ident = int(m.group(1))
            r, c = divmod(ident, 1000)
            if 1 <= r <= rows and 1 <= c <= cols:
                cells[r - 1][c - 1] = -int(m.group(2), 16) & 0xFFFF
        return rows, cols, cells

    def checkpoint(self, name: str) -> None:
        for _ in range(3):  # again if vttest went on meanwhile (a late reply woke it)
            self.settle()
            rows, cols, cells = self.read_screen()
            if not select.select([self.master], [], [], 0)[0] and self.waiting():
                break
        with self.out.open("a") as f:
            f.write(json.dumps({"name": name, "rows": rows, "cols": cols, "cells": cells}) + "\n")
        self.count += 1
        if self.sync is not None:
            (self.sync / "ready.tmp").write_text(str(self.count))
            os.rename(self.sync / "ready.tmp", self.sync / "ready")
            go = self.sync / "go"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if go.exists() and go.read_text() == str(self.count):
                    break
                self.pump(0.05)

    def type(self, keys: str) -> None:
        self.seen = b""
        self._write(self.master, keys.encode())

    def run(self, script: list[dict[str, object]]) -> None:
        self.settle()
        for step in script:
            name = str(step["name"])
            self.type(str(step["keys"]))
            if not step.get("check", True):
                self.settle()
                continue
            self.checkpoint(name)
            n = 1
            while step.get("until_menu") and PROMPT not in self.seen and n < MAX_RETURNS:
                n += 1
                self.type("\r")
                self.checkpoint(f"{name}/{n}")


def main() -> None:
    script = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    sync = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    driver = Driver(out, sync)
    try:
        driver.run(script)
    except EOFError:
        pass
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        try:
            os.kill(driver.pid, signal.SIGKILL)
            os.waitpid(driver.pid, 0)
        except OSError:
            pass
        Path(str(out) + ".done").touch()


if __name__ == "__main__":
    main()
