"""A program that ignores SIGHUP does not keep vncterm from stopping, nor outlive it: SIGTERM
to vncterm (one console, and a host of consoles from ``--config``) gives each program SIGHUP,
then SIGKILL to its process group 3 s later (``spawn.KILL_GRACE``), logged once; vncterm then
exits with 128 + 15. Real processes: ``python -m vncterm`` and ``sh``/``sleep``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.peer

VNCTERM = [sys.executable, "-m", "vncterm"]


def stubborn(pidfile: Path) -> list[str]:
    """A shell that ignores SIGHUP (an ignored signal stays ignored across exec) and says the
    pid of the ``sleep`` it becomes."""
    return ["sh", "-c", f"trap '' HUP; echo $$ > {pidfile}; exec sleep 600"]


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def wait_pid(pidfile: Path, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 20
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the program never started"
        time.sleep(0.05)
    return int(pidfile.read_text())


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail("vncterm did not stop on SIGTERM:\n" + err[-2000:])
    assert proc.returncode == 128 + 15, err[-2000:]
    return err


def test_one_console_stops_and_its_program_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen(
        [*VNCTERM, "--listen", f"unix:{tmp_path / 'vnc.sock'}", "--", *stubborn(pidfile)],
        stderr=subprocess.PIPE,
        text=True,
    )
    pid = wait_pid(pidfile, proc)
    assert running(pid)
    err = stop(proc)
    assert not running(pid)
    assert err.count("after SIGHUP: SIGKILL") == 1


def test_a_host_stops_and_every_program_is_killed(tmp_path: Path) -> None:
    pids = [tmp_path / "a.pid", tmp_path / "b.pid"]
    config = tmp_path / "vncterm.toml"
    config.write_text(
        "".join(
            f"[console.{name}]\ncommand = {json.dumps(stubborn(pidfile))}\n"  # a TOML array
            f'listen = "unix:{tmp_path / name}.sock"\n'
            for name, pidfile in zip("ab", pids, strict=True)
        )
    )
    proc = subprocess.Popen(
        [*VNCTERM, "--config", str(config), "--state-dir", str(tmp_path / "state")],
        stderr=subprocess.PIPE,
        text=True,
    )
    started = [wait_pid(p, proc) for p in pids]
    err = stop(proc)
    assert not any(running(pid) for pid in started)
    assert err.count("after SIGHUP: SIGKILL") == 2
