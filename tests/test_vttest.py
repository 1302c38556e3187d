"""vttest menu 1 (cursor movements): our cell grid against tmux fed the same bytes.

``tests/golden/vttest.bin`` is vttest's output for menu 1 under an 80x24 pty, its queries
answered by our emulator (tests/golden/record.py). At each screen the grid must equal tmux's
(``capture-pane``) at the width vttest selected with DECCOLM: tmux does not resize on DECCOLM,
so both run at that width from the start. On the two autowrap screens tmux 3.3a itself breaks
the pattern (it splits some letter pairs over two rows), so there the grid is checked against
the layout vttest asks for: letters in order down the left and right margins.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from golden import record

from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.peer

GOLDEN = Path(__file__).resolve().parent / "golden"

DATA = (GOLDEN / "vttest.bin").read_bytes()
CHECKPOINTS = record.checkpoints("vttest")
TMUX_AUTOWRAP_BUG = {"screen3", "screen4"}


def _width(offset: int) -> int:
    modes = re.findall(rb"\x1b\[\?3([hl])", DATA[:offset])
    return 132 if modes and modes[-1] == b"h" else 80


def _tmux_grid(data: bytes, cols: int, rows: int, tmp: Path) -> list[str]:
    path = tmp / f"feed-{cols}-{len(data)}.bin"
    path.write_bytes(data)
    conf = tmp / "tmux.conf"
    conf.write_text("set -g status off\n")
    sock = f"vncterm-vttest-{os.getpid()}"
    tmux = ["tmux", "-L", sock, "-f", str(conf)]
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("TMUX", None)
    subprocess.run(
        tmux
        + [
            "new-session",
            "-d",
            "-x",
            str(cols),
            "-y",
            str(rows),
            f"stty -echo; cat {path}; exec sleep 60",
        ],
        check=True,
        env=env,
    )
    try:
        previous: list[str] | None = None
        for _ in range(50):  # until two captures agree
            time.sleep(0.1)
            out = (
                subprocess.run(tmux + ["capture-pane", "-p"], capture_output=True, check=True)
                .stdout.decode()
                .split("\n")[:rows]
            )
            if out == previous:
                break
            previous = out
        assert previous is not None
        return [line.rstrip() for line in previous] + [""] * (rows - len(previous))
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)


def _our_grid(data: bytes, cols: int, rows: int) -> list[str]:
    emu = Emulator(cols, rows)
    for i in range(0, len(data), 97):  # split sequences across feeds too
        emu.feed(data[i : i + 97])
    return [line.rstrip() for line in emu.text()]


def test_capture_covers_menu_one() -> None:
    names = [name for name, _ in CHECKPOINTS]
    assert names == [f"screen{i}" for i in range(1, 7)] + ["menu"]
    assert {_width(offset) for _, offset in CHECKPOINTS} == {80, 132}
    assert b"\x1b#8" in DATA  # DECALN


@pytest.mark.parametrize(("name", "offset"), CHECKPOINTS, ids=[n for n, _ in CHECKPOINTS])
def test_screen_matches_reference(name: str, offset: int, tmp_path: Path) -> None:
    cols, rows = _width(offset), record.ROWS
    ours = _our_grid(DATA[:offset], cols, rows)
    if name in TMUX_AUTOWRAP_BUG:
        assert ours[0].startswith("Test of autowrap")
        letters = [chr(c) for c in range(ord("I"), ord("Z") + 1)]
        for row, letter in zip(ours[2:20], letters, strict=True):
            assert row == letter + " " * (cols - 2) + letter.lower()
        return
    theirs = _tmux_grid(DATA[:offset], cols, rows, tmp_path)
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
    assert not diff, "\n".join(f"row {i}:\n ours: {a!r}\n tmux: {b!r}" for i, a, b in diff)
