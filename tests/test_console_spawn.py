"""The pty console and its relay process (vncterm/console/spawn.py, ptyrelay.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from vncterm.console import ptyrelay
from vncterm.console.spawn import SpawnConsole


def start_relay(master: int) -> tuple[subprocess.Popen[bytes], int]:
    r, w = os.pipe()
    relay = subprocess.Popen([sys.executable, "-S", ptyrelay.__file__, str(master), str(w)],
                             pass_fds=(master, w))
    os.close(w)
    return relay, r


def read_all(fd: int) -> bytes:
    out = bytearray()
    while chunk := os.read(fd, 1 << 20):
        out += chunk
    return bytes(out)


def test_relay_copies_every_byte_then_ends_at_the_ptys_end() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)  # no output processing: the bytes must arrive as written
    os.set_blocking(master, False)
    relay, r = start_relay(master)
    data = os.urandom(3_000_000)

    def write() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(slave, view[:65536]):]
        os.close(slave)

    writer = threading.Thread(target=write)
    writer.start()
    got = read_all(r)
    writer.join()
    assert relay.wait(10) == 0
    os.close(r)
    os.close(master)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()


def test_relay_ends_when_the_server_is_gone() -> None:
    """The server's end of the pipe closing (the server died) ends the relay, so it never
    keeps the pty open on its own."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    relay, r = start_relay(master)
    os.write(slave, b"unread\r\n")
    time.sleep(0.2)
    os.close(r)
    assert relay.wait(10) == 0
    os.close(slave)
    os.close(master)


def test_spawned_flood_arrives_whole_and_the_relay_is_reaped(tmp_path: Path) -> None:
    data = b"".join(b"line %d of the flood, with some text after it\n" % i
                    for i in range(120_000))
    src = tmp_path / "flood.txt"
    src.write_bytes(data)

    async def run() -> tuple[bytes, int, SpawnConsole]:
        got = bytearray()
        console = SpawnConsole(["cat", str(src)], 80, 25)
        await console.start(got.extend, lambda status: None)
        status = await asyncio.wait_for(console.wait_closed(), 30)
        console.close()
        return bytes(got), status, console

    got, status, console = asyncio.run(run())
    assert status == 0
    assert got == data.replace(b"\n", b"\r\n")  # the pty's onlcr, nothing lost or reordered
    assert console.relay is not None and console.relay.returncode is not None


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return bool(stat) and stat[stat.rindex(")") + 2] != "Z"


def test_a_killed_server_leaves_neither_relay_nor_program_behind(tmp_path: Path) -> None:
    """SIGKILL the server: its relay ends (the pipe's reader is gone) and the program gets
    SIGHUP (no descriptor of the pty master is left)."""
    sock = tmp_path / "vt.sock"
    server = subprocess.Popen([sys.executable, "-m", "vncterm", "--listen", f"unix:{sock}",
                               "--", "sleep", "300"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        kids: list[int] = []
        while time.monotonic() < deadline and len(kids) < 2:
            time.sleep(0.1)
            kids = _children(server.pid)
        assert len(kids) == 2, f"expected the program and the relay, got {kids}"
        server.send_signal(signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(map(_alive, kids)):
            time.sleep(0.1)
        assert not any(map(_alive, kids)), "a child outlived the server"
    finally:
        if server.poll() is None:
            server.kill()


def test_a_killed_relay_is_replaced_and_the_console_goes_on() -> None:
    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline, what
            await asyncio.sleep(0.02)

    async def run() -> bytes:
        got = bytearray()
        console = SpawnConsole(["sh", "-c", "echo ready; read x; echo after-$x"], 80, 25)
        await console.start(got.extend, lambda status: None)
        try:
            await until(lambda: b"ready" in got, "the program's first line")
            first = console.relay
            assert first is not None
            first.kill()
            await until(lambda: console.relay is not first, "no new relay")
            console.write(b"restart\n")
            status = await asyncio.wait_for(console.wait_closed(), 10)
            assert status == 0
        finally:
            console.close()
        return bytes(got)

    assert b"after-restart" in asyncio.run(run())
