"""Cell rendering: attributes, cursor shapes, wide and combining characters, fallback fonts,
box drawing that meets, and the two-colours-per-cell promise the encoders rely on."""

from __future__ import annotations

import numpy as np
import pytest

from vncterm.geometry import Rect
from vncterm.render import box
from vncterm.render import renderer as renderer_mod
from vncterm.render.font import CellFont
from vncterm.render.renderer import TerminalRenderer
from vncterm.terminal.colours import DEFAULT_BG, DEFAULT_FG
from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit

FONTS: dict[int, CellFont] = {}


def font(size: int = 15) -> CellFont:
    if size not in FONTS:
        FONTS[size] = CellFont(size)
    return FONTS[size]


def draw(
    text: str, cols: int = 10, rows: int = 2, cursor: bool = False, **kw: bool
) -> tuple[TerminalRenderer, Emulator]:
    emu = Emulator(cols, rows)
    emu.feed(text.encode())
    r = TerminalRenderer(font(), cols, rows, **kw)
    r.refresh(emu.screen, cursor and emu.cursor_visible)
    return r, emu


def cell(r: TerminalRenderer, row: int, col: int, n: int = 1) -> np.ndarray:
    return r.pixels[row * r.cell_h : (row + 1) * r.cell_h, col * r.cell_w : (col + n) * r.cell_w]


def test_styles_change_the_glyph() -> None:
    r, _ = draw("a\x1b[1ma\x1b[0;3ma\x1b[1ma\x1b[0;4ma\x1b[0;9ma\x1b[0;8ma")
    tiles = [cell(r, 0, x) for x in range(7)]
    for i in range(1, 6):
        assert not (tiles[i] == tiles[0]).all(), f"attribute {i} looks like plain text"
    assert (tiles[6] == DEFAULT_BG).all(), "hidden text shows only the background"
    f = font()
    assert (tiles[4][f.underline_row] == DEFAULT_FG).all()
    assert (tiles[5][f.ascender * 2 // 3] == DEFAULT_FG).all()


def test_reverse_faint_and_bold_is_bright() -> None:
    r, _ = draw("\x1b[7m \x1b[0;2;31;44mX\x1b[0;1;31mX", bold_is_bright=False)
    assert (cell(r, 0, 0) == DEFAULT_FG).all()
    assert set(np.unique(cell(r, 0, 1))) == {0x0000EE, (0xCD + 0x00) // 2 << 16 | 0x77}
    assert 0xCD0000 in cell(r, 0, 2)
    # the default, as xterm's: bold brightens SGR 30-37 (not 38;5;N, not the default colour)
    bright, _ = draw("\x1b[1;31mX\x1b[0;1;38;5;1mX\x1b[0;1;34mX\x1b[0;1mX")
    assert 0xFF0000 in cell(bright, 0, 0) and 0xCD0000 in cell(bright, 0, 1)
    assert 0x5C5CFF in cell(bright, 0, 2) and DEFAULT_FG in cell(bright, 0, 3)


def test_truecolor_cell_is_exact() -> None:
    r, _ = draw("\x1b[38;2;18;52;86;48;2;171;205;239mW")
    assert set(np.unique(cell(r, 0, 0))) == {0x123456, 0xABCDEF}


@pytest.mark.parametrize(("shape", "code"), [("block", 2), ("underline", 4), ("bar", 6)])
def test_cursor_shapes_keep_two_colours(shape: str, code: int) -> None:
    r, emu = draw(f"\x1b[{code} q\x1b[32;40mA\x1b[D", cursor=True)
    assert emu.cursor_shape == shape
    tile = cell(r, 0, 0)
    assert set(np.unique(tile)) <= {0x00CD00, 0x000000}
    plain, _ = draw("\x1b[32;40mA")
    assert not (tile == cell(plain, 0, 0)).all()
    if shape == "underline":
        assert (tile[-1] == 0x00CD00).all()
    elif shape == "bar":
        assert (tile[:, 0] == 0x00CD00).all()
    else:
        assert (tile == np.where(cell(plain, 0, 0) == 0x00CD00, 0, 0x00CD00)).all()


def test_hidden_cursor_draws_nothing_and_moves_are_damage() -> None:
    emu = Emulator(10, 2)
    r = TerminalRenderer(font(), 10, 2)
    r.refresh(emu.screen, True)
    emu.feed(b"\x1b[?25l")
    spans = r.refresh(emu.screen, emu.cursor_visible)
    assert spans and (r.pixels == DEFAULT_BG).all()


def test_wide_character_spans_two_cells() -> None:
    r, _ = draw("\u4e2d\u6587")
    left, right = cell(r, 0, 0), cell(r, 0, 1)
    assert (left == DEFAULT_FG).any() and (right == DEFAULT_FG).any()
    assert (cell(r, 0, 0, 2) != cell(r, 0, 2, 2)).any()


def test_combining_mark_renders_on_its_base() -> None:
    r, _ = draw("e\u0301e")
    assert not (cell(r, 0, 0) == cell(r, 0, 1)).all()
    assert (cell(r, 0, 1) == DEFAULT_BG).sum() > 0


def test_fallback_chain_and_replacement_box() -> None:
    f = font()
    assert f.face_for("A") is not None and "DejaVu" in f.face_for("A").family_name.decode()
    assert b"WenQuanYi" in f.face_for("\u4e2d").family_name
    assert b"Unifont Upper" in f.face_for("\U0001f600").family_name
    assert f.face_for("\ue000") is None
    missing = f.mask("\ue000")
    assert missing.any() and missing[2].any() and missing[:, 1].any(), "an outlined box"
    assert (f.mask("\u4e2d", cells=2) != f.mask("\u6587", cells=2)).any()


@pytest.mark.parametrize("size", [8, 11, 15, 24, 37])
def test_box_lines_meet_across_cells(size: int) -> None:
    f = CellFont(size)
    w, h = f.cell_w, f.cell_h
    horiz, vert, cross = (box.draw(c, w, h) for c in "\u2500\u2502\u253c")
    # a horizontal line reaches both edges on the same rows; a vertical one top and bottom
    assert horiz[:, 0].any() and (horiz[:, 0] == horiz[:, -1]).all()
    assert vert[0].any() and (vert[0] == vert[-1]).all()
    assert (cross[:, 0] == horiz[:, 0]).all() and (cross[0] == vert[0]).all()
    for ch in "\u2554\u2557\u255a\u255d\u2550\u2551\u256c":  # double lines join too
        m = box.draw(ch, w, h)
        assert m.any()
    full = box.draw("\u2588", w, h)
    assert full.all()
    upper, lower = box.draw("\u2580", w, h), box.draw("\u2584", w, h)
    assert ((upper > 0) ^ (lower > 0)).all(), "upper and lower halves tile the cell"
    assert set(np.unique(box.draw("\u2592", w, h))) == {0, 255}


def test_shade_pattern_continues_across_odd_width_cells() -> None:
    r, _ = draw("\u2592" * 4)
    strip = cell(r, 0, 0, 4) == DEFAULT_FG
    assert (strip[:, 1:] != strip[:, :-1]).all(), "a checkerboard never repeats a column"


def test_palette_hint_is_a_superset_of_the_pixels() -> None:
    r, _ = draw("\x1b[31;42mab\x1b[0m\x1b[4;38;2;1;2;3mcd\u2592\u4e2d", cols=8)
    rect = Rect(0, 0, r.width, r.height)
    hint = r.palette_hint(rect)
    assert hint is not None
    assert set(np.unique(r.pixels)) <= set(hint.tolist())


def test_screen_resized_by_deccolm_resizes_the_framebuffer() -> None:
    emu = Emulator(80, 4, allow_column_mode=True)
    r = TerminalRenderer(font(), 80, 4)
    r.refresh(emu.screen, True)
    emu.feed(b"\x1b[?40h\x1b[?3hwide")
    r.refresh(emu.screen, True)
    assert (r.cols, r.width) == (132, 132 * r.cell_w)
    assert r.pixels.shape == (4 * r.cell_h, 132 * r.cell_w)


def test_tile_cache_starts_over_without_changing_the_picture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(renderer_mod, "TILE_CACHE_BYTES", 0)
    emu = Emulator(20, 3)
    r = TerminalRenderer(font(), 20, 3)
    for i in range(40):  # every frame new colours: the cache overflows again and again
        emu.feed(f"\x1b[H\x1b[38;2;{i};{2 * i};9m{'x' * 20 * 3}".encode())
        r.refresh(emu.screen, True)
    fresh = TerminalRenderer(font(), 20, 3)
    emu.screen.dirty.update(range(3))
    fresh.refresh(emu.screen, True)
    assert (r.pixels == fresh.pixels).all()
    assert len(r._tile_ids) <= 8 * 20 * 3 + 64
