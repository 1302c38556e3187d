"""libFuzzer (atheris) harnesses and the byte-level driver they share with the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_short(harness: str, timeout: float) -> None:
    """CI's short run of ``tests/fuzz/HARNESS``: 20,000 inputs of at most 2 KiB, seed 1; it
    must end without a crash (the long runs are documented in the harnesses)."""
    path = HERE / harness
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(path.parents[2]), os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, str(path), "-runs=20000", "-max_len=2048", "-seed=1"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 20000 runs" in done.stderr, done.stderr[-2000:]
