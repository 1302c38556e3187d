"""The pty console and the shared relay process (vncterm/console/spawn.py, relayhub.py,
ptyrelay.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

import pytest

from vncterm.console import ptyrelay, relayhub
from vncterm.console.spawn import SpawnConsole

pytestmark = pytest.mark.peer

#: A clock of days, for the hub's restart window.
DAYS = 3 * 86400.0

#: Prints numbered lines until the file argv[1] exists (checked every 500 lines), then writes
#: the sha256 and length of what the terminal receives (the pty's onlcr: LF -> CR LF) to
#: argv[2]. Deterministic content, a length set by the test.
GENERATOR = """\
import hashlib, os, sys
stop, report = sys.argv[1], sys.argv[2]
digest, total, i = hashlib.sha256(), 0, 0
out = sys.stdout.buffer
while True:
    block = b"".join(b"line %09d of the flood: abcdefghijklmnopqrstuvwxyz 0123456789\\n" % n
                     for n in range(i, i + 500))
    i += 500
    out.write(block)
    out.flush()
    seen = block.replace(b"\\n", b"\\r\\n")
    digest.update(seen)
    total += len(seen)
    if os.path.exists(stop):
        break
with open(report + ".tmp", "w") as f:
    f.write(f"{digest.hexdigest()} {total}\\n")
os.rename(report + ".tmp", report)
"""


# -- the relay program on its own ------------------------------------------------------------


def start_relay() -> tuple[subprocess.Popen[bytes], socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    relay = subprocess.Popen(
        [sys.executable, "-I", "-S", ptyrelay.__file__, str(theirs.fileno())],
        pass_fds=(theirs.fileno(),),
    )
    theirs.close()
    return relay, ours


def hand(control: socket.socket, ident: int, master: int) -> int:
    """Give the relay ``master`` and a new pipe; the pipe's read end."""
    r, w = os.pipe()
    socket.send_fds(control, [ptyrelay.HEADER.pack(b"A", ident)], [master, w])
    os.close(w)
    return r


def raw_pty() -> tuple[int, int]:
    master, slave = os.openpty()
    tty.setraw(slave)  # no output processing: the bytes must arrive as written
    os.set_blocking(master, False)
    return master, slave


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:65536]) :]


def read_all(fd: int) -> bytes:
    out = bytearray()
    while chunk := os.read(fd, 1 << 20):
        out += chunk
    return bytes(out)


def test_one_relay_moves_several_ptys_whole_and_tells_each_end_before_its_pipe_closes() -> None:
    relay, control = start_relay()
    ptys = [raw_pty() for _ in range(3)]
    pipes = [hand(control, 7 + i, master) for i, (master, _) in enumerate(ptys)]
    sent = [os.urandom(1_000_000 + 12_345 * i) for i in range(3)]

    def write(slave: int, data: bytes) -> None:
        write_all(slave, data)
        os.close(slave)

    writers = [
        threading.Thread(target=write, args=(slave, data))
        for (_, slave), data in zip(ptys, sent, strict=True)
    ]
    for t in writers:
        t.start()
    results: dict[int, bytes] = {}

    def read(i: int) -> None:
        results[i] = read_all(pipes[i])

    readers = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for t in readers:
        t.start()
    for t in [*writers, *readers]:
        t.join(30)
    # every pipe has ended, so each end of pty was told before: all three messages are there
    control.settimeout(5)
    ends = sorted(ptyrelay.HEADER.unpack(control.recv(64)) for _ in range(3))
    assert ends == [(b"E", 7), (b"E", 8), (b"E", 9)]
    for i in range(3):
        assert hashlib.sha256(results[i]).digest() == hashlib.sha256(sent[i]).digest()
    control.close()
    assert relay.wait(10) == 0
    for (master, _), r in zip(ptys, pipes, strict=True):
        os.close(master)
        os.close(r)


def test_a_full_pipe_holds_back_only_its_own_pty() -> None:
    """Nobody reads console 1's pipe: console 2 still flows, and console 1's bytes wait in its
    pty, none lost."""
    relay, control = start_relay()
    (m1, s1), (m2, s2) = raw_pty(), raw_pty()
    p1, p2 = hand(control, 1, m1), hand(control, 2, m2)
    first = os.urandom(4_000_000)
    stuck = threading.Thread(target=write_all, args=(s1, first), daemon=True)
    stuck.start()  # blocks once its pipe (64 KiB) and the pty are full
    second = os.urandom(2_000_000)

    def write_then_close() -> None:
        write_all(s2, second)
        os.close(s2)

    other = threading.Thread(target=write_then_close)
    other.start()
    assert hashlib.sha256(read_all(p2)).digest() == hashlib.sha256(second).digest()
    other.join(10)
    assert stuck.is_alive()  # console 1 is still held back by its full pipe
    got = bytearray()
    os.set_blocking(p1, False)
    deadline = time.monotonic() + 30
    while len(got) < len(first) and time.monotonic() < deadline:
        try:
            got += os.read(p1, 1 << 20)
        except BlockingIOError:
            time.sleep(0.005)
    stuck.join(10)
    assert hashlib.sha256(got).digest() == hashlib.sha256(first).digest()
    control.close()
    assert relay.wait(10) == 0
    for fd in (m1, m2, p1, p2, s1):
        os.close(fd)


def test_the_relay_ends_when_the_server_is_gone() -> None:
    """The server's side of the control socket closing (the server died) ends the relay, even
    with output waiting, so it never keeps a pty open on its own."""
    relay, control = start_relay()
    master, slave = raw_pty()
    r = hand(control, 1, master)
    os.write(slave, b"unread\r\n")
    time.sleep(0.2)
    control.close()
    assert relay.wait(10) == 0
    for fd in (slave, master, r):
        os.close(fd)


def test_a_descriptor_that_cannot_be_spliced_is_handed_back_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    relay, control = start_relay()
    odd = os.open(tmp_path, os.O_RDONLY)  # polls readable, splice refuses it
    master, slave = raw_pty()
    p1, p2 = hand(control, 1, odd), hand(control, 2, master)
    control.settimeout(10)
    assert ptyrelay.HEADER.unpack(control.recv(64)) == (b"F", 1)
    assert os.read(p1, 10) == b""  # told before its pipe was let go
    os.write(slave, b"still here")
    assert os.read(p2, 100) == b"still here"
    control.close()
    assert relay.wait(10) == 0
    for fd in (odd, master, slave, p1, p2):
        os.close(fd)


# -- consoles ----------------------------------------------------------------------------------


class FakeClient:
    """A relay hub client whose "pty" is any descriptor; records what the hub told it."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.told: list[str] = []
        self.pipes: list[int] = []

    def add_pipe(self, fd: int) -> None:
        self.pipes.append(fd)

    def pty_ended(self) -> None:
        self.told.append("ended")

    def read_directly(self) -> None:
        self.told.append("direct")


def test_the_hub_sends_ptys_the_relay_cannot_splice_to_the_slow_path_saying_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> list[FakeClient]:
        hub = relayhub.shared_hub()
        clients = [FakeClient(os.open(tmp_path, os.O_RDONLY)) for _ in range(2)]
        idents = [hub.attach(c) for c in clients]
        await until(lambda: all(c.told for c in clients), "the relay's answer")
        for ident in idents:
            hub.detach(ident)
        return clients

    clients = asyncio.run(run())
    for c in clients:
        assert c.told == ["direct"]
        assert len(c.pipes) == 1 and os.read(c.pipes[0], 10) == b""  # let go after the word
        for fd in (c.master, *c.pipes):
            os.close(fd)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "cannot splice" in warnings[0], warnings


async def until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.005)


def test_spawned_flood_arrives_whole_and_the_relay_is_reaped(tmp_path: Path) -> None:
    data = b"".join(b"line %d of the flood, with some text after it\n" % i for i in range(120_000))
    src = tmp_path / "flood.txt"
    src.write_bytes(data)

    async def run() -> tuple[bytes, int, subprocess.Popen[bytes]]:
        got = bytearray()
        console = SpawnConsole(["cat", str(src)], 80, 25)
        await console.start(got.extend, lambda status: None)
        relay = relayhub.shared_hub().proc
        assert relay is not None
        status = await asyncio.wait_for(console.wait_closed(), 30)
        console.close()
        return bytes(got), status, relay

    got, status, relay = asyncio.run(run())
    assert status == 0
    assert got == data.replace(b"\n", b"\r\n")  # the pty's onlcr, nothing lost or reordered
    assert relay.returncode == 0  # the last console gone, the relay was stopped and reaped


def test_a_background_holder_of_the_pty_does_not_keep_the_console_from_ending() -> None:
    """The command exits while a background process of it keeps the pty open: what was
    already written is kept, and the exit status comes after a short grace."""

    async def run() -> tuple[bytes, int]:
        got = bytearray()
        console = SpawnConsole(["sh", "-c", "sleep 3 & echo done; exit 3"], 80, 25)
        await console.start(got.extend, lambda status: None)
        try:
            status = await asyncio.wait_for(console.wait_closed(), 2.5)
        finally:
            console.close()
        return bytes(got), status

    got, status = asyncio.run(run())
    assert (got, status) == (b"done\r\n", 3)


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return bool(stat) and stat[stat.rindex(")") + 2] != "Z"


def _relay_of(server: int) -> int | None:
    for pid in _children(server):
        try:
            if b"ptyrelay.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            pass
    return None


def test_a_killed_server_leaves_neither_relay_nor_program_behind(tmp_path: Path) -> None:
    """SIGKILL the server: its relay ends (the control socket's other end is gone) and the
    program gets SIGHUP (no descriptor of the pty master is left)."""
    sock = tmp_path / "vt.sock"
    server = subprocess.Popen(
        [sys.executable, "-m", "vncterm", "--listen", f"unix:{sock}", "--", "sleep", "300"],
        stderr=subprocess.DEVNULL,
    )
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
    async def run() -> bytes:
        got = bytearray()
        console = SpawnConsole(["sh", "-c", "echo ready; read x; echo after-$x"], 80, 25)
        await console.start(got.extend, lambda status: None)
        hub = relayhub.shared_hub()
        try:
            await until(lambda: b"ready" in got, "the program's first line")
            first = hub.proc
            assert first is not None
            first.kill()
            await until(lambda: hub.proc not in (None, first), "no new relay")
            console.write(b"restart\n")
            status = await asyncio.wait_for(console.wait_closed(), 10)
            assert status == 0
        finally:
            console.close()
        return bytes(got)

    assert b"after-restart" in asyncio.run(run())


def test_a_console_started_as_the_relay_dies_waits_for_the_next_relay() -> None:
    """The relay is dead but the hub has not noticed yet when a console starts: the console
    gets a pipe from the next relay, not the slow path."""

    async def run() -> tuple[bytes, bool, bool]:
        got = bytearray()
        first = SpawnConsole(["sleep", "30"], 80, 25)
        await first.start(lambda data: None, lambda status: None)
        hub = relayhub.shared_hub()
        relay = hub.proc
        assert relay is not None
        relay.kill()
        relay.wait()  # dead, and the loop has not run since
        second = SpawnConsole(["sh", "-c", "read x; echo got-$x"], 80, 25)
        await second.start(got.extend, lambda status: None)
        try:
            await until(lambda: hub.proc not in (None, relay), "no new relay")
            second.write(b"it\n")
            assert await asyncio.wait_for(second.wait_closed(), 10) == 0
        finally:
            first.close()
            second.close()
        return bytes(got), hub.given_up, second._direct

    got, given_up, direct = asyncio.run(run())
    assert b"got-it" in got
    assert not given_up and not direct


def test_without_a_relay_the_console_reads_its_pty_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No relay can be started: said once, and every console still gets all its output."""
    data = b"".join(b"line %d, read without a relay\n" % i for i in range(40_000))
    src = tmp_path / "flood.txt"
    src.write_bytes(data)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))

    async def run() -> list[bytes]:
        got = [bytearray(), bytearray()]
        consoles = [SpawnConsole(["cat", str(src)], 80, 25) for _ in got]
        for console, sink in zip(consoles, got, strict=True):
            await console.start(sink.extend, lambda status: None)
        try:
            for console in consoles:
                assert await asyncio.wait_for(console.wait_closed(), 30) == 0
        finally:
            for console in consoles:
                console.close()
        return [bytes(g) for g in got]

    for got in asyncio.run(run()):
        assert got == data.replace(b"\n", b"\r\n")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "cannot start the pty relay" in warnings[0], warnings


def slow_sink(into: bytearray) -> Callable[[bytes], None]:
    """A terminal that takes 20 MB/s: slower than the generators, so their pipes stay full."""

    def on_data(data: bytes) -> None:
        into.extend(data)
        time.sleep(len(data) / 20e6)

    return on_data


async def flood_with_kills(
    tmp_path: Path,
    kills: int,
    clock: Callable[[], float],
    before_kill: Callable[[], None] = lambda: None,
    consoles: int = 1,
) -> tuple[list[bytes], list[str], bool, int]:
    """``consoles`` generators flood at once; the shared relay is SIGKILLed ``kills`` times
    while they do (each time 300 KB more have arrived); what each console received, what each
    generator reports having written, whether the hub gave up, and how many times the first
    console had an unfinished old pipe when its new one came."""
    script = tmp_path / "gen.py"
    script.write_text(GENERATOR)
    stop = tmp_path / "stop"
    hub = relayhub.shared_hub(clock)
    got = [bytearray() for _ in range(consoles)]
    started = [
        SpawnConsole([sys.executable, str(script), str(stop), str(tmp_path / f"r{i}")], 80, 25)
        for i in range(consoles)
    ]
    for console, sink in zip(started, got, strict=True):
        await console.start(slow_sink(sink), lambda status: None)
    overlaps = 0
    try:
        for _ in range(kills):
            mark = len(got[0]) + 300_000
            await until(lambda: len(got[0]) > mark, "the flood goes on")  # noqa: B023
            relay = hub.proc
            if relay is None:
                break  # given up: the consoles read for themselves
            before_kill()
            relay.send_signal(signal.SIGKILL)
            await until(
                lambda: hub.proc is not relay,  # noqa: B023 - awaited at once
                "the relay's death noticed",
            )
            overlaps += len(started[0]._pipes) > 1
        mark = len(got[0]) + 300_000
        await until(lambda: len(got[0]) > mark, "the flood goes on after the kills")
        stop.touch()
        for console in started:
            assert await asyncio.wait_for(console.wait_closed(), 30) == 0
    finally:
        for console in started:
            console.close()
    reports = [(tmp_path / f"r{i}").read_text().strip() for i in range(consoles)]
    return [bytes(g) for g in got], reports, hub.given_up, overlaps


def _judge(got: bytes, report: str) -> None:
    digest, length = report.split()
    assert len(got) == int(length), "bytes lost or doubled"
    assert hashlib.sha256(got).hexdigest() == digest, "bytes changed or reordered"


def test_killing_the_relay_in_a_flood_loses_no_byte(tmp_path: Path) -> None:
    """SIGKILL the shared relay four times while two consoles flood numbered lines: every byte
    arrives once and in order on each (the relay held none; each console reads its old pipe
    to its end before the new one)."""
    got, reports, given_up, overlaps = asyncio.run(
        flood_with_kills(tmp_path, 4, lambda: time.monotonic() + DAYS, consoles=2)
    )
    assert not given_up
    assert overlaps > 0  # an old pipe still held output when the new relay began
    assert len(got[0]) > 1_500_000  # the kills came 300 KB apart, in the flood
    for data, report in zip(got, reports, strict=True):
        _judge(data, report)


def test_a_relay_that_keeps_dying_is_given_up_and_the_ptys_are_read_directly(
    tmp_path: Path,
) -> None:
    """Deaths spread beyond the restart window are replaced every time; more than
    MAX_RELAY_RESTARTS within it and the consoles read their ptys themselves: still whole."""
    now = [DAYS]
    spread_out = relayhub.MAX_RELAY_RESTARTS + 2

    def tick() -> None:
        if spread_out_kills[0] > 0:
            spread_out_kills[0] -= 1
            now[0] += relayhub.RESTART_WINDOW + 1

    spread_out_kills = [spread_out]
    got, reports, given_up, _ = asyncio.run(
        flood_with_kills(
            tmp_path, spread_out + relayhub.MAX_RELAY_RESTARTS + 2, lambda: now[0], tick
        )
    )
    assert given_up
    assert spread_out_kills == [0]  # all the spread-out deaths were replaced
    _judge(got[0], reports[0])


def test_the_relay_holds_only_its_control_socket_and_the_ptys_it_serves(tmp_path: Path) -> None:
    """No descriptor of the server leaks into the relay, nor the relay's socket into a
    program."""
    leak = os.open(tmp_path, os.O_RDONLY)
    os.set_inheritable(leak, True)

    async def run() -> tuple[list[str], list[list[str]]]:
        consoles = [SpawnConsole(["sleep", "30"], 80, 25) for _ in range(3)]
        for c in consoles:
            await c.start(lambda data: None, lambda status: None)
        try:
            relay = relayhub.shared_hub().proc
            assert relay is not None
            await asyncio.sleep(0.3)
            fds = Path(f"/proc/{relay.pid}/fd")
            held = [os.readlink(fds / n) for n in os.listdir(fds) if int(n) > 2]
            programs = []
            for c in consoles:
                assert c.proc is not None
                pfds = Path(f"/proc/{c.proc.pid}/fd")
                programs.append([os.readlink(pfds / n) for n in os.listdir(pfds)])
            return held, programs
        finally:
            for c in consoles:
                c.close()

    try:
        held, programs = asyncio.run(run())
    finally:
        os.close(leak)
    kinds = sorted(link.split(":")[0] if ":" in link else link for link in held)
    assert kinds == ["/dev/ptmx"] * 3 + ["pipe"] * 3 + ["socket"], held
    for fds in programs:
        assert all(link.startswith("/dev/pts/") for link in fds), fds


def test_a_killed_relay_loses_nothing_of_a_vncterm_log(tmp_path: Path) -> None:
    """End to end: vncterm with --log, the relay SIGKILLed five times while the program
    floods; the log holds every byte once, in order."""
    script = tmp_path / "gen.py"
    script.write_text(GENERATOR)
    stop, report, log = tmp_path / "stop", tmp_path / "report", tmp_path / "console.log"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vncterm",
            "--listen",
            f"unix:{tmp_path / 'vt.sock'}",
            "--log",
            str(log),
            "--",
            sys.executable,
            str(script),
            str(stop),
            str(report),
        ],
        stderr=subprocess.PIPE,
    )
    try:
        killed: list[int] = []
        deadline = time.monotonic() + 60
        while len(killed) < 5:
            assert time.monotonic() < deadline, f"killed only {killed}"
            size = log.stat().st_size if log.exists() else 0
            relay = _relay_of(server.pid)
            if relay is None or relay in killed or size < 300_000 * (len(killed) + 1):
                time.sleep(0.005)
                continue
            os.kill(relay, signal.SIGKILL)
            killed.append(relay)
        stop.touch()
        assert server.wait(30) == 0
        assert server.stderr is not None
        warnings = server.stderr.read().decode()
    finally:
        if server.poll() is None:
            server.kill()
    assert warnings.count("pty relay ended with status -9; starting another") == 5, warnings
    _judge(log.read_bytes(), report.read_text().strip())


def test_a_pipe_stays_at_64_kib_until_it_fills_then_grows() -> None:
    """Idle consoles' pipes stay at the kernel's 64 KiB (200 at 1 MiB would pass a user's
    64 MiB of pipes); a pipe that fills grows to 1 MiB, and its bytes all arrive."""
    import fcntl

    relay, control = start_relay()
    (m1, s1), (m2, s2) = raw_pty(), raw_pty()
    p1, p2 = hand(control, 1, m1), hand(control, 2, m2)
    data = os.urandom(600_000)
    writer = threading.Thread(target=write_all, args=(s1, data), daemon=True)
    writer.start()  # nobody reads p1 yet: it fills, and grows
    deadline = time.monotonic() + 10
    while fcntl.fcntl(p1, fcntl.F_GETPIPE_SZ) != 1 << 20:
        assert time.monotonic() < deadline, "the full pipe did not grow"
        time.sleep(0.01)
    assert fcntl.fcntl(p2, fcntl.F_GETPIPE_SZ) == 65536  # the idle console's
    got = bytearray()
    os.set_blocking(p1, False)
    while len(got) < len(data) and time.monotonic() < deadline + 20:
        try:
            got += os.read(p1, 1 << 20)
        except BlockingIOError:
            time.sleep(0.005)
    writer.join(10)
    assert bytes(got) == data
    control.close()
    assert relay.wait(10) == 0
    for fd in (m1, m2, p1, p2, s1, s2):
        os.close(fd)
