"""Shared fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RunningVncterm

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


@pytest.fixture
def vncterm_shell() -> Iterator[RunningVncterm]:
    """A vncterm running an interactive /bin/sh with the prompt '$ '."""
    with RunningVncterm(SHELL, name="test shell") as server:
        server.wait_text("$")
        yield server
