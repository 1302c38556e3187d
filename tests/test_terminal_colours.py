"""Colours a program sets (OSC 4, 5, 10-19 and the resets 104, 105, 110-119), as xterm's
ctlseqs describes them and xterm 379 answers: each colour specification form, each OSC, the
cells keeping palette indices, the renderer redrawing with a changed palette, snapshots and RIS.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import terminal_helpers

from vncterm.render.font import CellFont
from vncterm.render.renderer import TerminalRenderer
from vncterm.terminal import paint, snapshot
from vncterm.terminal.colours import DEFAULT_BG, DEFAULT_FG, PALETTE_256
from vncterm.terminal.emulator import Emulator
from vncterm.terminal.view import TerminalView
from vncterm.terminal.xcolours import parse

pytestmark = pytest.mark.unit

ST = "\x1b\\"


def osc(*parts: object, end: str = ST) -> str:
    return "\x1b]" + ";".join(str(p) for p in parts) + end


def replies(emu: Emulator, text: str) -> str:
    return terminal_helpers.replies(emu, text).decode()


def query4(emu: Emulator, index: int) -> str:
    return replies(emu, osc(4, index, "?"))


# -- specifications ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rgb"),
    [
        ("#fff", 0xF0F0F0),  # the digits are the high bits of each channel
        ("#888", 0x808080),
        ("#f0f0f0", 0xF0F0F0),
        ("#f00f00f00", 0xF0F0F0),
        ("#800080008000", 0x808080),
        ("#aaaabbbbcccc", 0xAABBCC),
        ("rgb:f0f0/f0f0/f0f0", 0xF0F0F0),
        ("rgb:1/2/3", 0x112233),  # scaled: 1 digit of 15 is 0x11 of 255
        ("rgb:123/4567/89", 0x124589),
        ("RGB:ff/00/80", 0xFF0080),
        ("rgb:1/2/3/4", 0x112233),  # further fields are ignored
        ("rgbi:1/1/1", 0xFFFFFF),
        ("rgbi:0/0/0", 0x000000),
        ("red", 0xFF0000),
        ("RED", 0xFF0000),
        ("DarkGreen", 0x006400),
        ("light goldenrod yellow", 0xFAFAD2),
        ("Gray50", 0x7F7F7F),
        ("grey100", 0xFFFFFF),
    ],
)
def test_each_spec_form_reads_as_xparsecolor(spec: str, rgb: int) -> None:
    assert parse(spec) == rgb


#: Device-independent specs and what xterm 379 under Xvnc answered for them (measured).
XTERM_XCMS = {
    "rgbi:0.5/0.5/0.5": 0xC1BBBB,
    "rgbi:0.25/0.5/0.75": 0x93BBDF,
    "rgbi:1/0/0": 0xFF0000,
    "CIEXYZ:0.5/0.5/0.5": 0xDDB5A0,
    "CIEXYZ:0.2/0.3/0.4": 0x32A894,
    "CIEXYZ:0.1/0.1/0.1": 0x766056,
    "ciexyz:.5/.5/.5": 0xDDB5A0,
    "CIEuvY:0.2/0.45/0.3": 0xAB9495,
    "CIExyY:0.3127/0.329/0.5": 0xCEBAA6,
    "CIELab:50/0/0": 0x837D7E,
    "CIELuv:50/0/0": 0x837D7E,
    "TekHVC:0/50/0": 0x837D7E,
    "TekHVC:120/50/20": 0x648765,
    "TekHVC:240/70/30": 0x84AFD8,
    "TekHVC:300/40/10": 0x7A6174,
    "TekHVC:1/1/1": 0x1A130F,  # near black: the screen's black level
    "TekHVC:0.5/0.5/0.5": 0x11130E,
    "CIELab:1/1/1": 0x6C6767,  # Xlib's linear segment: Y a hundred times CIE's
    "CIELab:0.5/0.5/0.5": 0x524F4F,
    "CIELab:5/20/0": 0xCBC2C4,
    "CIELab:5/0/20": 0xCAC3C1,
    "CIELab:60/2/0": 0xFF5297,  # a* read a hundred times stronger: the gamut's edge
    "CIELab:60/20/0": 0xFF5297,
    "CIELuv:1/1/1": 0x16140E,
    "CIELuv:0.5/0.5/0.5": 0x0E130E,
    # outside the gamut: chroma cut at the same TekHVC hue and value
    "CIEuvY:0.5/0.5/0.5": 0xFFA3AE,
    "CIExyY:0.5/0.5/0.5": 0xF7B30E,
    "CIEXYZ:0.4/0.2/0.1": 0xF6135D,
    "CIEXYZ:1/1/1": 0xFFFFFF,
    "CIExyY:1/1/1": 0xFFFFFF,
    "CIEXYZ:2/0/0": 0x000000,
}


@pytest.mark.parametrize(("spec", "rgb"), XTERM_XCMS.items())
def test_device_independent_specs_as_xterm(spec: str, rgb: int) -> None:
    assert parse(spec) == rgb, f"{parse(spec):06x}"


@pytest.mark.parametrize(
    "spec",
    ["#12345", "#", "#ggg", "rgb:1/2", "rgb:12345/0/0", "rgb:x/0/0", "  red", "nosuchcolour", ""]
    + ["rgb:1/2/3xyz"]
    + ["rgbi:a/b/c", "CIEXYZ:1/1", "#" + "f" * 300, "gray101", "rgb:ff/00/00\x00"],
)
def test_what_xparsecolor_refuses_is_refused(spec: str) -> None:
    assert parse(spec) is None


# -- OSC 4 / 104 ---------------------------------------------------------------------------------


def test_osc4_sets_and_queries_several_pairs_with_the_querys_terminator() -> None:
    emu = Emulator(20, 2)
    assert replies(emu, osc(4, 0, "rgb:f0f0/f0f0/f0f0", 1, "rgb:f0f0/0000/0000")) == ""
    got = replies(emu, osc(4, 0, "?", 1, "?", end="\x07"))
    assert got == "\x1b]4;0;rgb:f0f0/f0f0/f0f0\x07\x1b]4;1;rgb:f0f0/0000/0000\x07"
    assert query4(emu, 2) == "\x1b]4;2;rgb:0000/cdcd/0000" + ST  # untouched: the default


def test_osc4_stops_at_an_index_out_of_range_or_a_spec_it_cannot_read() -> None:
    emu = Emulator(20, 2)
    got = replies(emu, osc(4, 1, "rgb:ff/00/00", 1, "?", 300, "?", 2, "?"))
    assert got == "\x1b]4;1;rgb:ffff/0000/0000" + ST  # nothing after 300
    replies(emu, osc(4, 3, "bogus", 4, "#123456"))
    assert query4(emu, 4) == "\x1b]4;4;rgb:0000/0000/eeee" + ST  # nothing after the bad spec
    assert replies(emu, osc(4, "", "?")) == "\x1b]4;0;rgb:0000/0000/0000" + ST  # atoi("") is 0


def test_osc4_past_the_palette_is_the_special_colours_of_osc5() -> None:
    emu = Emulator(20, 2)
    replies(emu, osc(4, 256, "#abcdef"))
    assert replies(emu, osc(5, 0, "?")) == "\x1b]5;0;rgb:abab/cdcd/efef" + ST
    replies(emu, osc(5, 4, "#123456"))
    assert query4(emu, 260) == "\x1b]4;260;rgb:1212/3434/5656" + ST
    assert query4(emu, 261) == ""
    assert replies(emu, osc(5, 5, "?")) == ""


def test_osc104_resets_the_listed_entries_or_all() -> None:
    emu = Emulator(20, 2)
    replies(emu, osc(4, 1, "#111", 2, "#222", 3, "#333", 256, "#444"))
    replies(emu, osc(104, 1, 3))
    got = replies(emu, osc(4, 1, "?", 2, "?", 3, "?"))
    assert got == "".join(
        f"\x1b]4;{i};{c}{ST}"
        for i, c in (
            (1, "rgb:cdcd/0000/0000"),
            (2, "rgb:2020/2020/2020"),
            (3, "rgb:cdcd/cdcd/0000"),
        )
    )
    replies(emu, osc(104))
    assert query4(emu, 2) == "\x1b]4;2;rgb:0000/cdcd/0000" + ST
    assert query4(emu, 256) == "\x1b]4;256;rgb:e5e5/e5e5/e5e5" + ST  # OSC 104 alone: all


def test_osc5_and_osc105() -> None:
    emu = Emulator(20, 2)
    replies(emu, osc(5, 0, "#aaaabbbbcccc", 1, "#ddddeeeeffff"))
    got = replies(emu, osc(5, 0, "?", 1, "?"))
    assert got == f"\x1b]5;0;rgb:aaaa/bbbb/cccc{ST}\x1b]5;1;rgb:dddd/eeee/ffff{ST}"
    replies(emu, osc(105, 0))
    got = replies(emu, osc(5, 0, "?", 1, "?"))
    assert got == f"\x1b]5;0;rgb:e5e5/e5e5/e5e5{ST}\x1b]5;1;rgb:dddd/eeee/ffff{ST}"


# -- OSC 10-19 / 110-119 -------------------------------------------------------------------------


def test_dynamic_colours_default_as_xterm_started_with_our_colours() -> None:
    got = replies(Emulator(20, 2), "".join(osc(code, "?") for code in range(10, 20)))
    fg, bg = "rgb:e5e5/e5e5/e5e5", "rgb:0000/0000/0000"
    expected = [fg, bg, fg, fg, bg, fg, bg, fg, fg, bg]
    assert got == "".join(f"\x1b]{10 + i};{c}{ST}" for i, c in enumerate(expected))


def test_osc10_takes_colours_for_10_11_12_in_turn_skipping_empty_ones() -> None:
    emu = Emulator(20, 2)
    replies(emu, osc(10, "#fff", "#102030", "", "blue"))
    got = replies(emu, osc(10, "?", "?", "?", "?"))
    assert got == (
        f"\x1b]10;rgb:f0f0/f0f0/f0f0{ST}\x1b]11;rgb:1010/2020/3030{ST}"
        f"\x1b]12;rgb:e5e5/e5e5/e5e5{ST}\x1b]13;rgb:0000/0000/ffff{ST}"
    )
    replies(emu, osc(17, "#405060") + osc(19, "#708090"))
    assert replies(emu, osc(17, "?", "?", "?")) == (
        f"\x1b]17;rgb:4040/5050/6060{ST}\x1b]18;rgb:e5e5/e5e5/e5e5{ST}"
        f"\x1b]19;rgb:7070/8080/9090{ST}"  # and nothing past 19
    )
    replies(emu, osc(110) + osc(111) + osc(117))
    got = replies(emu, osc(10, "?", "?") + osc(17, "?") + osc(19, "?"))
    assert got == (
        f"\x1b]10;rgb:e5e5/e5e5/e5e5{ST}\x1b]11;rgb:0000/0000/0000{ST}"
        f"\x1b]17;rgb:e5e5/e5e5/e5e5{ST}\x1b]19;rgb:7070/8080/9090{ST}"
    )


def test_ris_resets_the_palette_but_not_the_dynamic_or_special_colours_as_xterm() -> None:
    emu = Emulator(20, 2)
    replies(emu, osc(4, 1, "#ff0000") + osc(11, "#102030") + osc(5, 0, "#abcdef") + "\x1bc")
    got = replies(emu, osc(4, 1, "?") + osc(11, "?") + osc(5, 0, "?"))
    assert got == (
        f"\x1b]4;1;rgb:cdcd/0000/0000{ST}\x1b]11;rgb:1010/2020/3030{ST}"
        f"\x1b]5;0;rgb:abab/cdcd/efef{ST}"
    )


def test_each_terminal_has_its_own_colours() -> None:
    a, b = Emulator(20, 2), Emulator(20, 2)
    replies(a, osc(4, 1, "#00ff00") + osc(10, "#010203"))
    assert query4(b, 1) == "\x1b]4;1;rgb:cdcd/0000/0000" + ST
    assert replies(b, osc(10, "?")) == "\x1b]10;rgb:e5e5/e5e5/e5e5" + ST


def test_hostile_colour_sequences_are_capped_and_never_raise() -> None:
    emu = Emulator(20, 2)
    flood = osc(4, *(["1", "?"] * 5000))
    assert replies(emu, flood).count("\x1b]4;1;") == 300  # MAX_PAIRS
    for text in (
        osc(4, "9" * 5000, "?"),
        osc(4, "-1", "red"),
        osc(4, 1, "rgb:" + "f" * 60000),
        osc(104, "9" * 5000, "x", 1),
        osc(105, "999999999999"),
        osc(10, *(["?"] * 5000)),
        osc(11, "CIELab:1e308/1e308/-1e308"),
        osc(4, 2, "TekHVC:nan/1/1"),
        osc(4, 3, "rgbi:inf/0/0"),
        osc(110, "x;y;z"),
    ):
        replies(emu, text)
    assert len(replies(emu, osc(10, *(["?"] * 5000)))) < 400  # 10 colours at most


# -- cells, reports, snapshots -------------------------------------------------------------------


def test_cells_keep_palette_indices_and_decrqss_still_says_38_5() -> None:
    emu = Emulator(20, 2)
    got = replies(emu, "\x1b[38;5;200;48;5;1mX\x1bP$qm\x1b\\")
    assert got == "\x1bP1$r0;38:5:200;41m\x1b\\"
    cell = emu.screen.buffer[0][0]
    assert (cell.fg, cell.bg) == ("p200", "p1")
    replies(emu, osc(4, 200, "#010203"))
    assert emu.screen.buffer[0][0] == cell  # the cell names the entry, not its colour


def test_snapshot_keeps_the_colours_and_older_states_load() -> None:
    emu = Emulator(20, 2)
    replies(emu, osc(4, 5, "#102030", 258, "#405060") + osc(11, "#0a0b0c") + "\x1b[35mM")
    state = json.loads(json.dumps(snapshot.dump(emu.screen)))
    fresh = Emulator(20, 2)
    snapshot.load(fresh.screen, state)
    got = replies(fresh, osc(4, 5, "?", 258, "?") + osc(11, "?"))
    assert got == (
        f"\x1b]4;5;rgb:1010/2020/3030{ST}\x1b]4;258;rgb:4040/5050/6060{ST}"
        f"\x1b]11;rgb:0a0a/0b0b/0c0c{ST}"
    )
    del state["colours"]  # as a vncterm without colours saved it
    older = Emulator(20, 2)
    snapshot.load(older.screen, state)
    assert query4(older, 5) == "\x1b]4;5;rgb:cdcd/0000/cdcd" + ST


@pytest.mark.parametrize(
    "colours",
    [
        [],
        {"palette": {"999": 1}},
        {"palette": {"1": -1}},
        {"palette": {"1": True}},
        {"special": [1, 2]},
        {"dynamic": {"9": 1}},
        {"other": 1},
        {"palette": {str(i): 1 for i in range(300)}},
    ],
)
def test_snapshot_with_bad_colours_is_refused_whole(colours: object) -> None:
    emu = Emulator(20, 2)
    state = snapshot.dump(emu.screen)
    state["colours"] = colours
    target = Emulator(20, 2)
    replies(target, osc(4, 1, "#010101"))
    with pytest.raises(snapshot.SnapshotError):
        snapshot.load(target.screen, state)
    assert query4(target, 1) == "\x1b]4;1;rgb:0101/0101/0101" + ST


def test_paint_sets_the_changed_colours_and_keeps_38_5() -> None:
    emu = Emulator(20, 2)
    replies(emu, osc(4, 1, "#00ff00") + osc(10, "#123456") + "\x1b[31ma\x1b[38;5;1mb")
    text = paint.paint(emu.screen)
    assert "\x1b]4;1;rgb:0000/ffff/0000\x1b\\" in text and "\x1b]10;rgb:1212/3434/5656" in text
    assert "\x1b[0;31ma" in text and "\x1b[0;38;5;1mb" in text
    replay = Emulator(20, 2)
    replay.feed(text.encode())
    assert [replay.screen.buffer[0][x] for x in range(2)] == [
        emu.screen.buffer[0][x] for x in range(2)
    ]
    assert query4(replay, 1) == "\x1b]4;1;rgb:0000/ffff/0000" + ST


# -- the renderer --------------------------------------------------------------------------------


def _renderer(emu: Emulator, width: int = 0) -> TerminalRenderer:
    r = TerminalRenderer(CellFont(15), emu.cols, emu.rows)
    if width:
        r.resize(emu.cols, emu.rows, width, r.height)
    return r


def test_a_palette_change_redraws_the_cells_already_on_the_screen() -> None:
    emu = Emulator(10, 2)
    emu.feed(b"\x1b[31mRED\x1b[38;5;200mX\x1b[38;2;205;0;0mT")
    r = _renderer(emu)
    r.refresh(emu.screen, False)
    r.take_full()
    row = r.pixels[: r.cell_h, : 5 * r.cell_w]
    assert 0xCD0000 in row[:, : 3 * r.cell_w]
    emu.feed(osc(4, 1, "rgb:00/80/ff", 200, "#ffff00").encode())
    spans = r.refresh(emu.screen, False)
    assert [(s.row, s.col0, s.col1) for s in spans] == [(0, 0, 4)]  # not the truecolor cell
    assert not r.take_full()  # the default background did not change: no margin to repaint
    red, idx, true = (
        row[:, i * r.cell_w : (i + n) * r.cell_w] for i, n in ((0, 3), (3, 1), (4, 1))
    )
    assert 0x0080FF in red and 0xCD0000 not in red
    assert 0xFFFF00 in idx
    assert 0xCD0000 in true  # truecolor stays as it was
    assert r.refresh(emu.screen, False) == [] and not r.take_full()  # nothing more to draw


def test_default_colours_and_the_margin_follow_osc10_and_osc11() -> None:
    emu = Emulator(4, 1)
    emu.feed(b"ab")
    r = _renderer(emu, width=4 * 9 + 20)
    r.refresh(emu.screen, False)
    assert (r.pixels[:, -5:] == DEFAULT_BG).all()
    emu.feed(osc(11, "#203040").encode() + osc(10, "#ffff00").encode())
    r.refresh(emu.screen, False)
    assert r.take_full()
    assert (r.pixels[:, -5:] == 0x203040).all()  # the margin outside the cells
    assert set(np.unique(r.pixels[:, : r.cell_w]).tolist()) <= {0x203040, 0xFFFF00}
    assert 0xFFFF00 in r.pixels[:, : r.cell_w] and DEFAULT_FG not in r.pixels
    hint = r.palette_hint(r.span_rect(r.refresh(emu.screen, True)[0]))
    assert hint is not None and 0x203040 in hint


def test_the_cursor_colour_of_osc12_is_drawn() -> None:
    emu = Emulator(4, 1)
    r = _renderer(emu)
    r.refresh(emu.screen, True)
    assert (r.pixels[:, : r.cell_w] == DEFAULT_FG).all()  # a block cursor: reversed
    emu.feed(osc(12, "#00ff00").encode())
    r.refresh(emu.screen, True)
    assert (r.pixels[:, : r.cell_w] == 0x00FF00).all()


def test_the_256_palette_is_unchanged_by_default() -> None:
    emu = Emulator(20, 2)
    got = replies(emu, osc(4, *[x for i in (0, 15, 16, 231, 232, 255) for x in (i, "?")]))
    assert got == "".join(
        f"\x1b]4;{i};rgb:{PALETTE_256[i] >> 16:02x}{PALETTE_256[i] >> 16:02x}/"
        f"{PALETTE_256[i] >> 8 & 255:02x}{PALETTE_256[i] >> 8 & 255:02x}/"
        f"{PALETTE_256[i] & 255:02x}{PALETTE_256[i] & 255:02x}{ST}"
        for i in (0, 15, 16, 231, 232, 255)
    )
    assert DEFAULT_FG == 0xE5E5E5


def test_the_selection_takes_the_highlight_colours_of_osc17_and_osc19() -> None:
    emu = Emulator(10, 2)
    emu.feed(b"abc")
    view = TerminalView(emu)
    line = view.history_len()  # the screen's first line
    view.select((line, 0), (line, 1))
    drawn = view.screen_for_render().buffer[0]
    assert drawn[0].reverse and (drawn[0].fg, drawn[0].bg) == ("default", "default")
    emu.feed(osc(17, "#204060").encode() + osc(19, "#ffff00").encode())
    drawn = view.screen_for_render().buffer[0]  # drawn again: the colours changed
    assert (drawn[0].fg, drawn[0].bg, drawn[0].reverse) == ("ffff00", "204060", False)
    assert (drawn[2].fg, drawn[2].bg, drawn[2].reverse) == ("default", "default", False)
    assert view.line_cells(line)[1].bg == "204060"
