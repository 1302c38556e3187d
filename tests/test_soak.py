"""A short soak (``benchmarks/soak.py``, run as a program): 10 viewers while the console floods
for 5 s, 3 of them never reading. Readers keep getting fresh frames, the stuck ones are dropped
once their send buffer stays full for the stuck timeout, RSS stays bounded, and ``--log`` holds
every byte the flood wrote. The full run (50 viewers, 60 s) is ``python benchmarks/soak.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.peer, pytest.mark.slow]

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def test_short_soak() -> None:
    run = subprocess.run(
        [sys.executable, str(SOAK), "--viewers", "10", "--stuck", "3", "--duration", "5"]
        + ["--stuck-timeout", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    r = json.loads(run.stdout)
    assert r["exit_status"] == 0
    assert r["reader_errors"] == []
    # frames keep coming while it floods (bounds loose enough for a loaded 2-core machine)
    assert r["frames_per_reader"]["min"] >= 5, r
    assert r["reader_first_frame_s"] < 3.0 and r["reader_max_gap_s"] < 2.5, r
    dropped = r["stuck_dropped_at_s"]
    assert all(t is not None and t < 5.0 for t in dropped), r  # dropped, not kept forever
    assert r["server_drops_logged"] == 3, r
    assert r["rss_mib"]["max"] < r["rss_mib"]["after_warmup"] + 100, r
    assert r["log_matches"], r
