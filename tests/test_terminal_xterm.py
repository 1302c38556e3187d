"""The terminal model against xterm's documented behaviour (ctlseqs, xterm 379; the VT510
manual where xterm follows DEC): one test per behaviour, each citing what it checks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit


def feed(emu: Emulator, text: str) -> Emulator:
    emu.feed(text.encode())
    return emu


def rows(emu: Emulator) -> list[str]:
    return [line.rstrip() for line in emu.text()]


def cursor(emu: Emulator) -> tuple[int, int]:
    """(row, column), 0-based; a pending wrap shows as column == width."""
    return emu.screen.cursor.y, emu.screen.cursor.x


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
