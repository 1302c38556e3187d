"""No blank screen after vncterm restarts: each console's terminal (cells and attributes, both
screens, cursor, modes, title, scrollback) is kept in the state directory and put back at start,
exactly, with a marker line; damaged or hostile state files are ignored; tests' Server keeps
nothing."""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from harness import RunningVncterm
from host_harness import RunningHost
from peers.qemu_guest import free_tcp_port
from peers.vncdotool_peer import VncDoToolPeer

from vncterm.config import Config, HostConfig, ListenAddress
from vncterm.server import screen_state
from vncterm.server.screen_state import ScreenKeeper
from vncterm.terminal.emulator import Emulator
from vncterm.terminal.snapshot import Encoder, dump

#: Colours, attributes, wide and combining characters, DEC line drawing, a title: a screen
#: that shows whether every cell came back.
DRAWING = (
    "".join(f"scrolled away {i}: \x1b[3{i % 8}mcolour {i}\x1b[0m\r\n" for i in range(60))
    + "\x1b]2;restored title\x07\x1b[2J\x1b[H"
    + "\x1b]4;20;#ff8000;1;rgb:00/80/ff\x1b\\\x1b]11;#101828\x07"  # the program's colours
    + "".join(f"\x1b[38;5;{c}m\u2588" for c in range(16, 96))
    + "\x1b[0m\r\n"
    + "\x1b[1;31mbold red\x1b[0m \x1b[4munderlined\x1b[0m \x1b[7mreverse\x1b[0m "
    + "\x1b[3mitalic\x1b[0m \x1b[2mdim\x1b[0m \x1b[9mstruck\x1b[0m\r\n"
    + "\x1b[48;2;40;90;200m\x1b[38;2;255;220;0m truecolour \x1b[0m \u4e2d\u6587 e\u0301\u00e9\r\n"
    + "\x1b(0lqqqqqqqk\r\nx vncterm x\r\nmqqqqqqqj\x1b(B\r\n"
    + "\x1b[44m\x1b[K\x1b[0m\r\n"  # a line blanked in blue (background colour erase)
    + "\x1b[12;30H\x1b[32mcursor here>\x1b[0m"
)


def rich_emulator() -> Emulator:
    """An emulator in a state that uses every part of the snapshot."""
    e = Emulator(80, 25)
    e.feed(DRAWING.encode())
    e.feed(b"\x1b[?1h\x1b=\x1b[?2004h\x1b[5 q\x1b[22t\x1b]2;second\x07")
    e.feed(b"\x1b[3;20r\x1b[5;7H\x1b7\x1b)0\x0e")  # margins, saved cursor, G1 graphics shifted in
    e.feed(b"\x1b[?1049h\x1b[2;2Halternate \x1b[41mscreen\x1b[0m")
    e.feed(b"\x1b[3g\x1b[1;13H\x1bH")  # one tab stop at column 12
    return e


def cells(e: Emulator, buffer: Any) -> list[list[Any]]:
    return [
        [buffer[y][x] for x in range(e.cols)] + [buffer[y].default, buffer[y].wrapped]
        for y in range(e.rows)
    ]


@pytest.mark.unit
def test_the_terminal_comes_back_exactly() -> None:
    e = rich_emulator()
    state = json.loads(json.dumps(dump(e.screen)))
    f = Emulator(80, 25)
    f.restore(state)
    assert cells(f, f.screen.buffer) == cells(e, e.screen.buffer)
    assert f.screen._other_buffer is not None and e.screen._other_buffer is not None
    assert cells(f, f.screen._other_buffer) == cells(e, e.screen._other_buffer)
    assert list(f.scrollback) == list(e.scrollback) and len(f.scrollback) > 30
    assert dump(f.screen) == dump(e.screen)
    assert (f.title, f.cursor_shape, f.cursor_blink) == ("second", "bar", True)
    assert f.application_cursor_keys and f.application_keypad and f.bracketed_paste
    # what comes next is drawn the same way: the modes, margins, saved cursors, tab stops
    # and character sets came back too
    more = b"\x1b[?1049lqq\tx\x1b8>\n\n\n\x1b[23t" + "é\u4e2d\r\n".encode() * 30
    for emulator in (e, f):
        emulator.feed(more)
    assert dump(f.screen) == dump(e.screen)


@pytest.mark.unit
def test_the_painted_screen_draws_the_same_cells() -> None:
    """What a recording starts with after a restore: played on a fresh terminal, the same
    cells, cursor and title (the alternate screen shown, as a viewer sees it)."""
    for e in (rich_emulator(), Emulator(80, 25)):
        if not e.alternate_screen:
            e.feed(DRAWING.encode())
        f = Emulator(80, 25)
        f.feed(e.paint().encode())
        assert [[f.screen.buffer[y][x] for x in range(80)] for y in range(25)] == [
            [e.screen.buffer[y][x] for x in range(80)] for y in range(25)
        ]
        assert (f.screen.cursor.x, f.screen.cursor.y) == (e.screen.cursor.x, e.screen.cursor.y)
        assert f.title == e.title


@pytest.mark.unit
def test_a_smaller_terminal_takes_what_fits() -> None:
    e = rich_emulator()
    f = Emulator(40, 10)
    f.restore(json.loads(json.dumps(dump(e.screen))))
    f.resize(40, 10)
    assert (f.cols, f.rows) == (40, 10)
    assert len(f.text()) == 10


def save(path: Path, doc: Any) -> None:
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))


def good_doc() -> dict[str, Any]:
    return {"vncterm_screen": 1, "saved_at": 1.8e9, "state": dump(rich_emulator().screen)}


def corruptions() -> Iterator[tuple[str, Any]]:
    """Damaged and hostile documents, each a way a state file can be wrong."""
    yield "not a dict", [1, 2]
    yield "another envelope", {**good_doc(), "vncterm_screen": 2}
    yield "saved_at", {**good_doc(), "saved_at": "yesterday"}
    base = good_doc()["state"]
    bad_values: dict[str, list[Any]] = {
        "format": [2, None],
        "cols": [0, 10**9, "80"],
        "rows": [0, 501],
        "styles": [None, [[1, 2]], [["red", "blue", 1, 0, 0, 0, 0, 0, 0, "x"]], [["x" * 99] * 10]],
        "scrollback": [
            None,
            [[]],
            [["a", [[0, 10**6]], None, 80, 0]],
            [["x" * 2000, [], None, 80, 0]],
        ],
        "lines": [[], None, [["abc", [[0, 0]], None, 3, 0]] * 25],
        "cursor": [[0, 0], [0, 99, 0, False], [10**6, 0, 0, False]],
        "saved": [None, [[0, 0, 0, False, "Z", "B", 0, False, True], None]],
        "modes": [["x"], list(range(300))],
        "margins": [[20, 3], [0]],
        "tabstops": [[-1], ["a"]],
        "charsets": [["B"], ["Q", "B"]],
        "cursor_shape": ["triangle"],
        "title": [None, "t" * 5000],
        "title_stack": [["x"] * 11, [1]],
        "alternate": ["yes"],
    }
    for key, values in bad_values.items():
        for value in values:
            yield f"{key}={str(value)[:40]}", {**good_doc(), "state": {**base, key: value}}


def fresh_keeper(path: Path) -> tuple[ScreenKeeper, Emulator]:
    e = Emulator(80, 25)
    return ScreenKeeper(str(path), e), e


@pytest.mark.unit
def test_damaged_or_hostile_state_files_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "console.json.gz"
    blank = Emulator(80, 25).text()
    cases = list(corruptions())
    assert len(cases) > 30
    for what, doc in cases:
        save(path, doc)
        keeper, e = fresh_keeper(path)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert keeper.restore() is None, what
        assert e.text() == blank and len(e.scrollback) == 0, what
        assert len(caplog.records) == 1 and "ignored" in caplog.records[0].getMessage(), what
    # bytes that are no gzip, gzip that is no JSON, and random damage to a good file
    for raw in (b"", b"\x00" * 100, gzip.compress(b"{not json"), gzip.compress(b"[" * 100000)):
        path.write_bytes(raw)
        assert fresh_keeper(path)[0].restore() is None
    good = json.dumps(good_doc()).encode()
    rng = random.Random(19)
    for _ in range(150):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path.write_bytes(gzip.compress(bytes(damaged)))
        fresh_keeper(path)[0].restore()  # restored or ignored, never raised


@pytest.mark.unit
def test_state_file_sizes_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "console.json.gz"
    save(path, good_doc())
    assert fresh_keeper(path)[0].restore() is not None
    monkeypatch.setattr(screen_state, "MAX_JSON", 1000)  # a gzip bomb: small, expands past it
    assert fresh_keeper(path)[0].restore() is None
    monkeypatch.setattr(screen_state, "MAX_JSON", 512 << 20)
    monkeypatch.setattr(screen_state, "MAX_FILE", 1000)
    assert fresh_keeper(path)[0].restore() is None


@pytest.mark.unit
def test_saving_is_atomic_private_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "screens" / "console.json.gz"
    e = rich_emulator()
    keeper = ScreenKeeper(str(path), e)
    keeper.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["console.json.gz"]  # no temporary left
    restored, f = fresh_keeper(path)
    assert restored.restore() is not None and dump(f.screen) == dump(e.screen)
    # a folder that cannot be written: logged, nothing raised
    ScreenKeeper("/proc/vncterm-cannot/console.json.gz", e).close()


@pytest.mark.peer
def test_tests_server_keeps_no_state() -> None:
    """The harness's Server (no state directory) writes no screen anywhere."""
    with RunningVncterm(["true"]) as vt:
        assert vt.server is not None
        assert vt.server.service.screen_keeper is None


class GuestConsole:
    """A serial console served on a unix socket by this test process, which outlives vncterm:
    on the first connection it draws DRAWING; later ones get nothing (a guest that printed
    nothing while vncterm was away). What vncterm sends (replies to queries) is read and
    dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(4)
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections == 1:
                conn.sendall(DRAWING.encode())
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        with conn:
            while conn.recv(4096):
                pass

    def close(self) -> None:
        self.server.close()


def start_vncterm(sock: Path, port: int, state: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STATE_DIRECTORY": str(state)}
    cmd = [sys.executable, "-m", "vncterm", "--unix", str(sock), "--listen", f"127.0.0.1:{port}"]
    return subprocess.Popen([*cmd, *extra], env=env, stderr=subprocess.DEVNULL)


def settled_capture(port: int, timeout: float = 20.0) -> np.ndarray:
    """A vncdotool viewer's screen once it stops changing (and shows the drawing)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with VncDoToolPeer() as viewer:
                viewer.connect("127.0.0.1", port)
                last = viewer.capture()
                while time.monotonic() < deadline:
                    time.sleep(0.4)
                    now = viewer.capture()
                    if np.array_equal(now, last) and len(np.unique(now)) > 20:
                        return now
                    last = now
        except Exception:  # vncterm still starting
            pass
        assert time.monotonic() < deadline, "the screen never settled"
        time.sleep(0.2)


def screen_file(state: Path) -> Path:
    files = list((state / "screens").glob("*.json.gz"))
    assert len(files) == 1, files
    return files[0]


@pytest.mark.peer
@pytest.mark.slow
def test_a_restarted_vncterm_shows_the_same_screen(tmp_path: Path) -> None:
    """vncterm draws a guest's screen and saves it while running; it is killed (a crash) and
    started again while the guest runs on: a real viewer sees the very same pixels (the
    bottom row carries the notice that vncterm was away), and the scrollback holds the marker.
    With --no-restore-screen the terminal starts blank."""
    sock, state, port = tmp_path / "ttyS0.sock", tmp_path / "state", free_tcp_port()
    guest = GuestConsole(sock)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_vncterm(sock, port, state))
        before = settled_capture(port)
        deadline = time.monotonic() + 20
        while not (state / "screens").is_dir() or not list((state / "screens").iterdir()):
            assert time.monotonic() < deadline, "the screen was not saved while running"
            time.sleep(0.2)
        time.sleep(0.5)
        procs[0].send_signal(signal.SIGKILL)  # a crash: only the save made while running
        procs[0].wait(timeout=10)

        procs.append(start_vncterm(sock, port, state))
        after = settled_capture(port)
        assert guest.connections == 2
        row = 18  # the status row (cells of 9x18 pixels) shows the notice
        assert before.shape == after.shape == (450, 720)
        assert np.array_equal(after[:-row], before[:-row])
        assert not np.array_equal(after[-row:], before[-row:])
        procs[1].send_signal(signal.SIGTERM)  # a clean stop saves the state once more
        assert procs[1].wait(timeout=10) == 128 + signal.SIGTERM
        doc = json.loads(gzip.decompress(screen_file(state).read_bytes()))
        last = doc["state"]["scrollback"][-1][0]
        assert "[vncterm] vncterm was not attached from" in last, last
        assert stat.S_IMODE(screen_file(state).stat().st_mode) == 0o600

        procs.append(start_vncterm(sock, port, state, "--no-restore-screen"))
        with VncDoToolPeer() as viewer:
            deadline = time.monotonic() + 20
            while True:
                try:
                    viewer.connect("127.0.0.1", port)
                    break
                except Exception:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            time.sleep(0.5)
            shown = viewer.capture()[:-row]
            assert np.count_nonzero(shown != shown[-1, -1]) <= 9 * 18  # blank but the cursor
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        guest.close()


@pytest.mark.peer
def test_a_host_keeps_each_consoles_screen_by_name(tmp_path: Path) -> None:
    """On the host's path (config file consoles) it works with no option: each console's
    screen comes back by name, with the marker in the scrollback, on the status row and in
    the recording; a console with restore_screen off keeps nothing."""
    cast = tmp_path / "alpha.cast"

    def config(first: bool) -> HostConfig:
        draw = "printf '\\033[1;33mALPHA-SCREEN\\033[0m\\n'; " if first else ""
        return HostConfig(
            consoles={
                "alpha": Config(
                    command=["sh", "-c", draw + "exec sleep 1000"],
                    listen=[ListenAddress("127.0.0.1", 0)],
                    record_path=str(cast),
                ),
                "beta": Config(
                    command=[
                        "sh",
                        "-c",
                        ("echo BETA-SCREEN; " if first else "") + "exec sleep 1000",
                    ],
                    listen=[ListenAddress("127.0.0.1", 0)],
                    restore_screen=False,
                ),
            },
            config_path=str(tmp_path / "vncterm.toml"),
            state_dir=str(tmp_path / "state"),
        )

    with RunningHost(config(True)) as run:
        run["alpha"].wait_text("ALPHA-SCREEN")
        run["beta"].wait_text("BETA-SCREEN")
        assert run.host is not None
        shown = run["alpha"].text()
    screens = tmp_path / "state" / "screens"
    assert sorted(p.name for p in screens.iterdir()) == ["alpha.json.gz"]
    with RunningHost(config(False)) as run:
        assert run.host is not None
        alpha, beta = run.host.services["alpha"], run.host.services["beta"]
        assert run["alpha"].text() == shown
        assert not "".join(run["beta"].text()).strip()
        note = run.call(lambda: alpha.emulator.scrollback[-1].string())
        assert note.startswith("[vncterm] vncterm was not attached from"), note
        status = run.call(lambda: alpha.session.status.get("restored"))
        assert status is not None and "may be lost" in status
        assert beta.screen_keeper is None
    events = list(map(json.loads, cast.read_text().splitlines()[1:]))
    markers = [e for e in events if e[1] == "m"]
    assert any("was not attached from" in e[2] for e in markers), markers
    # the new recording starts from the restored screen: played, it shows what vncterm showed
    player = Emulator(80, 25)
    player.feed(next(e[2] for e in events if e[1] == "o").encode())
    assert player.text() == shown
    # each run records into a file of its own: the first run's moved to alpha.cast.1
    first = (tmp_path / "alpha.cast.1").read_text()
    assert first.startswith('{"version": 2') and "ALPHA-SCREEN" in first


@pytest.mark.unit
def test_a_state_too_large_keeps_the_newest_scrollback() -> None:
    e = Emulator(80, 25)
    e.feed(b"".join(b"row %d\r\n" % i for i in range(3000)))
    encoder = Encoder()
    full = encoder.json(e.snapshot())
    cut = encoder.json(e.snapshot(), max_bytes=len(full) // 2)
    assert len(cut) <= len(full) // 2
    f = Emulator(80, 25)
    f.restore(json.loads(cut))
    assert 0 < len(f.scrollback) < len(e.scrollback)
    assert list(f.scrollback) == list(e.scrollback)[-len(f.scrollback) :]
    assert f.text() == e.text()
