"""The terminal model against xterm's documented behaviour (ctlseqs, xterm 379; the VT510
manual where xterm follows DEC): one test per behaviour, each citing what it checks."""

from __future__ import annotations

import logging

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
