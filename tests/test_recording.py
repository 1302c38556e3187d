"""``--record FILE``: asciicast v2 recordings that the real asciinema (PyPI ``asciinema``) reads:
its Python reader parses every line and ``asciinema cat`` gives back the console's output;
recordings of vim on a pty and of the QEMU guest booting; invalid UTF-8 split across reads;
rotation by size; the file 0600; a full disk never stops the console."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from asciinema import asciicast
from harness import RunningVncterm
from host_harness import RunningHost
from peers.qemu_guest import MARKER, QemuGuest, Serial
from peers.vncdotool_peer import VncDoToolPeer
from test_console_output import PAGE, _fill
from test_console_output import small_disk as small_disk  # a fixture

from vncterm.cli import config_from_args
from vncterm.cli_options import build_parser
from vncterm.config import Config, ConsoleSpec, HostConfig, ListenAddress
from vncterm.errors import ConfigError
from vncterm.server.recording import Recording
from vncterm.terminal.emulator import Emulator

#: A monotonic clock of days (the project's rule for clocks in tests).
DAYS = 259200.0
#: Seconds the guest may take to boot (TCG, a busy machine).
BOOT = 120.0


class Clock:
    def __init__(self) -> None:
        self.now = DAYS + 0.25

    def __call__(self) -> float:
        return self.now


def parse(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    """The header and events as asciinema's own v2 reader gives them."""
    with asciicast.open_from_url(str(path)) as cast:
        assert cast.version == 2
        return cast.v2_header, list(cast.events())


def recorded_output(path: Path) -> str:
    """The output events so far (the file may end in a line being written)."""
    out = []
    for line in path.read_text(errors="replace").splitlines()[1:]:
        try:
            event = json.loads(line)
        except ValueError:
            break
        if event[1] == "o":
            out.append(event[2])
    return "".join(out)


def asciinema_cat(path: Path) -> str:
    """What ``asciinema cat FILE`` prints (the output events, in order)."""
    done = subprocess.run(
        [sys.executable, "-m", "asciinema", "cat", str(path)],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return done.stdout.decode()


@pytest.mark.unit
def test_invalid_and_split_utf8_never_break_the_json(tmp_path: Path) -> None:
    path = tmp_path / "rec.cast"
    clock = Clock()
    rec = Recording(str(path), 80, 25, "guest", clock=clock, wall=lambda: 1.8e9)
    reads = [b"caf\xc3", b"\xa9 \xe4\xb8", b"\xad ok \xff\xfe\x80 \xf0\x9f", b"\x98\x80\x1b[0m"]
    for data in reads:
        clock.now += 0.5
        rec.output(data)
    rec.resize(100, 30)
    rec.marker("viewer connected")
    rec.input(b"secret\r")  # not recorded without record_input
    rec.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    header, events = parse(path)
    assert header == {
        "version": 2,
        "width": 80,
        "height": 25,
        "timestamp": 1800000000,
        "title": "guest",
    }
    out = "".join(e[2] for e in events if e[1] == "o")
    # the split sequences whole, each invalid byte one U+FFFD
    assert out == "café 中 ok \ufffd\ufffd\ufffd 😀\x1b[0m"
    assert [e[0] for e in events][:4] == [0.5, 1.0, 1.5, 2.0]
    assert ["r", "100x30"] in [e[1:] for e in events]
    assert ["m", "viewer connected"] in [e[1:] for e in events]
    assert all(e[1] != "i" for e in events)


@pytest.mark.unit
def test_input_is_recorded_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "rec.cast"
    rec = Recording(str(path), 80, 25, record_input=True, clock=Clock())
    rec.input(b"ls\r")
    rec.close()
    _, events = parse(path)
    assert [e[1:] for e in events] == [["i", "ls\r"]]
    help_text = build_parser().format_help()
    assert "PASSWORDS" in help_text
    with pytest.raises(ConfigError):
        config_from_args(["--record-input", "--", "true"])


@pytest.mark.unit
def test_rotation_by_size_keeps_n_files_each_playable(tmp_path: Path) -> None:
    path = tmp_path / "rec.cast"
    rec = Recording(str(path), 80, 25, max_size=4096, keep=2, clock=Clock())
    for i in range(200):
        rec.output(f"line {i:04d} {'x' * 60}\r\n".encode())
    rec.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["rec.cast", "rec.cast.1", "rec.cast.2"]
    seen = []
    for name in ("rec.cast.2", "rec.cast.1", "rec.cast"):
        header, events = parse(tmp_path / name)
        assert header["version"] == 2
        assert (tmp_path / name).stat().st_size < 4096 + 200
        seen += [e[2] for e in events]
    # the newest lines are all there, in order, across the kept files
    assert "".join(seen).endswith("line 0199 " + "x" * 60 + "\r\n")
    numbers = [int(s.split()[1]) for s in seen]
    assert numbers == list(range(numbers[0], 200))


@pytest.mark.unit
def test_a_full_disk_never_stops_the_recording(tmp_path: Path) -> None:
    """/dev/full fails every write with ENOSPC: nothing raises, the loss is counted."""
    notices: list[str] = []
    rec = Recording("/dev/full", 80, 25, on_notice=lambda k, t, ttl: notices.append(t))
    for _ in range(3):
        rec.output(b"lost\r\n")
        rec.marker("viewer connected")
    rec.close()
    assert notices and "cannot write" in notices[0]


@pytest.mark.peer
def test_vim_session_recorded_and_played_back_by_asciinema(tmp_path: Path) -> None:
    """vim on a pty, typed into by a real viewer, then resized: ``asciinema cat`` gives back
    the output, which played with the resize events draws exactly the screen vncterm showed;
    the viewer's arrival and departure are markers; keys are input events."""
    path = tmp_path / "vim.cast"
    text_file = tmp_path / "notes.txt"
    vim = ["vim", "-N", "-u", "NONE", "-i", "NONE", "-c", "set number", str(text_file)]
    with RunningVncterm(vim, record_path=str(path), record_input=True) as vt:
        vt.wait_text("notes.txt")
        viewer = VncDoToolPeer()
        viewer.connect("127.0.0.1", vt.port)
        viewer.type("ihello from vim\x1b")
        vt.wait_text("hello from vim")
        viewer.close()
        assert vt.server is not None
        session = vt.server.session
        vt.call(lambda: session.resize(100, 30))  # vim redraws at the new size (SIGWINCH)
        # vim takes Escape only once 'timeoutlen' (1 s under -u NONE) passed without more keys:
        # the screen to compare is the one it leaves when it has nothing more to draw
        deadline = time.monotonic() + 15
        screen = vt.text()
        while True:
            time.sleep(0.5)
            now = vt.text()
            if now == screen and not any("-- INSERT --" in line for line in now):
                break
            assert time.monotonic() < deadline, "vim never settled:\n" + "\n".join(now)
            screen = now
    header, events = parse(path)
    assert (header["width"], header["height"]) == (80, 25)
    codes = {e[1] for e in events}
    assert {"o", "i", "m"} <= codes
    labels = [e[2] for e in events if e[1] == "m"]
    assert any(label.startswith("viewer connected") for label in labels)
    assert any(label.startswith("viewer disconnected") for label in labels)
    assert "".join(e[2] for e in events if e[1] == "i").startswith("ihello from vim\x1b")
    times = [e[0] for e in events]
    assert times == sorted(times)
    # asciinema cat's output, fed to a terminal, shows what vncterm showed before vim quit
    played = asciinema_cat(path)
    assert played == "".join(e[2] for e in events if e[1] == "o")
    assert ["r", "100x30"] in [e[1:] for e in events]
    replay = Emulator(80, 25)
    for _, code, data in events:
        if code == "o":
            replay.feed(data.encode())
        elif code == "r":
            cols, rows = map(int, data.split("x"))
            replay.resize(cols, rows)
    assert (replay.cols, replay.rows) == (100, 30)
    assert replay.text() == screen


@pytest.mark.peer
def test_a_restarted_program_is_marked(tmp_path: Path) -> None:
    """A host's console whose program ends and is started again (``restart``): a marker."""
    path = tmp_path / "rec.cast"
    console = Config(
        command=["sh", "-c", "echo run; exit 3"],
        listen=[ListenAddress("127.0.0.1", 0)],
        restart=True,
        record_path=str(path),
    )
    config = HostConfig(consoles={"vm": console}, state_dir=str(tmp_path / "state"))
    with RunningHost(config, control=False):
        deadline = time.monotonic() + 20
        # the marker comes before the second run's output: wait for both
        while "console restarted" not in path.read_text() or recorded_output(path).count("run") < 2:
            assert time.monotonic() < deadline, path.read_text()
            time.sleep(0.1)
    _, events = parse(path)
    assert ["m", "console restarted"] in [e[1:] for e in events]


@pytest.mark.unit
def test_record_options_reach_the_config() -> None:
    config, _ = config_from_args(
        ["--record", "/tmp/x.cast", "--record-max-size", "1", "--record-keep", "7", "--", "true"]
    )
    assert config.record_path == "/tmp/x.cast"
    assert (config.record_max_size, config.record_keep, config.record_input) == (1 << 20, 7, False)
    assert json.dumps(config.restore_screen) == "true"


@pytest.mark.peer
@pytest.mark.slow
def test_guest_boot_recorded_and_reconnection_marked(tmp_path: Path) -> None:
    """The QEMU guest boots on a serial socket while vncterm records it; QEMU is killed and
    started again (the socket goes away and comes back): the recording marks the reconnection,
    asciinema reads it all, and its output replayed is the screen vncterm ended with."""
    path = tmp_path / "boot.cast"
    serial = tmp_path / "ttyS0.sock"
    with QemuGuest(tmp_path / "vm", [Serial.unix(serial)]) as guest:
        spec = ConsoleSpec("unix", str(serial))
        with RunningVncterm([], console=spec, record_path=str(path)) as vt:
            vt.wait_text(MARKER, timeout=BOOT)
            vt.wait_text("guest:", timeout=BOOT)
            guest.restart()
            deadline = time.monotonic() + BOOT
            while recorded_output(path).count("guest:/# ") < 2:
                assert time.monotonic() < deadline, "the guest's second boot was not recorded"
                time.sleep(0.1)
            time.sleep(0.5)
        assert vt.server is not None
        screen = vt.server.emulator.text()
    header, events = parse(path)
    assert header["version"] == 2 and header["width"] == 80
    labels = [e[2] for e in events if e[1] == "m"]
    assert any(label.startswith("console connected") for label in labels), labels
    played = asciinema_cat(path)
    assert played.count("Linux version") >= 2  # both boots
    replay = Emulator(80, 25)
    replay.feed(played.encode())
    assert replay.text() == screen


@pytest.mark.unit
def test_a_full_disk_cuts_no_event_in_half(small_disk: Path) -> None:
    """A real full tmpfs: an event that fits in part is taken back whole, later ones are lost
    and counted, and once there is room the gap is a marker: every line stays JSON for the
    real reader."""
    path = small_disk / "rec.cast"
    clock = Clock()
    rec = Recording(str(path), 80, 25, clock=clock)
    rec.output(b"before the disk filled\r\n")
    filler = _fill(small_disk)
    room = PAGE - path.stat().st_size % PAGE  # what tmpfs still takes in the file's last page
    rec.output(b"x" * (room + 100))  # a write that fits in part
    assert path.stat().st_size % PAGE != 0  # taken back: the page is not full
    for i in range(5):  # within the retry interval: not tried, counted
        rec.output(f"lost {i}\r\n".encode())
    filler.unlink()
    clock.now += 2  # past the retry interval
    rec.output(b"after\r\n")
    rec.close()
    _, events = parse(path)
    out = "".join(e[2] for e in events if e[1] == "o")
    assert out == "before the disk filled\r\nafter\r\n"
    gaps = [e[2] for e in events if e[1] == "m"]
    assert len(gaps) == 1 and "bytes of the recording lost (No space left on device)" in gaps[0]
