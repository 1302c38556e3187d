"""Driving the terminal model in tests: feed it text, read its rows, its cursor, its replies."""

from __future__ import annotations

from vncterm.terminal.emulator import Emulator


def feed(emu: Emulator, text: str) -> Emulator:
    emu.feed(text.encode())
    return emu


def rows(emu: Emulator) -> list[str]:
    return [line.rstrip() for line in emu.text()]


def cursor(emu: Emulator) -> tuple[int, int]:
    """(row, column), 0-based; a pending wrap leaves the cursor on the margin (and sets
    ``screen.wrap_pending``)."""
    return emu.screen.cursor.y, emu.screen.cursor.x


def replies(emu: Emulator, text: str) -> bytes:
    """What the terminal answers to ``text``."""
    feed(emu, text)
    return emu.take_replies()
