"""Left and right margins and the pending wrap, against xterm 379's documented behaviour
(ctlseqs: DECLRMM ``CSI ? 69 h``, DECSLRM ``CSI Pl ; Pr s``; the DEC VT510 manual, DEC STD 070)
and its source for the details ctlseqs leaves out (cursor.c, util.c, tabs.c). Each test runs
the fast model and the reference one (``fast=False``) where drawing is involved."""

from __future__ import annotations

import json

import pytest
from terminal_helpers import cursor, feed, replies, rows

from vncterm.terminal import snapshot
from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit

both = pytest.mark.parametrize("fast", [True, False])
#: DECLRMM on, margins at columns 3..6 (1-based).
LRM = "\x1b[?69h\x1b[3;6s"


def lettered(emu: Emulator) -> Emulator:
    """Each row full of its own letter: row 0 'aaaa...', row 1 'bbbb...'."""
    screen = emu.screen
    return feed(emu, "\r\n".join(chr(97 + y) * screen.columns for y in range(screen.lines)))


# -- the pending wrap ----------------------------------------------------------------------------


@both
def test_a_pending_wrap_is_a_flag_and_the_cursor_stays_on_the_last_column(fast: bool) -> None:
    """xterm's do_wrap: after the last column is written the cursor stays there (CPR says
    so); a line feed ends the pending wrap (xtermIndex -> CursorDown -> ResetWrap), so the next
    character overwrites the last column of the next row instead of wrapping again."""
    emu = feed(Emulator(10, 4, fast=fast), "0123456789")
    assert cursor(emu) == (0, 9) and emu.screen.wrap_pending
    assert replies(emu, "\x1b[6n") == b"\x1b[1;10R"
    feed(emu, "\n")
    assert not emu.screen.wrap_pending and cursor(emu) == (1, 9)
    feed(emu, "X")
    assert rows(emu)[:3] == ["0123456789", "         X", ""]


@both
def test_el_and_ech_end_a_pending_wrap(fast: bool) -> None:
    """xterm's ClearRight/ClearInLine2 reset do_wrap: after EL or ECH at the last column the
    next character overwrites it."""
    for erase in ("\x1b[K", "\x1b[X", "\x1b[?K"):
        emu = feed(Emulator(10, 3, fast=fast), "0123456789" + erase + "X")
        assert rows(emu)[:2] == ["012345678X", ""], repr(erase)


@both
def test_cub_with_reverse_wrap_counts_the_pending_wrap_as_one_step(fast: bool) -> None:
    """xterm's CursorBack: with reverse wraparound and autowrap, a pending wrap (here at the
    right margin) takes one of the steps; from the left margin BS goes on to the right margin
    of the row above."""
    emu = feed(Emulator(10, 3, fast=fast), "\x1b[?45h" + LRM + "\x1b[1;3Habcd\x1b[2DX")
    assert rows(emu)[0] == "  abXd"
    feed(emu, "\x1b[2;3H\x08")
    assert cursor(emu) == (0, 5)


# -- DECLRMM, DECSLRM, SCOSC ---------------------------------------------------------------------


def test_csi_s_is_scosc_without_declrmm_and_decslrm_with_it() -> None:
    """ctlseqs: ``CSI s`` saves the cursor (SCOSC) unless DECLRMM is set, when it is DECSLRM,
    which homes the cursor; DECRQSS and DECRQM report the margins and the mode."""
    emu = feed(Emulator(20, 4), "\x1b[2;5H\x1b[3;8s\x1b[H\x1b[u")
    assert cursor(emu) == (1, 4) and emu.screen.hmargins is None
    assert replies(emu, "\x1b[?69$p") == b"\x1b[?69;2$y"
    feed(emu, "\x1b[?69h\x1b[2;5H\x1b[3;8s")
    assert emu.screen.hmargins == (2, 7) and cursor(emu) == (0, 0)
    assert replies(emu, "\x1bP$qs\x1b\\") == b"\x1bP1$r3;8s\x1b\\"
    assert replies(emu, "\x1b[?69$p") == b"\x1b[?69;1$y"
    feed(emu, "\x1b[5;5s\x1b[9;3s")  # left >= right: refused
    assert emu.screen.hmargins == (2, 7)
    feed(emu, "\x1b[?69l")  # resetting DECLRMM gives back the full width
    assert emu.screen.hmargins is None
    assert replies(emu, "\x1bP$qs\x1b\\") == b"\x1bP1$r1;20s\x1b\\"


def test_decstr_ris_deccolm_and_decaln_reset_the_margins() -> None:
    """DEC STD 070: DECSTR resets DECLRMM and the margins; RIS, DECCOLM (xterm) and DECALN
    (xterm's resetMargins) reset the margins."""
    emu = feed(Emulator(20, 4), LRM + "\x1b[!p")
    assert emu.screen.hmargins is None and replies(emu, "\x1b[?69$p") == b"\x1b[?69;2$y"
    feed(emu, "\x1b[3;6s")  # SCOSC again
    assert emu.screen.hmargins is None
    for reset in ("\x1bc", "\x1b[?40h\x1b[?3h", "\x1b#8"):
        emu = feed(Emulator(20, 4, allow_column_mode=True), LRM + reset)
        assert emu.screen.hmargins is None, reset


def test_xtsave_xtrestore_of_declrmm_resets_the_margins_with_it() -> None:
    """XTRESTORE (``CSI ? 69 r``) sets DECLRMM back as XTSAVE found it; turning it off that
    way gives back the full width, as DECRST 69 does."""
    emu = feed(Emulator(20, 4), "\x1b[?69s\x1b[?69h\x1b[3;6s\x1b[?69r")
    assert emu.screen.hmargins is None
    assert replies(emu, "\x1b[?69$p") == b"\x1b[?69;2$y"


def test_declrmm_needs_conformance_level_4() -> None:
    """DECSCL (``CSI 63 ; 1 " p``) selects VT300 level: DECLRMM is a VT420 mode, so it is
    ignored and ``CSI s`` stays SCOSC; DECRQSS reports the level."""
    emu = feed(Emulator(20, 4), '\x1b[63;1"p\x1b[?69h\x1b[5;6s\x1b[1;5Habc')
    assert emu.screen.hmargins is None and cursor(emu) == (0, 7)
    assert replies(emu, '\x1bP$q"p\x1b\\') == b'\x1bP1$r63;1"p\x1b\\'
    feed(emu, '\x1b[64;1"p' + LRM)
    assert emu.screen.hmargins == (2, 5)


# -- printing ------------------------------------------------------------------------------------


@both
def test_text_wraps_at_the_right_margin_to_the_left_margin(fast: bool) -> None:
    """xterm's dotext/WrapLine: the right margin is where text wraps, to the left margin of
    the next row; a pending wrap at the margin is a flag, not a position past it."""
    emu = feed(Emulator(10, 3, fast=fast), LRM + "\x1b[1;3Habcdefg")
    assert rows(emu) == ["  abcd", "  efg", ""]
    emu = feed(Emulator(10, 3, fast=fast), LRM + "\x1b[1;3Habcd")
    assert cursor(emu) == (0, 5) and emu.screen.wrap_pending


@both
def test_text_right_of_the_margin_runs_to_the_screen_edge(fast: bool) -> None:
    """ctlseqs/xterm: outside the margins (reached with CUP) the right margin has no effect;
    the text wraps at the screen's edge, to the left margin."""
    emu = feed(Emulator(10, 3, fast=fast), LRM + "\x1b[1;8Habcde")
    assert rows(emu) == ["       abc", "  de", ""]


@both
def test_autowrap_off_overwrites_the_right_margin(fast: bool) -> None:
    emu = feed(Emulator(10, 3, fast=fast), LRM + "\x1b[?7l\x1b[1;3Habcdefg")
    assert rows(emu)[0] == "  abcg" and cursor(emu) == (0, 5)


@both
def test_wrap_at_the_bottom_margin_scrolls_only_between_the_margins(fast: bool) -> None:
    emu = lettered(Emulator(8, 4, fast=fast))
    feed(emu, LRM + "\x1b[2;3r\x1b[3;3HWXYZ12")
    assert rows(emu) == ["aaaaaaaa", "bbWXYZbb", "cc12  cc", "dddddddd"]
    assert len(emu.scrollback) == 0


@both
def test_insert_mode_truncates_at_the_right_margin(fast: bool) -> None:
    """xterm's InsertChar: IRM shifts the cells up to the right margin; beyond it nothing
    moves."""
    emu = feed(Emulator(10, 2, fast=fast), "abcdefghij" + LRM + "\x1b[4h\x1b[1;3HXY")
    assert rows(emu)[0] == "abXYcdghij"


@both
def test_rep_repeats_within_the_margins(fast: bool) -> None:
    emu = feed(Emulator(10, 3, fast=fast), LRM + "\x1b[1;3Ha\x1b[5b")
    assert rows(emu)[:2] == ["  aaaa", "  aa"]


# -- cursor motion -------------------------------------------------------------------------------


def test_cr_bs_cub_cuf_stop_at_the_margins() -> None:
    """xterm's CarriageReturn, CursorBack, CursorForward: they stop at the margin they start
    inside of; CR from left of the left margin goes to column 0 (to the margin in origin
    mode)."""
    emu = feed(Emulator(10, 3), LRM + "\x1b[1;5H\r")
    assert cursor(emu) == (0, 2)
    feed(emu, "\x1b[1;2H\r")
    assert cursor(emu) == (0, 0)
    feed(emu, "\x1b[1;4H\x1b[9D")
    assert cursor(emu) == (0, 2)
    feed(emu, "\x1b[1;4H\x08\x08\x08")
    assert cursor(emu) == (0, 2)
    feed(emu, "\x1b[1;4H\x1b[9C")
    assert cursor(emu) == (0, 5)
    feed(emu, "\x1b[1;8H\x1b[9C")  # right of the margin: the screen's edge
    assert cursor(emu) == (0, 9)
    feed(emu, "\x1b[?6h\x1b[1;1H\x1b[1;1H\x1b[2D\r")
    assert cursor(emu) == (0, 2)


def test_tab_stops_at_the_right_margin() -> None:
    """xterm's TabToNextStop: under DECLRMM a tab stops at the right margin; CHT likewise."""
    emu = feed(Emulator(40, 2), "\x1b[?69h\x1b[5;20s\t\t\t")
    assert cursor(emu) == (0, 19)
    feed(emu, "\x1b[1;1H\x1b[9I")
    assert cursor(emu) == (0, 19)


def test_origin_mode_counts_from_both_margins() -> None:
    """VT510 manual, DECOM: positions are relative to the scroll region's top left corner and
    stay inside it (CUP, HVP, CHA, VPA), and CPR reports them so."""
    emu = feed(Emulator(20, 10), LRM + "\x1b[3;6r\x1b[?6h")
    assert cursor(emu) == (2, 2)
    feed(emu, "\x1b[2;3H")
    assert cursor(emu) == (3, 4) and replies(emu, "\x1b[6n") == b"\x1b[2;3R"
    feed(emu, "\x1b[99;99f")
    assert cursor(emu) == (5, 5)
    feed(emu, "\x1b[2G")
    assert cursor(emu) == (5, 3)
    feed(emu, "\x1b[1d")
    assert cursor(emu) == (2, 3)


def test_hpr_and_vpr_stop_at_the_region_in_origin_mode() -> None:
    """xterm's HPR/VPR are CursorSet from the cursor: in origin mode they stay inside the
    region."""
    emu = feed(Emulator(20, 10), LRM + "\x1b[3;6r\x1b[?6h\x1b[2;2H\x1b[9a")
    assert cursor(emu) == (3, 5)
    feed(emu, "\x1b[9e")
    assert cursor(emu) == (5, 5)
    emu = feed(Emulator(20, 10), "\x1b[3;6r\x1b[2;2H\x1b[9e")  # outside origin mode: screen
    assert cursor(emu) == (9, 1)


def test_cnl_and_cpl_go_to_the_left_margin() -> None:
    emu = feed(Emulator(20, 10), LRM + "\x1b[2;4r\x1b[3;5H\x1b[9E")
    assert cursor(emu) == (3, 2)
    feed(emu, "\x1b[9F")
    assert cursor(emu) == (1, 2)


def test_curses_fix_makes_a_tab_wrap_first() -> None:
    """xterm's TabNext: with mode 41 ("more(1) fix") and autowrap, a TAB with a wrap pending
    goes to column 0 of the next row, then tabs."""
    emu = feed(Emulator(20, 3), "\x1b[?41h" + "x" * 20 + "\t1")
    assert rows(emu)[1] == "        1"
    emu = feed(Emulator(20, 3), "x" * 20 + "\t2")
    assert rows(emu)[1] == "2"


# -- scrolling, insertion and deletion -----------------------------------------------------------


def test_index_scrolls_the_rectangle_only_inside_the_margins() -> None:
    """xterm's xtermIndex/RevIndex: at the bottom (top) margin IND/LF/VT/FF (RI) scroll the
    region between all four margins; outside the left and right margins the cursor stays and
    nothing scrolls."""
    for code in ("\x1bD", "\n", "\x0b", "\x0c", "\x1bE"):
        emu = lettered(Emulator(8, 4))
        feed(emu, LRM + "\x1b[2;3r\x1b[3;4H" + code)
        assert rows(emu) == ["aaaaaaaa", "bbccccbb", "cc    cc", "dddddddd"], repr(code)
        emu = lettered(Emulator(8, 4))
        feed(emu, LRM + "\x1b[2;3r\x1b[3;8H" + code)
        assert rows(emu)[1:3] == ["bbbbbbbb", "cccccccc"] and cursor(emu)[0] == 2, repr(code)
    emu = lettered(Emulator(8, 4))
    feed(emu, LRM + "\x1b[2;3r\x1b[2;4H\x1bM")
    assert rows(emu) == ["aaaaaaaa", "bb    bb", "ccbbbbcc", "dddddddd"]


def test_il_dl_only_inside_the_region_and_between_its_columns() -> None:
    """xterm's InsertLine/DeleteLine: nothing with the cursor outside the margins; inside
    them the rows from the cursor's down move between the left and right margins, and the
    cursor goes to the left margin."""
    emu = lettered(Emulator(8, 4))
    feed(emu, LRM + "\x1b[2;4H\x1b[L")
    assert rows(emu) == ["aaaaaaaa", "bb    bb", "ccbbbbcc", "ddccccdd"]
    assert cursor(emu) == (1, 2)
    feed(emu, "\x1b[2M")
    assert rows(emu) == ["aaaaaaaa", "bbccccbb", "cc    cc", "dd    dd"]
    feed(emu, "\x1b[2;8H\x1b[L\x1b[2;1H\x1b[M")  # outside: nothing
    assert rows(emu)[1] == "bbccccbb"


def test_ich_dch_move_cells_up_to_the_right_margin_only() -> None:
    emu = feed(Emulator(10, 2), "abcdefghij" + LRM + "\x1b[1;4H\x1b[@")
    assert rows(emu)[0] == "abc deghij"  # f pushed past the margin is lost
    feed(emu, "\x1b[2P")
    assert rows(emu)[0] == "abce  ghij"
    feed(emu, "\x1b[1;8H\x1b[P\x1b[1;1H\x1b[@")  # outside the margins: nothing
    assert rows(emu)[0] == "abce  ghij"


def test_su_sd_scroll_the_rectangle_and_keep_the_scrollback_out() -> None:
    emu = lettered(Emulator(8, 4, scrollback=10))
    feed(emu, LRM + "\x1b[S")
    assert rows(emu) == ["aabbbbaa", "bbccccbb", "ccddddcc", "dd    dd"]
    feed(emu, "\x1b[2T")
    assert rows(emu) == ["aa    aa", "bb    bb", "ccbbbbcc", "ddccccdd"]
    assert len(emu.scrollback) == 0


def test_decic_decdc_decbi_decfi_work_between_the_margins() -> None:
    """xterm's xtermColScroll/xtermColIndex: DECIC/DECDC insert/delete columns from the
    cursor's to the right margin in every row of the region; DECBI at the left margin and
    DECFI at the right one scroll the region's columns; nothing from outside the margins."""
    emu = lettered(Emulator(8, 2))
    feed(emu, LRM + "\x1b[1;4H\x1b['}")
    assert rows(emu) == ["aaa aaaa", "bbb bbbb"]
    feed(emu, "\x1b[2'~")
    assert rows(emu) == ["aaaa  aa", "bbbb  bb"]
    feed(emu, "\x1b[1;3H\x1b6")
    assert rows(emu) == ["aa aa aa", "bb bb bb"] and cursor(emu) == (0, 2)
    feed(emu, "\x1b[1;6H\x1b9")
    assert rows(emu) == ["aaaa  aa", "bbbb  bb"] and cursor(emu) == (0, 5)
    feed(emu, "\x1b[1;8H\x1b['}")  # outside: nothing
    assert rows(emu) == ["aaaa  aa", "bbbb  bb"]


def test_rectangles_count_from_both_margins_in_origin_mode() -> None:
    """xterm's xtermParseRect: in origin mode a rectangle's rows and columns are relative to
    the region's top left and clamped to it (DECFRA here; DECERA, DECSERA, DECCRA and DECRQCRA
    read theirs the same way)."""
    emu = feed(Emulator(10, 6), LRM + "\x1b[2;4r\x1b[?6h\x1b[88;1;1;9;9$x")
    assert rows(emu) == ["", "  XXXX", "  XXXX", "  XXXX", "", ""]


# -- saving and restoring ------------------------------------------------------------------------


@both
def test_decsc_decrc_keep_a_pending_wrap_at_the_right_margin(fast: bool) -> None:
    """DEC STD 070 / xterm CursorSave: the last column flag is saved and restored; at a right
    margin it is a flag, so it cannot be mistaken for a position."""
    emu = feed(Emulator(10, 3, fast=fast), LRM + "\x1b[1;3Habcd\x1b7\x1b[3;1H\x1b8X")
    assert rows(emu)[:2] == ["  abcd", "  X"]


def test_snapshot_keeps_margins_and_the_pending_wrap_and_reads_old_files() -> None:
    emu = feed(Emulator(10, 3), LRM + "\x1b[1;3Habcd")
    state = json.loads(json.dumps(snapshot.dump(emu.screen)))
    back = Emulator(10, 3)
    snapshot.load(back.screen, state)
    assert back.screen.hmargins == (2, 5) and back.screen.wrap_pending
    assert cursor(back) == (0, 5)
    # a file written before either was kept: no keys, a pending wrap as x == width
    old = feed(Emulator(10, 3), "0123456789")
    state = json.loads(json.dumps(snapshot.dump(old.screen)))
    del state["hmargins"], state["wrap_pending"]
    state["cursor"][0] = 10
    back = Emulator(10, 3)
    snapshot.load(back.screen, state)
    assert back.screen.hmargins is None and back.screen.wrap_pending
    assert rows(feed(back, "X"))[:2] == ["0123456789", "X"]
