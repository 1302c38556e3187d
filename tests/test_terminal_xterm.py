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
