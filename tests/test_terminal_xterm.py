"""The terminal model against xterm's documented behaviour (ctlseqs, xterm 379; the VT510
manual where xterm follows DEC): one test per behaviour, each citing what it checks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from terminal_helpers import cursor, feed, replies, rows

from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit


# -- DECCOLM -------------------------------------------------------------------------------------


def test_deccolm_needs_mode_40_and_ris_returns_to_80_columns() -> None:
    """xterm: DECCOLM does nothing unless "allow 80/132" (``?40``) is set; then it clears,
    homes and switches; RIS goes back to 80 columns and keeps mode 40 (a setting)."""
    emu = Emulator(80, 5, allow_column_mode=True)
    feed(emu, "text\x1b[2;3H\x1b[?3h")
    assert (emu.cols, rows(emu)[0], cursor(emu)) == (80, "text", (1, 2))
    assert emu.take_resize_request() is None
    feed(emu, "\x1b[?40h\x1b[?3h")
    assert (emu.cols, rows(emu)[0], cursor(emu)) == (132, "", (0, 0))
    assert emu.take_resize_request() == (132, 5)
    feed(emu, "more\x1bc")
    assert (emu.cols, rows(emu)[0]) == (80, "")
    assert emu.take_resize_request() == (80, 5)
    feed(emu, "\x1b[?3h")  # mode 40 survived RIS
    assert emu.cols == 132


def test_deccolm_on_a_console_that_may_not_be_resized_keeps_the_size_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    emu = feed(Emulator(80, 5, allow_column_mode=False), "x\x1b[?40h\x1b[?3h")
    assert (emu.cols, rows(emu)[0], emu.take_resize_request()) == (80, "", None)
    feed(emu, "\x1b[?3l\x1b[?3h\x1b[?3h")
    warnings = [r for r in caplog.records if "DECCOLM" in r.getMessage()]
    assert len(warnings) == 1 and "may not be resized" in warnings[0].getMessage()


# -- DECSCNM -------------------------------------------------------------------------------------


def test_decscnm_is_drawn_not_written_into_the_cells() -> None:
    """DECSCNM swaps the default colours on the display (xterm's ReverseVideo); the cells,
    reverse-video text and coloured backgrounds among them, are left as they were."""
    from vncterm.render.font import CellFont
    from vncterm.render.renderer import TerminalRenderer
    from vncterm.terminal.colours import DEFAULT_BG, DEFAULT_FG, resolve

    emu = feed(Emulator(6, 2), "a\x1b[7mR\x1b[0;41mB\x1b[0m")
    before = {x: emu.screen.buffer[0][x] for x in range(6)}
    r = TerminalRenderer(CellFont(15), 6, 2)
    r.refresh(emu.screen, False)
    normal = r.pixels.copy()

    def ground(col: int) -> int:
        """The commonest colour of a cell: its background."""
        tile = r.pixels[: r.cell_h, col * r.cell_w : (col + 1) * r.cell_w].ravel()
        values, counts = np.unique(tile, return_counts=True)
        return int(values[counts.argmax()])

    feed(emu, "\x1b[?5h")
    assert {x: emu.screen.buffer[0][x] for x in range(6)} == before
    r.refresh(emu.screen, False)
    assert ground(5) == ground(0) == DEFAULT_FG  # blank and plain text: the light screen
    assert ground(1) == DEFAULT_BG  # SGR 7 under DECSCNM: reversed twice
    assert ground(2) == int(resolve("red", DEFAULT_BG))  # the red background stays red
    feed(emu, "\x1b[?5l")
    r.refresh(emu.screen, False)
    assert (r.pixels == normal).all()
    assert {x: emu.screen.buffer[0][x] for x in range(6)} == before


# -- REP, HT, 1049, LNM, CUU/CUD -----------------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False])
def test_rep_repeats_only_a_character_printed_right_before_it(fast: bool) -> None:
    """xterm repeats its last graphic character only while nothing else came in between: a
    control, a cursor move, an SGR or REP itself forget it (charproc.c, lastchar)."""
    emu = feed(Emulator(20, 6, fast=fast), "ab\x1b[3b")
    assert rows(emu)[0] == "abbbb"
    feed(emu, "\x1b[2b")  # right after a REP: nothing
    feed(emu, "\r\nx\r\x1b[3b")  # after a control
    feed(emu, "\r\ny\x1b[C\x1b[3b")  # after a cursor move
    feed(emu, "\r\nz\x1b[1m\x1b[3b")  # after an SGR
    assert rows(emu)[:4] == ["abbbb", "x", "y", "z"]
    emu = feed(Emulator(20, 2, fast=fast), "q")
    feed(emu, "\x1b[2b")  # REP in the next read still follows the q
    assert rows(emu)[0] == "qqq"


@pytest.mark.parametrize("fast", [True, False])
def test_tab_at_the_last_column_keeps_the_pending_wrap(fast: bool) -> None:
    """HT moves to the next stop or the right margin; it does not reset the wrap flag, so
    the next character still wraps (xterm TabToNextStop leaves do_wrap)."""
    emu = feed(Emulator(10, 3, fast=fast), "0123456789\tX")
    assert rows(emu) == ["0123456789", "X", ""]


def test_leaving_1049_restores_the_cursor_saved_on_entering() -> None:
    """1049 saves the cursor in the main screen's DECSC slot and restores it from there: a
    save made on the alternate screen (DECSC or 1048) does not leak back."""
    emu = feed(Emulator(20, 6), "\x1b[2;5H\x1b[?1049h\x1b[5;9H\x1b7\x1b[?1048h\x1b[4;1H")
    feed(emu, "\x1b[?1049l")
    assert cursor(emu) == (1, 4)
    feed(emu, "\x1b[6;6H\x1b8")  # DECRC on the main screen: the slot 1049 filled
    assert cursor(emu) == (1, 4)


def test_return_sends_cr_lf_under_lnm() -> None:
    """ctlseqs: LNM (``CSI 20 h``) "Automatic Newline": Return sends CR LF."""
    from vncterm.terminal.keymap import KeyState

    emu = Emulator(10, 2)
    keys = KeyState()
    assert keys.key(0xFF0D, True, new_line=emu.new_line_mode) == b"\r"
    feed(emu, "\x1b[20h")
    assert emu.new_line_mode
    assert keys.key(0xFF0D, True, new_line=emu.new_line_mode) == b"\r\n"
    assert keys.key(0xFF8D, True, new_line=emu.new_line_mode) == b"\r\n"  # KP_Enter
    feed(emu, "\x1b[20l")
    assert keys.key(0xFF0D, True, new_line=emu.new_line_mode) == b"\r"


def test_cuu_and_cud_outside_the_scroll_region_stop_at_the_screen_edge() -> None:
    """VT510 CUU/CUD: the margins stop the cursor only when it starts inside the region."""
    emu = feed(Emulator(10, 10), "\x1b[4;6r\x1b[2;3H\x1b[9A")
    assert cursor(emu) == (0, 2)
    feed(emu, "\x1b[9;1H\x1b[9B")
    assert cursor(emu) == (9, 0)
    feed(emu, "\x1b[5;1H\x1b[9A")  # inside: the top margin
    assert cursor(emu) == (3, 0)
    feed(emu, "\x1b[9B")
    assert cursor(emu) == (5, 0)
    feed(emu, "\x1b[1;1H\x1b[9B")  # above the region, moving down: its bottom margin
    assert cursor(emu) == (5, 0)


# -- DCS, DECRQSS, DECRQCRA ----------------------------------------------------------------------


def test_decrqss_reports_settings_as_xterm() -> None:
    """ctlseqs DECRQSS: ``DCS 1 $ r value setting ST``; ``DCS 0 $ r ST`` for an unknown one."""
    emu = Emulator(80, 24)
    assert replies(emu, "\x1bP$qm\x1b\\") == b"\x1bP1$r0m\x1b\\"
    feed(emu, "\x1b[1;4;7;33;104m\x1b[38;5;200m")
    assert replies(emu, "\x1bP$qm\x1b\\") == b"\x1bP1$r0;1;4;7;38:5:200;104m\x1b\\"
    feed(emu, "\x1b[0;38;2;1;2;3m")
    assert replies(emu, "\x1bP$qm\x1b\\") == b"\x1bP1$r0;38:2::1:2:3m\x1b\\"
    assert replies(emu, "\x1b[5;20r\x1bP$qr\x1b\\") == b"\x1bP1$r5;20r\x1b\\"
    assert replies(emu, "\x1b[4 q\x1bP$q q\x1b\\") == b"\x1bP1$r4 q\x1b\\"
    assert replies(emu, '\x1bP$q"q\x1b\\') == b'\x1bP1$r0"q\x1b\\'
    assert replies(emu, '\x1bP$q"p\x1b\\') == b'\x1bP1$r64;1"p\x1b\\'
    assert replies(emu, "\x1bP$qs\x1b\\") == b"\x1bP1$r1;80s\x1b\\"
    assert replies(emu, "\x1bP$qz\x1b\\") == b"\x1bP0$r\x1b\\"
    assert replies(emu, "\x1bP$qm\x18after") == b""  # CAN cancels the string
    assert "after" in rows(emu)[0]


def test_a_dcs_over_the_cap_is_dropped_whole() -> None:
    emu = Emulator(40, 3)
    feed(emu, "\x1bP$q" + "m" * 70000 + "\x1b\\shown")
    assert emu.take_replies() == b"" and rows(emu)[0] == "shown"
    assert emu.parser.faults == 0


def _checksum(emu: Emulator, top: int, left: int, bottom: int, right: int) -> int:
    reply = replies(emu, f"\x1b[7;1;{top};{left};{bottom};{right}*y").decode()
    assert reply.startswith("\x1bP7!~") and reply.endswith("\x1b\\"), reply
    return int(reply[5:-2], 16)


def test_decrqcra_sums_the_rectangle_as_xterm_does() -> None:
    """xterm's default checksum (checksumExtension 0, DEC's): characters plus video
    attributes (underline 0x10, inverse 0x20, blink 0x40, bold 0x80), blanks left out but
    for the first cell, negated, 16 bits; the rectangle 1-based, within the scroll region in
    origin mode; a rectangle xterm refuses sums to 0."""
    emu = feed(Emulator(20, 5), "AB\x1b[1mC\x1b[0m\r\n\x1b[4;7mD")
    assert _checksum(emu, 1, 1, 1, 1) == -ord("A") & 0xFFFF
    assert _checksum(emu, 1, 1, 1, 3) == -(ord("A") + ord("B") + ord("C") + 0x80) & 0xFFFF
    assert _checksum(emu, 2, 1, 2, 1) == -(ord("D") + 0x30) & 0xFFFF
    assert _checksum(emu, 1, 4, 1, 4) == -0x20 & 0xFFFF  # a blank first cell counts
    assert _checksum(emu, 1, 3, 1, 9) == -(ord("C") + 0x80) & 0xFFFF  # blanks after it: not
    assert _checksum(emu, 2, 1, 1, 1) == 0  # bottom above top: refused
    feed(emu, "\x1b[2;4r\x1b[?6h")  # origin mode: row 1 is the region's first
    assert _checksum(emu, 1, 1, 1, 1) == -(ord("D") + 0x30) & 0xFFFF
    emu.screen.window_ops = frozenset()
    assert replies(emu, "\x1b[1;1;1;1;1;1*y") == b""  # --window-ops without checksum


# -- reports -------------------------------------------------------------------------------------


def test_decrqm_reports_private_and_ansi_modes() -> None:
    """DECRQM -> DECRPM ``CSI [?] mode ; value $ y``: 1 set, 2 reset, 4 permanently reset,
    0 not recognised (xterm's do_dec_rqm / do_ansi_rqm)."""
    emu = Emulator(80, 24)
    assert replies(emu, "\x1b[?7$p") == b"\x1b[?7;1$y"  # autowrap on at power-on
    assert replies(emu, "\x1b[?2004h\x1b[?2004$p") == b"\x1b[?2004;1$y"
    assert replies(emu, "\x1b[?1049h\x1b[?1049$p\x1b[?1049l") == b"\x1b[?1049;1$y"
    assert replies(emu, "\x1b[?5$p") == b"\x1b[?5;2$y"
    assert replies(emu, "\x1b[?40h\x1b[?40$p") == b"\x1b[?40;1$y"
    assert replies(emu, "\x1b[?9999$p") == b"\x1b[?9999;0$y"
    assert replies(emu, "\x1b[20h\x1b[20$p") == b"\x1b[20;1$y"  # LNM
    assert replies(emu, "\x1b[4$p") == b"\x1b[4;2$y"  # IRM
    assert replies(emu, "\x1b[1$p") == b"\x1b[1;4$y"  # GATM: permanently reset
    assert replies(emu, "\x1b[99$p") == b"\x1b[99;0$y"


def test_device_status_reports_as_a_vt420() -> None:
    emu = feed(Emulator(80, 24), "\x1b[3;7H")
    assert replies(emu, "\x1b[?6n") == b"\x1b[?3;7;1R"  # DECXCPR carries the page
    assert replies(emu, "\x1b[6n") == b"\x1b[3;7R"
    assert replies(emu, "\x1b[?15n") == b"\x1b[?13n"  # no printer
    assert replies(emu, "\x1b[?25n") == b"\x1b[?20n"  # UDKs unlocked
    assert replies(emu, "\x1b[?26n") == b"\x1b[?27;1;0;0n"  # keyboard
    assert replies(emu, "\x1b[?53n\x1b[?55n") == b"\x1b[?53n\x1b[?53n"  # no locator
    assert replies(emu, "\x1b[?56n") == b"\x1b[?57;0n"
    assert replies(emu, "\x1b[?62n") == b"\x1b[0000*{"  # no macro space
    assert replies(emu, "\x1b[?63;9n") == b"\x1bP9!~0000\x1b\\"  # memory checksum
    assert replies(emu, "\x1b[?75n") == b"\x1b[?70n"
    assert replies(emu, "\x1b[?85n") == b"\x1b[?83n"


def test_identification_reports() -> None:
    from vncterm import __version__

    emu = Emulator(80, 24)
    assert replies(emu, "\x1bZ") == replies(emu, "\x1b[c")  # DECID answers as DA
    assert replies(emu, "\x1b[=c") == b"\x1bP!|00000000\x1b\\"  # DA3
    assert replies(emu, "\x1b[>q") == f"\x1bP>|vncterm({__version__})\x1b\\".encode()
    assert replies(emu, "\x1b[>1q") == b""


def test_window_reports_and_their_gates() -> None:
    """By default: size reports answered, title reports not, resize requested where the
    console may be resized (the server then resizes it)."""
    emu = feed(Emulator(80, 24, allow_column_mode=True), "\x1b]2;secret\x07")
    emu.screen.cell_pixels = (9, 18)
    assert replies(emu, "\x1b[18t") == b"\x1b[8;24;80t"
    assert replies(emu, "\x1b[14t") == b"\x1b[4;432;720t"
    assert replies(emu, "\x1b[16t") == b"\x1b[6;18;9t"
    assert replies(emu, "\x1b[19t") == b"\x1b[9;24;80t"
    assert replies(emu, "\x1b[21t\x1b[20t") == b""
    feed(emu, "\x1b[8;30;100t")
    assert emu.take_resize_request() == (100, 30)
    emu.screen.window_ops = frozenset({"title"})
    assert replies(emu, "\x1b[21t") == b"\x1b]lsecret\x1b\\"
    assert replies(emu, "\x1b[18t") == b""
    feed(emu, "\x1b[8;30;100t")
    assert emu.take_resize_request() is None
    emu = Emulator(80, 24, allow_column_mode=False)  # a console that may not be resized
    feed(emu, "\x1b[8;30;100t")
    assert emu.take_resize_request() is None


def test_window_ops_option() -> None:
    from vncterm.cli import config_from_args
    from vncterm.errors import ConfigError

    config, _ = config_from_args(["--", "true"])
    assert config.window_ops == {"size", "resize", "checksum"}
    config, _ = config_from_args(["--window-ops", "title,size", "--", "true"])
    assert config.window_ops == {"title", "size"}
    config, _ = config_from_args(["--window-ops", "none", "--", "true"])
    assert config.window_ops == set()
    with pytest.raises(ConfigError, match="unknown"):
        config_from_args(["--window-ops", "size,move", "--", "true"])


def test_title_stack_keeps_icon_label_and_title_apart() -> None:
    """ctlseqs CSI 22/23 t: 0 both, 1 the icon label, 2 the window title; 20/21 report them."""
    emu = feed(Emulator(20, 2), "\x1b]2;a\x07\x1b]1;b\x07\x1b[22;1t\x1b[22;2t")
    emu.screen.window_ops = frozenset({"title"})
    feed(emu, "\x1b]2;y\x07\x1b]1;z\x07\x1b[23;0t")  # pops the window push: a, and b below
    assert replies(emu, "\x1b[21t\x1b[20t") == b"\x1b]la\x1b\\\x1b]Lb\x1b\\"
    feed(emu, "\x1b]1;w\x07\x1b[23;2t")  # the icon push kept the title of the time: a
    assert (emu.title, replies(emu, "\x1b[20t")) == ("a", b"\x1b]Lw\x1b\\")


def test_resize_in_pixels_and_decslpp_ask_for_whole_cells() -> None:
    emu = Emulator(80, 24, allow_column_mode=True)
    emu.screen.cell_pixels = (9, 18)
    assert replies(emu, "\x1b[15t") == b"\x1b[5;432;720t"
    feed(emu, "\x1b[4;360;900t")
    assert emu.take_resize_request() == (100, 20)
    feed(emu, "\x1b[4;;450t")  # height omitted: kept
    assert emu.take_resize_request() == (50, 20)
    feed(emu, "\x1b[36t")  # DECSLPP
    assert emu.take_resize_request() == (50, 36)


def test_a_size_asked_is_taken_at_once_so_the_next_report_says_it() -> None:
    """xterm answers ``CSI 18 t`` right after DECSLPP or DECSNLS with the new size (esctest's
    DECSLPP test sends no delay between them); too big a size is not taken."""
    emu = Emulator(80, 24, allow_column_mode=True)
    assert replies(emu, "\x1b[8;10;90t\x1b[18t\x1b[30t\x1b[18t\x1b[26*|\x1b[18t") == (
        b"\x1b[8;10;90t\x1b[8;30;90t\x1b[8;26;90t"
    )
    assert (emu.cols, emu.rows, emu.take_resize_request()) == (90, 26, (90, 26))
    assert replies(emu, "\x1b[8;9999;9999t\x1b[18t") == b"\x1b[8;26;90t"
    fixed = Emulator(80, 24)  # a console that may not be resized keeps its size
    assert replies(fixed, "\x1b[30t\x1b[18t") == b"\x1b[8;24;80t"


def test_decnkm_is_the_application_keypad() -> None:
    emu = feed(Emulator(20, 2), "\x1b[?66h")
    assert emu.application_keypad and replies(emu, "\x1b[?66$p") == b"\x1b[?66;1$y"
    feed(emu, "\x1b[?66l")
    assert not emu.application_keypad


def test_a_flood_of_checksum_requests_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """Each DECRQCRA walks its rectangle: per read only so many cells are summed, the rest of
    the requests go unanswered, said once in the log; the next read is answered again."""
    from vncterm.terminal.reports import CHECKSUM_BUDGET

    caplog.set_level(logging.WARNING)
    emu = Emulator(200, 100)
    emu.feed(b"\x1b[1*y" * 10000)  # each the whole screen: 20000 cells, 200 million in all
    answered = emu.take_replies().count(b"!~")
    assert answered == CHECKSUM_BUDGET // (200 * 100)
    feed(emu, "\x1b[1*y\x1b[1*y")
    assert emu.take_replies().count(b"!~") == 2
    assert len([r for r in caplog.records if "DECRQCRA" in r.getMessage()]) == 1


def test_decrc_restores_the_pending_wrap_not_decawm() -> None:
    """xterm (cursor.c, after Mattias Engdegard's wraptest): DECSC/DECRC keep the last column
    flag; DECAWM is not part of the saved state."""
    emu = feed(Emulator(10, 3), "\x1b[?7h\x1b7\x1b[?7l\x1b8\x1b[1;9Habcd")
    assert rows(emu)[:2] == ["        ad", ""]  # autowrap stayed off
    emu = feed(Emulator(10, 3), "0123456789\x1b7\x1b[3;1H\x1b8X")
    assert rows(emu)[:2] == ["0123456789", "X"]  # the pending wrap came back


def test_cht_tabs_forward_n_stops() -> None:
    emu = feed(Emulator(40, 2), "\x1b[3I")
    assert cursor(emu) == (0, 24)
    feed(emu, "\x1b[99I")  # stops at the last column
    assert cursor(emu) == (0, 39)


def test_xtsave_and_xtrestore_put_private_modes_back() -> None:
    """xterm CSI ? Pm s / CSI ? Pm r: the listed modes as they were; the screens switch back
    without clearing."""
    emu = feed(Emulator(20, 3), "\x1b[?2004h\x1b[?25l\x1b[?1049hALT\x1b[?2004;25;1049;7s")
    feed(emu, "\x1b[?2004l\x1b[?25h\x1b[?7l\x1b[?1049l")
    assert (emu.bracketed_paste, emu.cursor_visible, emu.alternate_screen) == (False, True, False)
    feed(emu, "\x1b[?2004;25;1049;7r")
    assert (emu.bracketed_paste, emu.cursor_visible, emu.alternate_screen) == (True, False, True)
    assert rows(emu)[0] == "ALT" and replies(emu, "\x1b[?7$p") == b"\x1b[?7;1$y"


def test_column_scrolls_move_the_scroll_region_columns() -> None:
    """SL/SR (ISO 6429), DECIC/DECDC and DECBI/DECFI (VT420) insert or delete columns in every
    row of the scroll region, the cursor staying (xterm's xtermColScroll)."""
    emu = feed(Emulator(10, 3), "abcdefghij\r\nklmnopqrst\r\nuvw\x1b[1;2r\x1b[1;3H\x1b[2'}")
    assert rows(emu) == ["ab  cdefgh", "kl  mnopqr", "uvw"]
    assert cursor(emu) == (0, 2)
    feed(emu, "\x1b[2'~\x1b[1 @")
    assert rows(emu) == ["bcdefgh", "lmnopqr", "uvw"]
    feed(emu, "\x1b[2 A\x1b[H\x1b6")
    assert rows(emu) == ["   bcdefgh", "   lmnopqr", "uvw"]
    feed(emu, "\x1b[1;10H\x1b9")
    assert rows(emu)[:2] == ["  bcdefgh", "  lmnopqr"] and cursor(emu) == (0, 9)


def test_rectangle_fill_erase_and_copy() -> None:
    """DECFRA fills in the current attributes, DECERA blanks, DECSERA blanks the characters
    only, DECCRA copies (clipped to the screen), as xterm's screen.c."""
    emu = feed(Emulator(8, 4), "\x1b[1m\x1b[88;2;2;3;3$x\x1b[0m")
    assert rows(emu) == ["", " XX", " XX", ""]
    assert emu.screen.buffer[1][1].bold
    feed(emu, "\x1b[2;2;2;2$z\x1b[4mU\x1b[0m\x1b[1;1;1;1${")
    assert rows(emu)[:2] == ["", "  X"] and emu.screen.buffer[0][0].underscore
    feed(emu, "\x1b[2;2;3;3;1;3;7;1$v")
    assert rows(emu) == ["", "  X", " XX    X", "      XX"]
    assert replies(emu, "\x1b[70000;1;1;1;1;1*y").startswith(b"\x1bP65535!~")  # xterm's cap


def test_deccara_and_decrara_over_a_stream_or_a_rectangle() -> None:
    """xterm's ScrnMarkRectangle: a stream of positions unless DECSACE 2; 0 clears."""
    emu = feed(Emulator(6, 3), "abcdef\r\nghijkl\x1b[1;2;2;3;1;4$r")
    assert [emu.screen.buffer[0][x].bold for x in range(6)] == [False] + [True] * 5
    assert [emu.screen.buffer[1][x].bold for x in range(6)] == [True] * 3 + [False] * 3
    feed(emu, "\x1b[2*x\x1b[1;1;2;2;7$t")
    assert [emu.screen.buffer[y][x].reverse for y in (0, 1) for x in (0, 1, 2)] == [
        True, True, False, True, True, False,
    ]  # fmt: skip
    feed(emu, "\x1b[1;1;2;6;0$r")
    assert not any(emu.screen.buffer[y][x].bold for y in (0, 1) for x in range(6))


def test_protected_cells_and_the_erases_that_spare_them() -> None:
    """xterm's protected_mode: DECSCA protection holds against DECSED/DECSEL/DECSERA only,
    SPA's against every erase; SGR 0 keeps it, DECSTR and RIS drop it; DECCOLM clears all."""
    emu = feed(Emulator(8, 2), 'a\x1b[1"qb\x1b[0mc\x1b[0"qd\x1b[?2J')
    assert rows(emu)[0] == " bc"
    assert replies(emu, '\x1bP$q"q\x1b\\') == b'\x1bP1$r0"q\x1b\\'
    feed(emu, "\x1b[2J")
    assert rows(emu)[0] == ""
    feed(emu, "\x1b[H\x1bVxy\x1bWz\x1b[H\x1b[3X\x1b[2J\x1b[K")
    assert rows(emu)[0] == "xy"
    feed(emu, '\x1b[0"q\x1b[H\x1b[K')  # DECSCA's kind now: EL ignores the protection
    assert rows(emu)[0] == ""


def test_reverse_wraparound_backs_into_the_line_above() -> None:
    """xterm's CursorBack with modes 45 and 7: BS/CUB go on at the right end of the line above,
    from the top of the region to its bottom right; a pending wrap counts as one step."""
    emu = feed(Emulator(10, 4), "\x1b[?45h\x1b[2;1H\x08")
    assert cursor(emu) == (0, 9)
    feed(emu, "\x1b[1;1H\x08")
    assert cursor(emu) == (3, 9)
    feed(emu, "\x1b[1;9Hab\x08")
    assert cursor(emu) == (0, 9)
    feed(emu, "\x1b[?7l\x1b[2;1H\x08")  # needs autowrap too
    assert cursor(emu) == (1, 0)


def test_decrqss_for_the_page_and_status_settings() -> None:
    emu = Emulator(80, 24, allow_column_mode=True)
    assert replies(emu, "\x1bP$qt\x1b\\") == b"\x1bP1$r24t\x1b\\"  # DECSLPP
    assert replies(emu, "\x1b[2*x\x1bP$q*x\x1b\\") == b"\x1bP1$r2*x\x1b\\"  # DECSACE
    assert replies(emu, "\x1bP$q$}\x1b\\\x1bP$q$~\x1b\\") == b"\x1bP1$r0$}\x1b\\\x1bP1$r0$~\x1b\\"
    feed(emu, "\x1b[30*|")  # DECSNLS asks for 30 lines
    assert emu.take_resize_request() == (80, 30)


def test_decstr_turns_reverse_wraparound_off() -> None:
    """xterm's DECSTR puts autowrap and reverse wraparound back to their initial values."""
    emu = feed(Emulator(10, 4), "\x1b[?45h\x1b[!p\x1b[3;1H\x08")
    assert cursor(emu) == (2, 0)


def test_decscl_sets_the_operating_level_and_a_lower_one_lacks_the_later_sequences() -> None:
    """DECSCL (VT510 manual; xterm): ``CSI 62 ; 1 " p`` is a VT220 after a soft reset: no
    DECRQM (VT320) nor DECRQCRA (VT420); DECRQSS says the level; DA stays the terminal's own
    (xterm answers from its terminal id); RIS and ``CSI 64 " p`` give the VT420 back."""
    emu = feed(Emulator(20, 4), '\x1b[4h\x1b[2;3r\x1b[62;1"p')
    assert 4 not in emu.screen.mode and emu.screen.margins is None  # the soft reset
    assert replies(emu, '\x1b[?1$p\x1b[1;1;1;1;1;1*y\x1bP$q"p\x1b\\') == b'\x1bP1$r62;1"p\x1b\\'
    assert replies(emu, "\x1b[c").startswith(b"\x1b[?64;")
    assert replies(emu, '\x1b[63"p\x1b[?1$p\x1b[1;1;1;1;1;1*y') == b"\x1b[?1;2$y"
    assert replies(emu, '\x1b[61;1"p\x1b[99;1"p\x1bP$q"p\x1b\\') == b'\x1bP1$r61;1"p\x1b\\'
    assert replies(emu, '\x1bc\x1bP$q"p\x1b\\') == b'\x1bP1$r64;1"p\x1b\\'


@pytest.mark.parametrize("mode", [4, 18, 19, 42, 67])
def test_decrqm_reports_the_modes_xterm_keeps(mode: int) -> None:
    """DECSCLM, DECPFF, DECPEX, DECNRCM and DECBKM start reset and report what was set (as
    xterm 379 answers); DECHCCM (60) stays unknown there and here."""
    emu = Emulator(20, 4)
    query = f"\x1b[?{mode}$p"
    assert replies(emu, query) == f"\x1b[?{mode};2$y".encode()
    assert replies(emu, f"\x1b[?{mode}h" + query) == f"\x1b[?{mode};1$y".encode()
    assert replies(emu, f"\x1b[?{mode}l" + query) == f"\x1b[?{mode};2$y".encode()
    assert replies(emu, "\x1b[?60h\x1b[?60$p") == b"\x1b[?60;0$y"


def test_decbkm_is_what_the_backspace_key_sends() -> None:
    emu = Emulator(20, 4)
    assert not emu.backarrow_sends_backspace
    feed(emu, "\x1b[?67h")
    assert emu.backarrow_sends_backspace
    feed(emu, "\x1bc")
    assert not emu.backarrow_sends_backspace


def test_title_modes_set_and_report_titles_in_hex() -> None:
    """XTSMTITLE/XTRMTITLE: under mode 0 a title is set in hex, under mode 1 it is reported
    in hex (upper case, UTF-8 bytes, as xterm 379 in a UTF-8 locale); bad hex sets nothing."""
    emu = Emulator(20, 4)
    emu.screen.window_ops = frozenset({"title"})
    feed(emu, "\x1b[>0t\x1b]2;6162\x07\x1b]1;63\x07")
    assert (emu.title, emu.screen.icon_name) == ("ab", "c")
    feed(emu, "\x1b]2;zz\x07")  # not hex: the title stays
    assert emu.title == "ab"
    feed(emu, "\x1b[>2t\x1b]2;C3A9\x07")
    assert emu.title == "\u00e9"
    feed(emu, "\x1b]2;E9\x07")  # not UTF-8: ISO 8859-1
    assert emu.title == "\u00e9"
    assert replies(emu, "\x1b[>1t\x1b[21t") == b"\x1b]lC3A9\x1b\\"
    assert replies(emu, "\x1b[>0;1;2;3T\x1b]2;6162\x07\x1b[21t") == b"\x1b]l6162\x1b\\"
    assert emu.title == "6162"


def test_an_osc52_query_gets_what_the_program_set_never_a_viewers_clipboard() -> None:
    emu = Emulator(20, 4)
    assert replies(emu, "\x1b]52;c;?\x07") == b"\x1b]52;c;\x07"  # nothing set yet
    feed(emu, "\x1b]52;s0;dGVzdGluZyAxMjM='\x1b\\")  # a stray quote is skipped, as xterm does
    assert emu.take_clipboard() == "testing 123"  # for the viewers
    assert replies(emu, "\x1b]52;;?\x1b\\") == b"\x1b]52;s0;dGVzdGluZyAxMjM=\x1b\\"
    # the selection echoed back is only ever selection letters: nothing else of the query
    assert replies(emu, "\x1b]52;sc rm -rf;?\x07") == b"\x1b]52;sc;dGVzdGluZyAxMjM=\x07"


def test_decstr_ends_protection_and_resets_cursor_shape_and_palette() -> None:
    """xterm's soft reset (DECSTR) also turns protection off (an SPA-protected cell is erased by
    the next ED), returns the cursor to a blinking block and resets the palette."""
    emu = feed(Emulator(10, 2), "\x1bVa\x1bW\x1b[4 q\x1b]4;1;#123456\x1b\\\x1b[!p\x1b[2J")
    assert rows(emu)[0] == ""
    assert (emu.cursor_shape, emu.cursor_blink) == ("block", True)
    assert replies(emu, "\x1b]4;1;?\x1b\\") == b"\x1b]4;1;rgb:cdcd/0000/0000\x1b\\"
