"""The first hour with the command line, through subprocess runs of ``python -m vncterm``:
xterm's bold colours by default, a missing command or journal said plainly (with a shell's and
a configuration error's exit status, before listening), defaults in ``--help``, and the start-up
log saying how to connect."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rawclient import RawClient

VNCTERM = [sys.executable, "-m", "vncterm"]
BRIGHT_BLUE, BLUE = 0x5C5CFF, 0x0000EE


@contextmanager
def vncterm(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A vncterm subprocess, stopped (SIGTERM) and reaped at the end."""
    proc = subprocess.Popen([*VNCTERM, *args], stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def wait_socket(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"vncterm never listened on {path}"
        time.sleep(0.05)


@pytest.mark.parametrize(("flag", "colour"), [(None, BRIGHT_BLUE), ("--bold-bright", BRIGHT_BLUE),
                                              ("--no-bold-bright", BLUE)])
def test_bold_blue_is_bright_blue_by_default(tmp_path: Path, flag: str | None,
                                             colour: int) -> None:
    """``ls`` draws directories bold blue: dark blue on black unless bold brightens it."""
    sock = tmp_path / "vnc.sock"
    flags = [flag] if flag else []
    with vncterm("--listen", f"unix:{sock}", *flags, "--", "sh", "-c",
                 r"printf '\033[1;34mdirectory\033[0m\n'; exec sleep 60"):
        wait_socket(sock)
        client = RawClient(str(sock), family=socket.AF_UNIX)
        client.wait_for(lambda c: BRIGHT_BLUE in c.fb or BLUE in c.fb)
        colours = set(client.fb.ravel().tolist())
        client.close()
    assert colour in colours and ({BRIGHT_BLUE, BLUE} - {colour}).isdisjoint(colours)
