"""The flood skim: text that scrolls away before anyone could see it goes straight to the
scrollback as rows, without drawing a cell.

When one fed chunk holds more lines than the screen, only the last screenful shows; everything
before it would be drawn, then scrolled off. The parser calls :meth:`Flood.at_line_feed` after
each line feed; when the terminal is in the state below and a long enough stretch of *simple*
input follows, ``Skim`` (``skim.py``) turns that stretch into rows (string slices, no per-cell
work for ASCII), appends the ones that leave the screen to the scrollback, rebuilds the visible
rows as screen lines, and hands back where the parser goes on. A stretch whose lines all end in
CR LF is taken line by line: blocks of plain lines (ASCII without controls) cost no Python work
per line at all, as the scrollback keeps them as the split-off strings and builds a row only
when one is read (``Scrollback``); the other lines (SGR, TAB, wide text, ...) go one at a
time. On 20 MB of text that took the parser from 31 to 70 MB/s, on ``ls --color -lR`` from 13 to 22.

Exactness. The skim must leave everything as the cell-by-cell model would: every cell, the
cursor, attributes, wrap flags, bells, ``_last_char``, the scrollback. It runs only when

* the main screen is shown, the scroll region is the whole screen (no left and right margins
  either), and the cursor is on the bottom row (so every line feed scrolls one row into the
  scrollback), a pending wrap at its last column;
* autowrap is on, insert mode, new-line mode (LNM) and xterm's curses fix (41) are off, and
  the active character set does not translate; the screen is at least 2 x 2;

and it consumes only *simple* input, which cannot change those conditions: printable text
(any Unicode), CR, LF (and VT, FF, which act as LF), TAB, BEL, SGR (``CSI [0-9;:]* m``) and
``ESC ( B``. SGR and ``ESC ( B`` run on the real screen; BEL is counted. It stops *before*
anything else (cursor movement, erasing, modes, OSC, DSR/DA queries, other controls, an
incomplete sequence), and before a text run that would overwrite cells already written in its
row (a lone CR or a TAB going back) or that starts with a combining mark at column 0 (it would
combine into the row above): those run through the normal path, which also answers queries and
sets titles. Whole lines are rows only once they leave the screen; the last screenful is built
as screen lines (with their rows attached, so the next skim does not convert them back).
"""

from __future__ import annotations

import re

from pyte import modes as mo

from .motion import MORE_FIX
from .screen import TermScreen
from .skim import Skim

#: Escape sequences a simple stretch may hold: SGR and "G0 is US ASCII".
SIMPLE_ESC = re.compile(r"\x1b(?:\[[0-9;:]*m|\(B)")
#: Latin-1 bytes that are not bad controls. Bad controls end a simple stretch: all C0 but BEL,
#: TAB, LF, VT, FF, CR and ESC; DEL; C1.
_ALLOWED = bytes(range(0x20, 0x7F)) + bytes(range(0xA0, 0x100)) + b"\t\n\x0b\x0c\r\x07\x1b"


def can_skim(screen: TermScreen) -> bool:
    """The terminal state the skim needs (see the module docstring)."""
    lines = screen.lines
    margins = screen.margins
    mode = screen.mode
    table = screen.g1_charset if screen.charset else screen.g0_charset
    return (
        screen.cursor.y == lines - 1
        and lines >= 2
        and screen.columns >= 2
        and not screen.alternate
        and (margins is None or (margins.top == 0 and margins.bottom == lines - 1))
        and screen.hmargins is None
        and (not screen.wrap_pending or screen.cursor.x == screen.columns - 1)
        and mo.DECAWM in mode
        and mo.IRM not in mode
        and mo.LNM not in mode
        and MORE_FIX not in mode
        and (table is None or isinstance(table, str))
    )


def _ends_in_text(s: str, start: int, stop: int) -> bool:
    """The simple stretch ``s[start:stop]`` ends with printed text, not a control or a
    sequence."""
    if s[stop - 1] < " ":
        return False
    esc_at = s.rfind("\x1b", start, stop)
    if esc_at < 0:
        return True
    m = SIMPLE_ESC.match(s, esc_at)
    return m is None or m.end() != stop


class Flood:
    """Per fed string: finds simple stretches and skims the long ones."""

    def __init__(self, screen: TermScreen, s: str, min_lines: int) -> None:
        self.screen = screen
        self.s = s
        self.min_lines = min_lines
        self._bad = -1  # the next bad control at or after the last search, len(s) for none
        self._bad_chars: set[str] | None = None  # the bad controls in s

    def _simple_end(self, pos: int) -> int:
        """Where the simple stretch starting at ``pos`` ends."""
        s = self.s
        n = len(s)
        if self._bad < pos:
            if self._bad_chars is None:
                # Which bad controls occur at all, then str.find for each (a regex over the
                # whole chunk is several times slower). Latin-1 with "?" for what it cannot
                # encode keeps one byte per character; C1 controls are Latin-1 bytes.
                raw = s.encode("latin-1", "replace")
                self._bad_chars = set(raw.translate(None, _ALLOWED).decode("latin-1"))
            found = [i for c in self._bad_chars if (i := s.find(c, pos)) >= 0]
            self._bad = min(found) if found else n
        end = self._bad
        i = s.find("\x1b", pos, end)
        while i >= 0:
            m = SIMPLE_ESC.match(s, i)
            if m is None:
                return i
            i = s.find("\x1b", m.end(), end)
        return end

    def at_line_feed(self, pos: int) -> tuple[int, int]:
        """Called after a line feed that ended at ``pos``: skim what follows when it pays.

        Returns where parsing goes on and the position before which not to call again.
        """
        screen = self.screen
        if not can_skim(screen):
            return pos, pos  # e.g. the cursor is still on its way to the bottom row
        s = self.s
        end = self._simple_end(pos)
        window = min(end, pos + 256 * self.min_lines)  # enough line feeds are usually near
        if s.count("\n", pos, window) < self.min_lines and s.count("\n", pos, end) < self.min_lines:
            return pos, end
        skim = Skim(screen)
        stop = skim.run(s, pos, end)
        if stop > pos:
            skim.commit()
            if not _ends_in_text(s, pos, stop):
                screen._last_char = ""  # as the parser: REP follows printed text only
        if stop >= end:
            return stop, end
        # stopped early (an overwrite): let the normal path have a screenful before retrying
        nxt = stop
        for _ in range(self.min_lines):
            nxt = s.find("\n", nxt, end) + 1
            if not nxt:
                return stop, end
        return stop, nxt
