"""DeviceConsole on real pseudo-terminals: raw bytes both ways, baud, break, vanish and return."""

from __future__ import annotations

import asyncio
import os
import termios
import threading
from pathlib import Path

import pytest
from console_helpers import Collector

from vncterm.console import device
from vncterm.console.device import DeviceConsole

pytestmark = pytest.mark.unit


class Pty:
    """A pty pair whose slave is reached through a stable symlink (pts numbers change)."""

    def __init__(self, link: Path) -> None:
        self.master, slave = os.openpty()
        self.slave_path = os.ttyname(slave)
        os.close(slave)  # only the console holds the slave
        os.set_blocking(self.master, False)
        tmp = link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.slave_path)
        tmp.replace(link)

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


async def _read_master(fd: int, n: int, timeout: float = 10.0) -> bytes:
    """Read ``n`` bytes from a non-blocking pty master without blocking the loop."""
    loop = asyncio.get_running_loop()
    buf = bytearray()
    ready = asyncio.Event()
    loop.add_reader(fd, ready.set)
    try:
        async with asyncio.timeout(timeout):
            while len(buf) < n:
                await ready.wait()
                ready.clear()
                try:
                    buf += os.read(fd, 65536)
                except BlockingIOError:
                    pass
    finally:
        loop.remove_reader(fd)
    return bytes(buf)


def _attrs(path: str) -> list[object]:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        return list(termios.tcgetattr(fd))
    finally:
        os.close(fd)


def test_raw_bytes_both_ways_baud_and_restore(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    pty = Pty(link)
    cooked = _attrs(pty.slave_path)
    assert isinstance(cooked[3], int) and cooked[3] & termios.ICANON

    async def main() -> None:
        col = Collector()
        console = DeviceConsole(link, baud=9600)
        await console.start(col.on_data, col.on_status)
        try:
            assert col.statuses == [f"opening {link}", "connected"]
            iflag, oflag, _, lflag, ispeed, ospeed, _ = _attrs(pty.slave_path)
            assert isinstance(lflag, int) and isinstance(iflag, int) and isinstance(oflag, int)
            assert not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)
            assert not iflag & (termios.ICRNL | termios.IXON) and not oflag & termios.OPOST
            assert ispeed == ospeed == termios.B9600

            # Guest to viewer: control characters, CR, DEL, 0xFF, NUL arrive untouched, no echo.
            every = bytes(range(256))
            os.write(pty.master, every)
            await col.expect(b"\xfe\xff", 5)
            assert bytes(col.data) == every
            await asyncio.sleep(0.1)
            with pytest.raises(BlockingIOError):
                os.read(pty.master, 100)  # nothing echoed back

            # Viewer to guest: no LF -> CRLF, and a large write queues without blocking the loop.
            console.write(b"a\nb\r\x00\xff\x03")
            assert await _read_master(pty.master, 7) == b"a\nb\r\x00\xff\x03"
            big = os.urandom(300_000)  # far beyond the pty's buffer
            console.write(big)
            assert console._pending  # queued, flushed as the device drains
            assert await _read_master(pty.master, len(big)) == big
            assert console.dropped_writes == 0
        finally:
            console.close()
        restored = _attrs(pty.slave_path)
        assert isinstance(restored[3], int) and restored[3] & termios.ICANON
        assert await asyncio.wait_for(console.wait_closed(), 1) == 0

    try:
        asyncio.run(main())
    finally:
        pty.close()


def test_break_runs_tcsendbreak_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = tmp_path / "tty"
    pty = Pty(link)
    calls: list[tuple[str, int, bool]] = []
    real = termios.tcsendbreak
    loop_thread = threading.get_ident()

    def spy(fd: int, duration: int) -> None:
        # A pty accepts the break silently (it has no line to hold low): record where it went.
        calls.append((os.ttyname(fd), duration, threading.get_ident() != loop_thread))
        real(fd, duration)

    monkeypatch.setattr(termios, "tcsendbreak", spy)
    # no serial port here: the pty plays one (a pty itself refuses, see the next test)
    monkeypatch.setattr(device, "is_pty_slave", lambda rdev: False)

    async def main() -> None:
        col = Collector()
        console = DeviceConsole(link)
        assert not console.send_break()  # not started
        await console.start(col.on_data, col.on_status)
        try:
            assert console.send_break()
            for _ in range(100):
                if calls:
                    break
                await asyncio.sleep(0.02)
            assert calls == [(pty.slave_path, 0, True)]
        finally:
            console.close()

    try:
        asyncio.run(main())
    finally:
        pty.close()


def test_break_on_a_pty_is_refused_not_faked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux's pty driver has no break control: tcsendbreak on a pty succeeds and nothing
    reaches the other end (a QEMU -serial pty guest gets no SysRq), so say it cannot."""
    link = tmp_path / "tty"
    pty = Pty(link)
    calls: list[int] = []
    monkeypatch.setattr(termios, "tcsendbreak", lambda fd, duration: calls.append(fd))

    async def main() -> None:
        col = Collector()
        console = DeviceConsole(link)
        await console.start(col.on_data, col.on_status)
        try:
            assert console.connected
            assert not console.send_break()
            await asyncio.sleep(0.1)
            assert calls == []
        finally:
            console.close()

    try:
        asyncio.run(main())
    finally:
        pty.close()


def test_device_vanishes_and_returns(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    first = Pty(link)

    async def main() -> None:
        col = Collector()
        console = DeviceConsole(link, min_backoff=0.05, max_backoff=0.2)
        await console.start(col.on_data, col.on_status)
        second: Pty | None = None
        try:
            os.write(first.master, b"one")
            await col.expect(b"one", 5)

            n = len(col.statuses)
            first.close()  # the other end is gone: our reads fail with EIO
            await col.expect_status("disconnected: reconnecting in", 5, n)
            link.unlink()
            await col.expect_status("disconnected: reconnecting in 0.1 s", 5, n)  # backing off
            await col.expect_status("disconnected: reconnecting in 0.2 s (No such file", 5, n)
            assert not console.connected and not console.send_break()
            console.write(b"lost")
            assert console.dropped_writes == 4

            n = len(col.statuses)
            second = Pty(link)
            await col.expect_status("connected", 5, n)
            os.write(second.master, b"two")
            await col.expect(b"two", 5)
            console.write(b"back")
            assert await _read_master(second.master, 4) == b"back"
            assert console.connections == 2
        finally:
            console.close()
            if second is not None:
                second.close()

    asyncio.run(main())


def test_bad_baud_and_missing_device(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported baud rate 12345"):
        DeviceConsole(tmp_path / "x", baud=12345)

    async def main() -> None:
        col = Collector()
        console = DeviceConsole(tmp_path / "absent", min_backoff=0.05)
        await console.start(col.on_data, col.on_status)
        try:
            assert col.statuses == [
                f"opening {tmp_path / 'absent'}",
                "disconnected: reconnecting in 0.05 s (No such file or directory)",
            ]
        finally:
            console.close()

    asyncio.run(main())


def test_pause_and_resume_reading(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    pty = Pty(link)

    async def main() -> None:
        col = Collector()
        console = DeviceConsole(link)
        await console.start(col.on_data, col.on_status)
        try:
            console.pause_reading()
            os.write(pty.master, b"held")
            await asyncio.sleep(0.3)
            assert col.data == b""
            console.resume_reading()
            await col.expect(b"held", 5)
            assert console.pending_write() == 0
        finally:
            console.close()

    try:
        asyncio.run(main())
    finally:
        pty.close()
