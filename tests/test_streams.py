"""The tunnelled-stream extension end to end: vncterm, its client API and vncterm-stream."""

from __future__ import annotations

import asyncio
import hashlib
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from harness import RunningVncterm
from rawclient import RawClient

from vncterm.client import StreamClient
from vncterm.config import ConsoleSpec
from vncterm.rfb.streams import STREAM_ENCODING, stream_encoding_for

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def test_the_minus_260_rule() -> None:
    assert stream_encoding_for([0, -260]) == -260  # the proposal's own clients
    assert stream_encoding_for([7, -260, 0]) is None  # Tight PNG (noVNC): never streams
    assert stream_encoding_for([7, -260, STREAM_ENCODING]) == STREAM_ENCODING
    assert stream_encoding_for([0, 7]) is None


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_console_capture_runs_a_command() -> None:
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")

        async def go() -> bytes:
            client = await StreamClient.connect("127.0.0.1", server.port)
            assert await client.list_streams() == ["console"]
            capture = await client.open("console")
            capture.write(b"echo $((6*7))\r")
            got = b""
            while b"42\r\n" not in got:
                got += await asyncio.wait_for(capture.read(), 10)
            capture.close()
            await client.close()
            return got

        got = run(go())
        assert isinstance(got, bytes) and b"42" in got
        server.wait_text("42")  # the same bytes reached the terminal


def test_viewer_listing_tight_and_minus_260_never_joins_the_streams() -> None:
    with RunningVncterm(SHELL) as server:
        tight_png = RawClient("127.0.0.1", server.port)
        tight_png.sock.sendall(struct.pack(">BxH4i", 2, 4, 7, -260, 0, -223))  # noVNC's habit
        proposal = RawClient("127.0.0.1", server.port)
        proposal.sock.sendall(struct.pack(">BxH2i", 2, 2, 0, -260))
        proposal.request(incremental=False)
        # the proposal's client gets the announcement, with -260 as the spec says
        kind = proposal.recv_exact(1)[0]
        assert kind == 0
        (count,) = struct.unpack(">xH", proposal.recv_exact(3))
        announced = []
        for _ in range(count):
            x, y, w, h, enc = struct.unpack(">HHHHi", proposal.recv_exact(12))
            if enc == 0:
                proposal.recv_exact(w * h * 4)
                continue
            assert (x, y, w, h, enc) == (0, 0, 0, 0, -260)
            (n,) = struct.unpack(">I", proposal.recv_exact(4))
            announced.append(proposal.recv_exact(n))
        assert announced == [b"console"]
        assert server.server is not None
        hub = server.server.session.streams
        viewers = server.call(lambda: list(server.server.session.viewers))  # type: ignore[union-attr]
        joined = server.call(lambda: list(hub.clients))
        assert len(viewers) == 2 and len(joined) == 1
        assert viewers[0] not in joined and viewers[0].conn.stream_encoding is None
        tight_png.close()
        proposal.close()


def test_view_only_viewer_cannot_capture() -> None:
    with RunningVncterm(SHELL, password=b"full", view_only_password=b"look") as server:

        async def go() -> None:
            client = await StreamClient.connect("127.0.0.1", server.port, password=b"look")
            assert await client.list_streams() == ["console"]
            with pytest.raises(LookupError):
                await client.open("console")
            await client.close()
            full = await StreamClient.connect("127.0.0.1", server.port, password=b"full")
            capture = await full.open("console")
            capture.close()
            await full.close()

        run(go())


class ByteServer:
    """A unix-socket peer behind a --stream: sends ``size`` random bytes to each connection and
    hashes everything it receives."""

    def __init__(self, path: str, size: int) -> None:
        self.path = path
        self.size = size
        self.sent = hashlib.sha256()
        self.received = hashlib.sha256()
        self.received_count = 0
        self.done_sending = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(1)
        self.conn: socket.socket | None = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        self.conn = conn
        threading.Thread(target=self._receive, args=(conn,), daemon=True).start()

    def send_all(self) -> None:
        assert self.conn is not None
        left = self.size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            self.sent.update(chunk)
            self.conn.sendall(chunk)
            left -= len(chunk)
        self.done_sending.set()

    def _receive(self, conn: socket.socket) -> None:
        while data := conn.recv(1 << 20):
            self.received.update(data)
            self.received_count += len(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.sock.close()


def test_unrendered_stream_carries_100_mb_each_way_intact(tmp_path: Path) -> None:
    size = 100 * 1000 * 1000
    peer = ByteServer(str(tmp_path / "peer.sock"), size)
    log = tmp_path / "console.log"
    streams = [("bulk", ConsoleSpec("unix", peer.path))]
    with RunningVncterm(SHELL, streams=streams, log_path=str(log)) as server:

        async def go() -> tuple[str, str]:
            client = await StreamClient.connect("127.0.0.1", server.port)
            await client.wait_for_stream("bulk")
            capture = await client.open("bulk")
            sender = threading.Thread(target=peer.send_all, daemon=True)
            sender.start()
            down = hashlib.sha256()
            got = 0
            # upload while downloading
            up = hashlib.sha256()

            async def upload() -> None:
                left = size
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    up.update(chunk)
                    capture.write(chunk)
                    await capture.drain()
                    left -= len(chunk)

            task = asyncio.ensure_future(upload())
            while got < size:
                data = await asyncio.wait_for(capture.read(), 30)
                assert data, "capture ended early"
                down.update(data)
                got += len(data)
            await task
            for _ in range(600):
                if peer.received_count >= size:
                    break
                await asyncio.sleep(0.05)
            await client.close()
            return down.hexdigest(), up.hexdigest()

        down, up = run(go())  # type: ignore[misc]
        assert got_ok(peer, down, up, size)
        server.write_console(b"echo logged-$((1+1))\r")
        server.wait_text("logged-2")
    peer.close()
    logged = log.read_bytes()
    assert b"logged-2" in logged and b"echo logged-" in logged


def got_ok(peer: ByteServer, down: str, up: str, size: int) -> bool:
    assert down == peer.sent.hexdigest(), "download corrupted"
    assert peer.received_count == size, f"upload: {peer.received_count} of {size} bytes"
    assert up == peer.received.hexdigest(), "upload corrupted"
    return True


def test_stream_hot_plug_is_announced(tmp_path: Path) -> None:
    path = str(tmp_path / "plug.sock")
    streams = [("plug", ConsoleSpec("unix", path))]
    with RunningVncterm(SHELL, streams=streams) as server:

        async def go() -> None:
            client = await StreamClient.connect("127.0.0.1", server.port)
            assert await client.list_streams() == ["console"]
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            listener.listen(1)
            await client.wait_for_stream("plug", timeout=15)
            conn, _ = await asyncio.get_running_loop().run_in_executor(None, listener.accept)
            conn.close()
            listener.close()
            os.unlink(path)
            for _ in range(200):
                if "plug" not in client.streams:
                    break
                await asyncio.sleep(0.05)
            assert "plug" not in client.streams
            await client.close()

        run(go())


def test_vncterm_stream_command_lists_and_bridges() -> None:
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        addr = f"127.0.0.1:{server.port}"
        listed = subprocess.run(
            [sys.executable, "-m", "vncterm.stream_cli", addr],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.stdout.split() == ["console"], listed.stderr
        bridged = subprocess.run(
            [sys.executable, "-m", "vncterm.stream_cli", addr, "console"],
            input=b"echo $((6*7))\r",
            capture_output=True,
            timeout=30,
        )
        assert b"42\r\n" in bridged.stdout, bridged
        sock_path = os.path.join(tempfile.mkdtemp(), "bridge.sock")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vncterm.stream_cli",
                addr,
                "console",
                "--listen",
                f"unix:{sock_path}",
            ],
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stderr is not None
            assert b"serving stream console" in proc.stderr.readline()
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock_path)
            s.settimeout(10)
            s.sendall(b"echo $((7*6))x\r")
            got = b""
            while b"42x" not in got:
                got += s.recv(4096)
            s.close()
        finally:
            proc.terminate()
            proc.wait(10)


def test_novnc_keeps_working_while_streams_come_and_go(tmp_path: Path) -> None:
    """noVNC lists Tight and -260 (Tight PNG): it must never get a stream rectangle, even on
    hot-plug (its Tight PNG decoder would choke on one)."""
    from peers.common import wait_until_equal
    from peers.novnc_client import NoVncClient

    path = str(tmp_path / "late.sock")
    with (
        RunningVncterm(SHELL, streams=[("late", ConsoleSpec("unix", path))]) as server,
        NoVncClient() as viewer,
    ):
        viewer.connect("127.0.0.1", server.port)  # noVNC's own encoding list
        assert -260 in viewer.sent_encodings() and 7 in viewer.sent_encodings()
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(1)
        conn, _ = listener.accept()  # the stream appears
        viewer.type("echo after-plug\n")
        server.wait_text("after-plug")
        assert wait_until_equal(viewer, server.framebuffer, timeout=10)
        conn.close()
        listener.close()  # and goes away
        viewer.type("echo after-unplug\n")
        server.wait_text("after-unplug")
        assert wait_until_equal(viewer, server.framebuffer, timeout=10)
        assert not viewer.fatal_events()


def _cpu_seconds(stat_path: str) -> float:
    """User + system CPU time from a /proc/.../stat file."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_an_idle_vncterm_stream_costs_nothing_and_still_hears_hot_plug(tmp_path: Path) -> None:
    """vncterm-stream keeps an incremental request for one pixel outstanding: with nothing new
    the server holds it (it used to answer each at once with the same pixel, in a loop), and a
    stream plugged in later is still announced in answer to it."""
    path = str(tmp_path / "plug.sock")
    with RunningVncterm(SHELL, streams=[("plug", ConsoleSpec("unix", path))]) as server:
        server.wait_text("$")
        assert server.server is not None
        session = server.server.session
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vncterm.stream_cli",
                f"127.0.0.1:{server.port}",
                "plug",
                "--timeout",
                "60",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            for _ in range(200):  # attached and past its first update
                if server.call(lambda: [v.updates_sent for v in session.viewers]) == [1]:
                    break
                threading.Event().wait(0.05)
            sent = server.call(lambda: [v.bytes_sent for v in session.viewers])
            assert len(sent) == 1, "vncterm-stream never attached"
            cpu = (
                _cpu_seconds(f"/proc/{proc.pid}/stat"),
                _cpu_seconds(f"/proc/self/task/{server._thread.native_id}/stat"),
            )
            threading.Event().wait(3.0)
            idle_bytes = server.call(lambda: [v.bytes_sent for v in session.viewers])[0] - sent[0]
            idle_cpu = (
                _cpu_seconds(f"/proc/{proc.pid}/stat") - cpu[0],
                _cpu_seconds(f"/proc/self/task/{server._thread.native_id}/stat") - cpu[1],
            )
            assert idle_bytes < 2048, f"{idle_bytes} bytes sent to an idle stream client in 3 s"
            assert max(idle_cpu) < 0.3, f"CPU seconds while idle (client, server): {idle_cpu}"
            # hot-plug: the held request is answered with the announcement, and the client,
            # waiting for "plug", opens it
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            listener.listen(1)
            listener.settimeout(20)
            conn, _ = listener.accept()
            assert proc.stdout is not None
            got = b""
            for _ in range(100):  # what the plug says before the capture starts is not kept
                conn.sendall(b"plugged-in\n")
                if select.select([proc.stdout], [], [], 0.2)[0]:
                    got += os.read(proc.stdout.fileno(), 4096)
                if b"plugged-in" in got:
                    break
            assert b"plugged-in" in got, proc.stderr.read1() if proc.stderr else b""
            conn.close()
            listener.close()
        finally:
            proc.kill()
            proc.wait(10)
