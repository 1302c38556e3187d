"""Golden screens: recorded real programs replayed through Emulator + TerminalRenderer.

Each ``tests/golden/NAME.bin`` is what a program (vim, less, top, htop, mc, tmux, dialog, a
UTF-8/CJK file, 256-colour and truecolor charts) wrote to an 80x24 pty; each checkpoint must
reproduce the reviewed ``NAME-CHECKPOINT.png`` exactly. Re-record with tests/golden/record.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from golden import record
from PIL import Image

from vncterm.render.font import CellFont
from vncterm.render.renderer import TerminalRenderer
from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parent / "golden"

CASES = [
    (name, checkpoint, offset)
    for name in sorted(p.stem for p in GOLDEN.glob("*.json") if p.stem not in record.NO_PNG)
    for checkpoint, offset in record.checkpoints(name)
]


def _load_png(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def test_every_program_has_golden_screens() -> None:
    names = {name for name, _, _ in CASES}
    assert {
        "vim",
        "less",
        "top",
        "htop",
        "mc",
        "tmux",
        "dialog",
        "unicode",
        "colours256",
        "truecolor",
    } <= names
    for name, checkpoint, _ in CASES:
        assert (GOLDEN / f"{name}-{checkpoint}.png").is_file(), f"{name}-{checkpoint}.png"


@pytest.mark.parametrize(
    ("name", "checkpoint", "offset"), CASES, ids=[f"{n}-{c}" for n, c, _ in CASES]
)
def test_replay_matches_golden_png(name: str, checkpoint: str, offset: int, tmp_path: Path) -> None:
    data = (GOLDEN / f"{name}.bin").read_bytes()
    renderer = record.replay(data, offset)
    got = renderer.pixels  # type: ignore[attr-defined]
    want = _load_png(GOLDEN / f"{name}-{checkpoint}.png")
    assert got.shape == want.shape
    diff = got != want
    if diff.any():
        record.to_png(got, tmp_path / f"{name}-{checkpoint}.png")
        rows = sorted({int(r) // renderer.cell_h for r in np.nonzero(diff)[0]})  # type: ignore
        pytest.fail(
            f"{int(diff.sum())} pixels differ in text rows {rows}; actual frame in {tmp_path}"
        )


@pytest.mark.parametrize(
    ("name", "checkpoint", "offset"), CASES, ids=[f"{n}-{c}" for n, c, _ in CASES]
)
def test_incremental_frames_equal_one_full_frame_and_cells_keep_two_colours(
    name: str, checkpoint: str, offset: int
) -> None:
    data = (GOLDEN / f"{name}.bin").read_bytes()
    incremental = record.replay(data, offset)
    emu = Emulator(record.COLS, record.ROWS)
    emu.feed(data[:offset])
    full = TerminalRenderer(CellFont(record.FONT_SIZE), emu.cols, emu.rows)
    full.refresh(emu.screen, emu.cursor_visible)
    assert (incremental.pixels == full.pixels).all()  # type: ignore[attr-defined]
    # every pixel of cell (r, c) is that cell's foreground or background colour
    cw, ch = full.cell_w, full.cell_h
    cells = full.pixels.reshape(emu.rows, ch, emu.cols, cw).transpose(0, 2, 1, 3)
    fg = full.cell_fg[:, :, None, None]
    bg = full.cell_bg[:, :, None, None]
    assert ((cells == fg) | (cells == bg)).all()
