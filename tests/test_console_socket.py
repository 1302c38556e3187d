"""SocketConsole against a real QEMU guest (unix, TCP, telnet) and against local sockets.

One guest boots for the module with three serial ports, each running a shell: ttyS0 (the kernel
console) on a unix socket, ttyS1 on TCP, ttyS2 on TCP with telnet=on. The restart test runs last
and leaves the guest booted again.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_helpers import Collector
from peers.qemu_guest import MARKER, QemuGuest, Serial

from vncterm.console.socket import BREAK, DO, DONT, IAC, WILL, WONT, SocketConsole, TelnetFilter

ANSWER = rb"\r\n42\r\n"  # `echo $((6*7))` prints 42; the echoed command line does not contain it


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QemuGuest]:
    workdir = tmp_path_factory.mktemp("qemu")
    serials = [Serial.unix(workdir / "ttyS0.sock"), Serial.tcp(), Serial.tcp(telnet=True)]
    g = QemuGuest(workdir, serials)
    try:
        g.start()
        g.boot_started = time.monotonic()  # type: ignore[attr-defined]
        yield g
    finally:
        g.close()
    assert not g.running


def _address(serial: Serial) -> str | tuple[str, int]:
    if serial.path is not None:
        return str(serial.path)
    assert serial.port is not None
    return ("127.0.0.1", serial.port)


async def _shell_answers(console: SocketConsole, col: Collector, timeout: float = 20.0) -> None:
    """Type the command until the shell answers (input sent before the shell opened the tty is
    discarded by the guest, so a console attached mid-boot may need a second try)."""
    start = len(col.data)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        console.write(b"echo $((6*7))\n")
        try:
            await col.expect(ANSWER, 3, start)
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise


@pytest.mark.peer
@pytest.mark.slow
def test_unix_sees_boot_log_marker_and_runs_a_command(guest: QemuGuest) -> None:
    async def main() -> None:
        col = Collector()
        console = SocketConsole(_address(guest.serials[0]), min_backoff=0.1, max_backoff=0.5)
        await console.start(col.on_data, col.on_status)
        try:
            assert col.statuses[:2] == [f"connecting to {guest.serials[0].path}", "connected"]
            await col.expect(rb"Linux version \S+", 60)
            await col.expect(MARKER.encode() + rb" ttyS0", 60)
            elapsed = time.monotonic() - guest.boot_started  # type: ignore[attr-defined]
            print(f"boot to marker: {elapsed:.2f} s")
            await _shell_answers(console, col)
            assert console.connections == 1
        finally:
            console.close()
        assert await asyncio.wait_for(console.wait_closed(), 1) == 0
        assert not console.connected

    asyncio.run(main())


@pytest.mark.peer
def test_tcp_runs_a_command(guest: QemuGuest) -> None:
    async def main() -> None:
        col = Collector()
        console = SocketConsole(_address(guest.serials[1]))
        await console.start(col.on_data, col.on_status)
        try:
            await col.expect_status("connected")
            # Attached after the boot: the marker may be gone, the shell is not.
            await _shell_answers(console, col, 60)
            await col.expect(rb"guest:/# ", 10)
        finally:
            console.close()

    asyncio.run(main())


@pytest.mark.peer
def test_telnet_strips_negotiation_and_sends_break(guest: QemuGuest) -> None:
    async def main() -> None:
        col = Collector()
        console = SocketConsole(_address(guest.serials[2]), telnet=True)
        await console.start(col.on_data, col.on_status)
        try:
            await _shell_answers(console, col, 60)
            # QEMU opened with WILL ECHO, WILL SGA, WILL BINARY, DO BINARY; we agreed.
            assert console._filter.them == {0, 1, 3}
            assert console._filter.us == {0}
            assert b"\xff" not in col.data
            # 0xFF written is doubled on the wire and reaches the guest as one byte: od shows it.
            start = len(col.data)
            console.write(b"printf '\\377\\n' | od -An -tx1 -v; read -r x\n")
            await asyncio.sleep(0.5)
            console.write(b"A\xffB\n")  # the `read` swallows it; a second echo proves arrival
            console.write(b'echo "$x" | od -An -tx1 -v\n')
            await col.expect(rb" ff 0a\r\n", 20, start)
            await col.expect(rb" 41 ff 42 0a\r\n", 20, start)

            # IAC BREAK becomes a break condition on the guest's UART: Linux counts it per port.
            # (SysRq by BREAK works on the kernel console port only; ttyS2 is not that one.)
            def breaks() -> bytes:
                return b"cat /proc/tty/driver/serial | grep ^2: | grep -o 'brk:[0-9]*'; echo =\n"

            start = len(col.data)
            console.write(breaks())
            before = int((await col.expect(rb"\n(?:brk:(\d+)\r\n)?=\r\n", 20, start))[1] or 0)
            assert console.send_break()
            start = len(col.data)
            console.write(breaks())
            after = int((await col.expect(rb"\n(?:brk:(\d+)\r\n)?=\r\n", 20, start))[1] or 0)
            assert after == before + 1
        finally:
            console.close()

    asyncio.run(main())


@pytest.mark.peer
@pytest.mark.slow
def test_unix_reconnects_after_qemu_restart(guest: QemuGuest) -> None:
    async def main() -> None:
        col = Collector()
        console = SocketConsole(_address(guest.serials[0]), min_backoff=0.1, max_backoff=0.5)
        await console.start(col.on_data, col.on_status)
        closed = asyncio.ensure_future(console.wait_closed())
        try:
            await col.expect_status("connected")
            await _shell_answers(console, col, 60)

            n = len(col.statuses)
            await asyncio.to_thread(guest.kill)
            await col.expect_status("disconnected: reconnecting in", 10, n)
            assert not console.connected
            console.write(b"lost\n")  # detached: dropped, never raises or blocks
            assert console.dropped_writes == 5
            await asyncio.sleep(1.5)  # several failed attempts against a dead socket
            assert not closed.done()
            assert console.connections == 1

            n, mark = len(col.statuses), len(col.data)
            t0 = time.monotonic()
            guest.start()  # from this thread: QEMU dies with the thread that started it
            await col.expect_status("connected", 10, n)
            await col.expect(rb"Linux version \S+", 60, mark)  # attached again before the boot log
            await col.expect(MARKER.encode() + rb" ttyS0", 60, mark)
            print(f"restart to marker: {time.monotonic() - t0:.2f} s")
            await _shell_answers(console, col)
            assert console.connections == 2
            assert not closed.done()
        finally:
            console.close()
        assert await asyncio.wait_for(closed, 1) == 0

    asyncio.run(main())


# ---- without QEMU -------------------------------------------------------------------------


@pytest.mark.unit
def test_waits_for_a_missing_socket_with_capped_backoff(tmp_path: Path) -> None:
    path = tmp_path / "late.sock"

    async def main() -> None:
        col = Collector()
        console = SocketConsole(path, min_backoff=0.05, max_backoff=0.2)
        await console.start(col.on_data, col.on_status)
        try:
            await asyncio.sleep(1.0)
            retries = [s for s in col.statuses if s.startswith("disconnected")]
            assert retries[0] == "disconnected: reconnecting in 0.05 s (No such file or directory)"
            assert {s.split(" in ")[1].split(" s")[0] for s in retries} == {"0.05", "0.1", "0.2"}
            assert not console.connected

            got: asyncio.Queue[bytes] = asyncio.Queue()

            async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                w.write(b"hello from the guest\n")
                got.put_nowait(await r.readexactly(4))
                w.close()

            server = await asyncio.start_unix_server(serve, str(path))
            async with server:
                await col.expect(b"hello from the guest\n", 5)
                console.write(b"ping")
                assert await asyncio.wait_for(got.get(), 5) == b"ping"
                await col.expect_status("disconnected", 5, col.statuses.index("connected"))
        finally:
            console.close()

    asyncio.run(main())


@pytest.mark.unit
def test_writes_never_block_and_are_capped(tmp_path: Path) -> None:
    """A peer that does not read: writes queue up to the cap, then drop; the loop stays free."""
    path = tmp_path / "stuck.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    async def main() -> None:
        col = Collector()
        console = SocketConsole(path, max_pending_write=256 * 1024)
        await console.start(col.on_data, col.on_status)
        try:
            assert console.connected
            chunk = os.urandom(64 * 1024)
            t0 = time.monotonic()
            for _ in range(64):  # 4 MiB at a peer that never reads
                console.write(chunk)
            assert time.monotonic() - t0 < 0.5
            assert console.dropped_writes > 0
            assert console.dropped_writes % len(chunk) == 0
        finally:
            console.close()

    try:
        asyncio.run(main())
    finally:
        listener.close()


def _telnet_feed_all(chunks: list[bytes]) -> tuple[bytes, bytes]:
    f = TelnetFilter()
    out, rep = b"", b""
    for c in chunks:
        o, r = f.feed(c)
        out, rep = out + o, rep + r
    return out, rep


@pytest.mark.unit
def test_telnet_filter_any_split() -> None:
    qemu_hello = bytes([IAC, WILL, 1, IAC, WILL, 3, IAC, WILL, 0, IAC, DO, 0])
    stream = (
        qemu_hello
        + b"login: \xff\xffok"
        + bytes([IAC, DO, 24])  # DO TERMINAL-TYPE: refused
        + bytes([IAC, 250, 24, 1, IAC, 240])  # a subnegotiation: swallowed
        + bytes([IAC, 241])
        + b"\xff\x41"  # NOP, then an unescaped 0xFF from the guest
        + bytes([IAC, WILL, 1])  # repeated: no second answer
        + bytes([IAC, WONT, 1])  # withdrawn: acknowledged
    )
    want_out = b"login: \xffok\xffA"
    want_rep = bytes(
        [IAC, DO, 1, IAC, DO, 3, IAC, DO, 0, IAC, WILL, 0, IAC, WONT, 24, IAC, DONT, 1]
    )
    assert _telnet_feed_all([stream]) == (want_out, want_rep)
    rng = random.Random(4)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 8)))
        parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert _telnet_feed_all(parts) == (want_out, want_rep)
    assert TelnetFilter.escape(b"a\xffb\xff") == b"a\xff\xffb\xff\xff"
    assert bytes([IAC, BREAK]) == b"\xff\xf3"


@pytest.mark.unit
def test_pause_resume_and_pending_write(tmp_path: Path) -> None:
    """Push-back for unrendered streams: paused means unread, resume delivers in order."""
    path = tmp_path / "flow.sock"

    async def main() -> None:
        col = Collector()
        peer: list[asyncio.StreamWriter] = []
        arrived = asyncio.Event()

        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            peer.append(w)
            arrived.set()
            await asyncio.sleep(30)  # never reads

        server = await asyncio.start_unix_server(serve, str(path))
        async with server:
            console = SocketConsole(path)
            console.pause_reading()  # before attaching: kept for the connection
            await console.start(col.on_data, col.on_status)
            try:
                await asyncio.wait_for(arrived.wait(), 5)
                peer[0].write(b"first")
                await asyncio.sleep(0.3)
                assert col.data == b""
                console.resume_reading()
                await col.expect(b"first", 5)
                console.pause_reading()
                peer[0].write(b"second")
                await asyncio.sleep(0.3)
                assert col.data == b"first"
                console.resume_reading()
                await col.expect(b"firstsecond", 5)

                assert console.pending_write() == 0
                for _ in range(40):
                    console.write(b"x" * 65536)
                assert console.pending_write() > 0  # the peer does not read
                assert console.dropped_writes == 0  # 2.5 MiB is under the 4 MiB cap
            finally:
                console.close()
                peer[0].close()
            assert console.pending_write() == 0

    asyncio.run(main())
