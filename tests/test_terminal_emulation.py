"""The emulation gaps pyte 0.8.2 leaves, closed in vncterm.terminal (one test per gap)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from terminal_helpers import feed, rows

from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("mode", [47, 1047, 1049])
def test_alternate_screen_restores_the_main_screen(mode: int) -> None:
    emu = feed(Emulator(20, 5), "shell line\r\n$ ")
    feed(emu, f"\x1b[?{mode}h")
    assert emu.alternate_screen
    feed(emu, "\x1b[2J\x1b[Hfull screen app")
    assert rows(emu)[0] == "full screen app"
    feed(emu, f"\x1b[?{mode}l")
    assert not emu.alternate_screen
    assert rows(emu)[:2] == ["shell line", "$"]


def test_1049_saves_and_restores_the_cursor_and_clears_the_alternate_screen() -> None:
    emu = feed(Emulator(20, 5), "\x1b[?1049hleft over\x1b[?1049l")  # alt screen now dirty
    feed(emu, "\x1b[3;7H\x1b[?1049h")
    assert rows(emu)[0] == "", "1049 clears the alternate screen on entry"
    feed(emu, "\x1b[5;1Hx\x1b[?1049l")
    assert (emu.screen.cursor.y, emu.screen.cursor.x) == (2, 6)


def test_1047_clears_the_alternate_screen_on_leaving_and_47_keeps_it() -> None:
    emu = feed(Emulator(10, 3), "\x1b[?47hkept\x1b[?47l\x1b[?47h")
    assert rows(emu)[0] == "kept"
    feed(emu, "\x1b[?47l\x1b[?1047h\x1b[?1047l\x1b[?47h")
    assert rows(emu)[0] == ""


def test_saved_cursor_is_per_screen() -> None:
    emu = feed(Emulator(20, 5), "\x1b[2;3H\x1b7\x1b[?47h\x1b[4;4H\x1b7\x1b[?47l\x1b8")
    assert (emu.screen.cursor.y, emu.screen.cursor.x) == (1, 2)


def test_scroll_up_and_down_within_margins() -> None:
    emu = feed(Emulator(5, 5), "a\r\nb\r\nc\r\nd\r\ne")
    feed(emu, "\x1b[2;4r\x1b[S")
    assert rows(emu) == ["a", "c", "d", "", "e"]
    feed(emu, "\x1b[2T")
    assert rows(emu) == ["a", "", "", "c", "e"]
    feed(emu, "\x1b[r\x1b[1;1;1;1;1T")  # xterm's mouse highlight tracking: not a scroll
    assert rows(emu) == ["a", "", "", "c", "e"]


def test_sgr_hidden_faint_and_their_resets() -> None:
    emu = feed(Emulator(10, 2), "\x1b[8;2mx\x1b[28my\x1b[22mz")
    line = emu.screen.buffer[0]
    assert line[0].hidden and line[0].dim
    assert not line[1].hidden and line[1].dim
    assert not line[2].dim


def test_colours_16_256_truecolor_and_colon_forms() -> None:
    emu = feed(
        Emulator(10, 1),
        "\x1b[31;42ma\x1b[91;102mb\x1b[38;5;196;48;5;21mc"
        "\x1b[38;2;1;2;3;48;2;250;251;252md\x1b[38:2::9:8:7me"
        "\x1b[38:5:46mf\x1b[39;49mg",
    )
    cells = [emu.screen.buffer[0][x] for x in range(7)]
    assert (cells[0].fg, cells[0].bg) == ("red", "green")
    assert (cells[1].fg, cells[1].bg) == ("brightred", "brightgreen")
    # palette entries stay indices (a program may change the palette), truecolor stays RGB
    assert (cells[2].fg, cells[2].bg) == ("p196", "p21")
    assert (cells[3].fg, cells[3].bg) == ("010203", "fafbfc")
    assert cells[4].fg == "090807"
    assert cells[5].fg == "p46"
    assert (cells[6].fg, cells[6].bg) == ("default", "default")


def test_private_sgr_and_unknown_sequences_are_dropped_whole() -> None:
    # vim sends CSI > 4;2 m (modifyOtherKeys): pyte took it for SGR 4 (underline)
    emu = feed(Emulator(30, 2), "\x1b[>4;2ma\x1b[<ub\x1b[=cc\x1bP+q544e\x1b\\d\x1b_x\x1b\\e")
    assert rows(emu)[0] == "abcde"
    assert not emu.screen.buffer[0][0].underscore


def test_zero_width_characters_do_not_drop_the_rest_of_the_text() -> None:
    emu = feed(Emulator(20, 1), "a\u200bb\ufe0fc e\u0301!")
    assert rows(emu)[0] == "a\u200bb\ufe0fc é!"


def test_wide_characters_take_two_cells_and_wrap_whole() -> None:
    emu = feed(Emulator(5, 2), "ab中文")
    assert rows(emu) == ["ab中", "文"]
    assert emu.screen.buffer[0][3].data == ""
    feed(emu, "\x1b[1;4Hx")  # overwriting the stub blanks the wide character's other half
    assert rows(emu)[0] == "ab x"


def test_decscusr_cursor_shapes() -> None:
    emu = Emulator(10, 2)
    assert (emu.cursor_shape, emu.cursor_blink) == ("block", True)
    for param, expected in (
        (2, ("block", False)),
        (3, ("underline", True)),
        (4, ("underline", False)),
        (5, ("bar", True)),
        (6, ("bar", False)),
        (0, ("block", True)),
    ):
        feed(emu, f"\x1b[{param} q")
        assert (emu.cursor_shape, emu.cursor_blink) == expected
    feed(emu, "x\x1b[4q")  # without the space it is DECLL, not DECSCUSR
    assert emu.cursor_shape == "block"
    assert rows(emu)[0] == "x"


def test_deccolm_resizes_only_when_allowed_and_always_clears() -> None:
    emu = feed(Emulator(80, 24), "text\x1b[?40h\x1b[?3h")
    assert (emu.cols, rows(emu)[0], emu.take_resize_request()) == (80, "", None)
    emu = Emulator(80, 24, allow_column_mode=True)
    feed(emu, "text\x1b[5;5H\x1b[?40h\x1b[?3h")
    assert emu.cols == 132 and emu.take_resize_request() == (132, 24)
    assert emu.take_resize_request() is None
    assert rows(emu)[0] == "" and (emu.screen.cursor.x, emu.screen.cursor.y) == (0, 0)
    feed(emu, "\x1b[?3l")
    assert emu.cols == 80 and emu.take_resize_request() == (80, 24)


def test_osc_titles_and_the_title_stack() -> None:
    emu = Emulator(20, 2)
    assert emu.take_title() is None
    feed(emu, "\x1b]0;first\x07")
    assert emu.take_title() == "first" and emu.take_title() is None
    feed(emu, "\x1b]2;sec\x1bond\x1b\\")  # an ESC that is not ST cancels the string
    assert emu.take_title() is None and rows(emu)[0] == "nd"  # ESC o was a sequence
    feed(emu, "\r\x1b[K")
    feed(emu, "\x1b]2;second\x1b\\\x1b]1;icon only\x07")
    assert emu.take_title() == "second"
    feed(emu, "\x1b[22;0t\x1b]2;vim\x07\x1b[23;0t")
    assert emu.title == "second"
    feed(emu, "\x1b]2;bad\x01\x7fcontrols\x07")
    assert emu.take_title() == "badcontrols"
    assert rows(emu) == ["", ""]


def test_title_split_across_feeds() -> None:
    emu = Emulator(20, 2)
    for chunk in (b"\x1b]", b"2;ti", b"tle\x1b", b"\\after"):
        emu.feed(chunk)
    assert emu.title == "title" and rows(emu)[0] == "after"


def test_cp437_console() -> None:
    emu = Emulator(10, 2, charset="cp437")
    emu.feed(b"\xc9\xcd\xbb\r\n\xb0\xdb\x82\x1b[1mA")
    assert rows(emu) == ["╔═╗", "░█éA"]
    assert emu.screen.buffer[1][3].bold


def test_latin1_console_with_c1_controls() -> None:
    emu = Emulator(10, 2, charset="latin-1")
    emu.feed(b"caf\xe9 \x9b1mB")  # 0x9b is CSI
    assert rows(emu)[0] == "café B"
    assert emu.screen.buffer[0][5].bold
    with pytest.raises(ValueError):
        Emulator(10, 2, charset="ebcdic")


def test_dec_line_drawing_in_utf8_mode_and_shift_out() -> None:
    emu = feed(Emulator(10, 2), "\x1b(0lqk\x1b(Bq\x1b)0\x0eq\x0fq")
    assert rows(emu)[0] == "┌─┐q─q"


def test_rep_cbt_decstr_and_erase_keeps_the_background() -> None:
    emu = feed(Emulator(10, 3), "ab\x1b[3b\x1b[Z|")
    assert rows(emu)[0] == "|bbbb"
    feed(emu, "\x1b[4h\x1b[!pX")
    assert rows(emu)[0] == "|Xbbb"  # DECSTR ended insert mode: X replaced a b
    feed(emu, "\x1b[44m\x1b[2J")
    assert all(emu.screen.buffer[y][x].bg == "blue" for y in range(3) for x in range(10))
    feed(emu, "\x1b[0m\x1b[Hkeep\x1b[3J")
    assert rows(emu)[0] == "keep"  # ED 3 clears scrollback only


def test_replies_for_status_cursor_size_and_device_attributes() -> None:
    emu = feed(Emulator(80, 24), "\x1b[5n\x1b[3;4H\x1b[6n\x1b[18t\x1b[c\x1b[>c")
    assert emu.take_replies() == (
        b"\x1b[0n\x1b[3;4R\x1b[8;24;80t\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c\x1b[>41;379;0c"
    )  # DA and DA2 as xterm 379 answers as a VT420


def test_resize_keeps_the_cursor_line() -> None:
    emu = feed(Emulator(10, 5), "1\r\n2\r\n3\r\n4\r\n5")
    emu.resize(6, 3)
    assert rows(emu) == ["3", "4", "5"] and emu.screen.cursor.y == 2


SAMPLE = (
    "plain \x1b[1;31mred\x1b[0m \u4e2d\u6587 e\u0301 \x1b]2;t\x07\x1b[?1049h\x1b[2J"
    "\x1b[3;3Halt\x1b(0lqk\x1b(B\x1b[38;2;1;2;3mx\x1b[?1049l\x1b[2 q\x1bP1$r\x1b\\"
    "\x1b[10;1H\x1b[S\u00e9\u00e8\U0001f600"
).encode()


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(0, len(SAMPLE)), max_size=12))
def test_any_split_of_the_input_gives_the_same_screen(cuts: list[int]) -> None:
    whole = Emulator(30, 12)
    whole.feed(SAMPLE)
    split = Emulator(30, 12)
    bounds = [0, *sorted(cuts), len(SAMPLE)]
    for a, b in itertools.pairwise(bounds):
        split.feed(SAMPLE[a:b])
    assert split.text() == whole.text()
    assert [[split.screen.buffer[y][x] for x in range(30)] for y in range(12)] == [
        [whole.screen.buffer[y][x] for x in range(30)] for y in range(12)
    ]
    assert (split.title, split.cursor_shape) == (whole.title, whole.cursor_shape) == ("t", "block")


def test_osc_colour_queries_are_answered_as_xterm_does() -> None:
    """OSC 10/11 (default fg/bg) and OSC 4 (palette) queries get ``rgb:RRRR/GGGG/BBBB``,
    ended as the query was; vim and others use them to pick a light or dark scheme."""
    emu = Emulator(20, 4)
    emu.feed(b"\x1b]11;?\x07")
    assert emu.take_replies() == b"\x1b]11;rgb:0000/0000/0000\x07"
    emu.feed(b"\x1b]10;?;?\x1b\\")  # the second "?" asks for the next colour, 11
    assert emu.take_replies() == (
        b"\x1b]10;rgb:e5e5/e5e5/e5e5\x1b\\\x1b]11;rgb:0000/0000/0000\x1b\\"
    )
    emu.feed(b"\x1b]4;1;?;196;?;244;?\x07")
    assert emu.take_replies() == (
        b"\x1b]4;1;rgb:cdcd/0000/0000\x07"
        b"\x1b]4;196;rgb:ffff/0000/0000\x07"
        b"\x1b]4;244;rgb:8080/8080/8080\x07"
    )
    emu.feed(b"\x1b]4;300;?\x07\x1b]4;1;#123456\x07\x1b]11;#ffffff\x07")  # out of range; sets
    assert emu.take_replies() == b""


def test_palette_replies_match_what_sgr_draws() -> None:
    """The palette OSC 4 reports is the one SGR 38;5;N colours cells with."""
    from vncterm.terminal.colours import DEFAULT_FG, PALETTE_256, resolve

    emu = Emulator(256, 1)
    emu.feed(b"".join(b"\x1b[38;5;%dmx" % n for n in range(256)))
    drawn = [resolve(emu.screen.buffer[0][n].fg, DEFAULT_FG) for n in range(256)]  # as drawn
    assert drawn == list(PALETTE_256)
