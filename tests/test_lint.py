"""The checks every commit passes (ruff, ruff format, mypy --strict), in the suite so that CI
catches a regression."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, f"{' '.join(args)}:\n{run.stdout}{run.stderr}"


def test_ruff_check() -> None:
    _run("ruff", "check", ".")


def test_ruff_format() -> None:
    _run("ruff", "format", "--check", ".")


@pytest.mark.slow
def test_mypy_strict() -> None:
    _run("mypy", "--strict", "vncterm")
