"""Telling a serial guest its size, on the real guest (Debian's kernel, busybox) through noVNC:
the cursor-position report lets a `resize`-like probe find the size, and ``--tell-size`` types
``stty rows R cols C`` after a viewer resizes, only at an empty prompt."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from harness import RunningVncterm
from peers.novnc_client import NoVncClient
from peers.qemu_guest import QemuGuest, Serial

from vncterm.cli import config_from_args
from vncterm.config import ConsoleSpec
from vncterm.config_file import load_config_file
from vncterm.errors import ConfigError

BOOT = 120.0

#: What `resize` and systemd do: save the cursor, move it to the far corner, ask where it is
#: (CSI 6n), restore it; then set the tty's size from the answer.
PROBE = (
    "stty raw -echo; printf '\\0337\\033[999;999H\\033[6n\\0338'; "
    "IFS='[;' read -r -d R esc rows cols; stty sane; stty rows $rows cols $cols; "
    "echo SIZE $(stty size)\n"
)


def wait_line(vt: RunningVncterm, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        for line in vt.text():
            m = re.match(pattern, line)
            if m:
                return m
        assert time.monotonic() < deadline, "\n".join(vt.text())
        time.sleep(0.1)


@pytest.mark.peer
@pytest.mark.slow
def test_guest_learns_its_size_by_cursor_report_and_by_tell_size(tmp_path: Path) -> None:
    serial = tmp_path / "ttyS0.sock"
    audit = tmp_path / "audit.jsonl"
    with (
        QemuGuest(tmp_path / "vm", [Serial.unix(serial)], monitor=False),
        RunningVncterm(
            [],
            console=ConsoleSpec("unix", str(serial)),
            cols=100,
            rows=30,
            allow_resize=True,
            tell_size=True,
            audit_log=str(audit),
        ) as vt,
        NoVncClient() as viewer,
    ):
        assert vt.server is not None
        renderer = vt.server.session.renderer
        vt.wait_text("guest:", timeout=BOOT)
        viewer.connect("127.0.0.1", vt.port, quality=None)
        # the cursor-position report answers the real position: the probe finds 30 x 100
        viewer.type("clear; " + PROBE)
        assert wait_line(vt, r"SIZE (\d+) (\d+)").groups() == ("30", "100")
        # a viewer resizes while a command is half typed: nothing is typed into that line
        viewer.type("echo half-typed")
        viewer.set_desktop_size(90 * renderer.cell_w, 28 * renderer.cell_h)
        deadline = time.monotonic() + 10
        while vt.call(lambda: (vt.server.emulator.cols, vt.server.emulator.rows)) != (90, 28):  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(3 * 1.0)  # three times the quiet it waits for
        assert not any("stty rows" in line for line in vt.text()), vt.text()
        # the line is sent: at the quiet, empty prompt vncterm types the size
        viewer.type("\n")
        wait_line(vt, r".*stty rows 28 cols 90\s*$", timeout=20)
        viewer.type("stty size\n")
        wait_line(vt, r"^28 90\s*$")
    told = [json.loads(line) for line in audit.read_text().splitlines()]
    told = [e for e in told if e["event"] == "tell-size"]
    assert [(e["cols"], e["rows"], e["typed"]) for e in told] == [(90, 28, "stty rows 28 cols 90")]


@pytest.mark.unit
def test_tell_size_needs_allow_resize_and_a_valid_prompt(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--allow-resize"):
        config_from_args(["--tell-size", "--unix", "/run/vm.sock"])
    with pytest.raises(ConfigError, match="regular expression"):
        config_from_args(["--tell-size", "--allow-resize", "--tell-size-prompt", "(", "--", "x"])
    config, _ = config_from_args(
        ["--tell-size", "--allow-resize", "--tell-size-prompt", "login: $", "--", "x"]
    )
    assert config.tell_size and config.tell_size_prompt == "login: $"
    path = tmp_path / "vncterm.toml"
    path.write_text(
        '[console.vm]\nunix = "/run/vm.sock"\nallow-resize = true\ntell-size = true\n'
        'tell-size-prompt = "login: $"\n'
    )
    vm = load_config_file(str(path)).consoles["vm"]
    assert vm.tell_size and vm.allow_resize and vm.tell_size_prompt == "login: $"
