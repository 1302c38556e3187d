"""Stream states and removal (``StreamHub.set_open``/``remove``, ``Session.offer_stream``/
``remove_stream``): the seed wire format byte for byte for clients that list only its numbers,
states only for clients that list vncterm's VTSU number, and a stream connected on demand (only
while captured) whose captures end cleanly when it goes away."""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness import RunningVncterm
from rawclient import RawClient

from vncterm.client import StreamClient
from vncterm.console.socket import SocketConsole
from vncterm.rfb.streams import STREAM_ENCODING, STREAM_STATE_ENCODING, StreamState

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def stream_rects(client: RawClient, encodings: list[int], want: int) -> list[bytes]:
    """Announce ``encodings``; the wire bytes (header + payload) of the first ``want`` stream
    and state rectangles the server sends (keeps asking for 1x1 incremental updates)."""
    client.sock.sendall(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))
    got: list[bytes] = []
    while len(got) < want:
        client.sock.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, 1, 1))
        kind = client.recv_exact(1)[0]
        assert kind == 0, f"unexpected message {kind}"
        (count,) = struct.unpack(">xH", client.recv_exact(3))
        for _ in range(count):
            header = client.recv_exact(12)
            _, _, w, h, enc = struct.unpack(">HHHHi", header)
            if enc == 0:
                client.recv_exact(w * h * 4)
                continue
            assert enc in (STREAM_ENCODING, STREAM_STATE_ENCODING), enc
            (n,) = struct.unpack(">I", client.recv_exact(4))
            got.append(header + struct.pack(">I", n) + client.recv_exact(n))
    return got


def rect(x: int, enc: int, name: str) -> bytes:
    return struct.pack(">HHHHiI", x, 0, 0, 0, enc, len(name)) + name.encode()


def test_states_go_only_to_clients_that_list_vtsu(tmp_path: Path) -> None:
    path = str(tmp_path / "dev.sock")
    with RunningVncterm(SHELL) as vt, RawClient("127.0.0.1", vt.port) as base:
        assert vt.server is not None
        session = vt.server.session
        states = RawClient("127.0.0.1", vt.port)
        assert stream_rects(base, [0, STREAM_ENCODING], 1) == [rect(0, STREAM_ENCODING, "console")]
        assert stream_rects(states, [0, STREAM_ENCODING, STREAM_STATE_ENCODING], 2) == [
            rect(0, STREAM_ENCODING, "console"),
            rect(4, STREAM_STATE_ENCODING, "console"),  # attached, guest side unknown
        ]
        vt.call(lambda: session.offer_stream("dev", lambda: SocketConsole(path), None))
        vt.call(lambda: session.streams.set_open("dev", True))
        vt.call(lambda: session.streams.set_open("dev", False))
        vt.call(lambda: session.remove_stream("dev"))
        # the seed format, byte for byte: an addition and a removal, nothing else
        assert stream_rects(base, [0, STREAM_ENCODING], 2) == [
            rect(0, STREAM_ENCODING, "dev"),
            rect(1, STREAM_ENCODING, "dev"),
        ]
        assert stream_rects(states, [0, STREAM_ENCODING, STREAM_STATE_ENCODING], 5) == [
            rect(0, STREAM_ENCODING, "dev"),
            rect(0, STREAM_STATE_ENCODING, "dev"),  # not attached (nobody captures it)
            rect(3, STREAM_STATE_ENCODING, "dev"),  # the guest opened it
            rect(2, STREAM_STATE_ENCODING, "dev"),  # and closed it
            rect(1, STREAM_ENCODING, "dev"),
        ]
        states.close()


def test_a_stream_on_demand_is_connected_only_while_captured(tmp_path: Path) -> None:
    path = str(tmp_path / "dev.sock")
    device = socket.socket(socket.AF_UNIX)
    device.bind(path)
    device.listen(4)

    def accept() -> socket.socket:
        conn, _ = device.accept()
        conn.settimeout(10)
        return conn

    def knocked() -> bool:
        return bool(select.select([device], [], [], 0.3)[0])

    with RunningVncterm(SHELL) as vt:
        assert vt.server is not None
        session = vt.server.session
        vt.call(lambda: session.offer_stream("dev", lambda: SocketConsole(path), False))

        async def go() -> None:
            loop = asyncio.get_running_loop()
            client = await StreamClient.connect("127.0.0.1", vt.port)
            await client.wait_for_stream("dev")
            assert await client.wait_for_state("dev", lambda s: True) == StreamState(
                "dev", False, False
            )
            assert not await loop.run_in_executor(None, knocked)  # nobody captures: no connection
            capture = await client.open("dev")
            conn = await loop.run_in_executor(None, accept)
            await client.wait_for_state("dev", lambda s: s.connected)
            conn.sendall(b"from-device")
            assert await asyncio.wait_for(capture.read(), 10) == b"from-device"
            capture.write(b"to-device")
            assert await loop.run_in_executor(None, conn.recv, 100) == b"to-device"
            capture.close()  # the last capture ends: the device sees the host side close
            assert await loop.run_in_executor(None, conn.recv, 100) == b""
            await client.wait_for_state("dev", lambda s: not s.connected)
            conn.close()

            again = await client.open("dev")
            conn = await loop.run_in_executor(None, accept)
            await client.wait_for_state("dev", lambda s: s.connected)
            vt.call(lambda: session.remove_stream("dev"))  # unplugged
            assert await asyncio.wait_for(again.read(), 10) == b""  # the capture ended
            assert again.ended
            assert await loop.run_in_executor(None, conn.recv, 100) == b""
            for _ in range(100):
                if "dev" not in client.streams:
                    break
                await asyncio.sleep(0.05)
            assert "dev" not in client.streams and "dev" not in client.states
            conn.close()
            with pytest.raises(LookupError):
                await client.open("dev")
            await client.close()

        asyncio.run(go())
    device.close()


def test_vncterm_stream_waits_for_a_stream_and_shows_states(tmp_path: Path) -> None:
    path = str(tmp_path / "dev.sock")
    with RunningVncterm(SHELL) as vt:
        assert vt.server is not None
        session = vt.server.session
        addr = f"127.0.0.1:{vt.port}"
        cli = [sys.executable, "-m", "vncterm.stream_cli", addr]
        waiting = subprocess.Popen(
            [*cli, "--wait", "dev", "--states"], stdout=subprocess.PIPE, text=True
        )
        watching = subprocess.Popen([*cli, "--watch"], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while vt.call(lambda: len(session.streams.clients)) < 2:  # both joined the streams
            assert time.monotonic() < deadline, "the vncterm-stream processes never joined"
            time.sleep(0.05)
        assert waiting.poll() is None  # still waiting: no such stream yet
        vt.call(lambda: session.offer_stream("dev", lambda: SocketConsole(path), None))
        vt.call(lambda: session.streams.set_open("dev", True))
        out, _ = waiting.communicate(timeout=30)
        assert waiting.returncode == 0
        assert out.splitlines() == [
            "console\tguest -, attached",
            "dev\tguest open, not attached",
        ]
        vt.call(lambda: session.remove_stream("dev"))
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(watching.stdout or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while "- dev\n" not in seen:  # the removal reached it before the server goes
            assert time.monotonic() < deadline, f"watch stalled: {seen}"
            time.sleep(0.05)
    watching.wait(timeout=30)  # the server went away: the watch ends
    reader.join(timeout=10)
    assert [line.rstrip("\n") for line in seen] == [
        "+ console",
        "= console: guest -, attached",
        "+ dev",
        "= dev: guest -, not attached",
        "= dev: guest open, not attached",
        "- dev",
    ]
