"""``vncterm --config FILE`` as a user runs it: a subprocess serving the file's consoles (one
whose program does not exist stays listed as failed instead of stopping vncterm), listed by
``vncterm --list`` in text and JSON, a console added to the file and SIGHUP, with a
process-wide option of the command line still winning over the file after the reload."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from vncterm.control_client import ControlError, query

pytestmark = pytest.mark.peer

VNCTERM = [sys.executable, "-m", "vncterm"]
FILE = """
[vncterm]
max-viewers = 50

[defaults]
geometry = "100x30"

[console.one]
command = ["sh", "-c", "echo one; exec sleep 60"]
listen = "unix:one.sock"

[console.broken]
command = ["no-such-program-here"]
listen = "unix:broken.sock"
"""


def wait_until(
    check: Callable[[], bool], what: str, proc: subprocess.Popen[str], timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, f"vncterm exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def statuses(state: Path) -> dict[str, str]:
    try:
        answer = query(str(state))
    except ControlError:
        return {}
    return {c["name"]: c["status"] for c in answer["consoles"]}


def vncterm_list(*args: str) -> str:
    done = subprocess.run([*VNCTERM, "--list", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_config_file_consoles_listed_and_reloaded_on_sighup(tmp_path: Path) -> None:
    path = tmp_path / "vncterm.toml"
    path.write_text(FILE)
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [*VNCTERM, "--config", str(path), "--state-dir", str(state), "--max-viewers", "5", "-v"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: statuses(state).get("one") == "running", "console one running", proc)
        wait_until(
            lambda: statuses(state).get("broken", "").startswith("failed"), "broken failed", proc
        )
        assert proc.poll() is None  # a missing program does not stop vncterm
        table = vncterm_list("--state-dir", str(state)).splitlines()
        assert table[0].split() == ["NAME", "PORTS", "VIEWERS", "STREAMS", "STATUS", "TOKEN"]
        assert table[1].split()[:5] == [
            "one",
            str(tmp_path / "one.sock"),
            "0",
            "console",
            "running",
        ]
        listed = json.loads(vncterm_list("--json", "--state-dir", str(state)))
        assert [c["websocket"] for c in listed["consoles"]] == ["/one", "/broken"]
        with path.open("a") as f:
            f.write('\n[console.three]\ncommand = ["sleep", "60"]\nlisten = "unix:three.sock"\n')
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: statuses(state).get("three") == "running", "console three added", proc)
        assert statuses(state)["one"] == "running"
    finally:
        proc.terminate()
        status = proc.wait(timeout=15)
        assert proc.stderr is not None
        log = proc.stderr.read()
        proc.stderr.close()
    assert status == 128 + signal.SIGTERM
    # --max-viewers 5 still wins over the file's 50 after the reload: no [vncterm] change seen.
    assert "SIGHUP: console three added" in log and "[vncterm] table changed" not in log
