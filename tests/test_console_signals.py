"""A console program starts with default signal dispositions and an empty signal mask, however
vncterm itself was started (``nohup``, ``cmd &`` in sh: SIGINT and SIGQUIT ignored)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.peer


def _hostile_start() -> None:
    """What a script's ``nohup cmd &`` leaves: SIGINT/SIGQUIT/SIGHUP ignored, and a mask."""
    for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2})


def _masks(path: Path) -> dict[str, int]:
    fields = dict(line.split(":\t") for line in path.read_text().splitlines())
    return {name: int(value, 16) for name, value in fields.items()}


def test_console_and_exec_stream_children_get_default_signals(tmp_path: Path) -> None:
    """vncterm started with signals ignored and blocked: both the console's program (on its pty)
    and an ``exec:`` stream's command see SigIgn = SigBlk = 0 in /proc/self/status."""
    report = "grep -E '^Sig(Ign|Blk)' /proc/self/status > {}; sleep 30"
    console_out, stream_out = tmp_path / "console", tmp_path / "stream"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vncterm",
            "--listen",
            f"unix:{tmp_path / 'vt.sock'}",
            "--stream",
            "probe=exec:" + report.format(stream_out),
            "--",
            "sh",
            "-c",
            report.format(console_out),
        ],
        stderr=subprocess.DEVNULL,
        env=env,
        preexec_fn=_hostile_start,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
            p.exists() and p.read_text().count("\n") == 2 for p in (console_out, stream_out)
        ):
            time.sleep(0.1)
        for path in (console_out, stream_out):
            masks = _masks(path)
            assert masks == {"SigBlk": 0, "SigIgn": 0}, (path.name, masks)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # the unfixed code: its child ignores SIGHUP
            server.kill()
            server.wait()
