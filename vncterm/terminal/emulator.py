"""The terminal model: pyte's Screen, extended with what vncterm needs from it.

``Emulator.feed(bytes)`` parses console output. Replies the terminal owes the program (device
attributes, status and cursor position reports) collect in ``replies`` for the session to write
back to the console; bells are counted; the title is kept.
"""

from __future__ import annotations

import unicodedata

import pyte
from pyte import modes as mo

#: pyte keeps private (DEC) modes shifted left by 5 bits.
DECCKM = 1 << 5


class TermScreen(pyte.Screen):
    """pyte's Screen with replies, bell and title captured, and its dirty-set gap closed."""

    def __init__(self, columns: int, lines: int) -> None:
        self.replies = bytearray()
        self.bells = 0
        self.title = ""
        super().__init__(columns, lines)

    def write_process_input(self, data: str) -> None:
        """Queue a reply for the program (DA, DSR, CPR)."""
        self.replies += data.encode()

    def bell(self, *args: object) -> None:
        self.bells += 1

    def set_title(self, param: str) -> None:
        super().set_title(param)
        self.title = param

    def draw(self, data: str) -> None:
        # pyte combines a mark typed at column 0 with the last cell of the previous line but
        # marks only the cursor's line dirty: mark the previous one too.
        if self.cursor.x == 0 and self.cursor.y and any(unicodedata.combining(c) for c in data):
            self.dirty.add(self.cursor.y - 1)
        super().draw(data)


class Emulator:
    """A terminal of ``cols`` x ``rows`` fed with console bytes."""

    def __init__(self, cols: int, rows: int) -> None:
        self.screen = TermScreen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)

    @property
    def cols(self) -> int:
        return int(self.screen.columns)

    @property
    def rows(self) -> int:
        return int(self.screen.lines)

    def feed(self, data: bytes) -> None:
        """Parse console output."""
        self.stream.feed(data)

    def take_replies(self) -> bytes:
        """Replies owed to the program since the last call."""
        out = bytes(self.screen.replies)
        self.screen.replies.clear()
        return out

    def take_bells(self) -> int:
        n = self.screen.bells
        self.screen.bells = 0
        return n

    @property
    def application_cursor_keys(self) -> bool:
        return DECCKM in self.screen.mode

    @property
    def cursor_visible(self) -> bool:
        return mo.DECTCEM in self.screen.mode and not self.screen.cursor.hidden

    def text(self) -> list[str]:
        """The screen as lines of text (for tests and logs)."""
        return list(self.screen.display)
