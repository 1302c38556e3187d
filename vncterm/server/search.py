"""Search in the scrollback: Ctrl+Shift+F opens a search line on the status row.

Typing finds every match (case-insensitive) in the scrollback and on the screen, drawn dark on
yellow; the view scrolls to the newest and selects it (drawn reversed). Enter goes to the next
older match, Shift+Enter to the next newer one, Backspace edits, Escape closes it and returns to
the live screen. Like the scrollback view, the search is the console's, shared by all its
viewers: one viewer's search moves every viewer's view. While it is open, keys go to it, not
the program.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..terminal.keymap import KeyState, keysym_to_char
from ..terminal.view import Selection, TerminalView
from .status import StatusRow

log = logging.getLogger(__name__)

#: Longest query, and most matches kept (the newest).
MAX_QUERY = 200
MAX_MATCHES = 10_000
STATUS_KEY = "search"
ESCAPE, RETURN, KP_ENTER, BACKSPACE = 0xFF1B, 0xFF0D, 0xFF8D, 0xFF08
MODIFIERS = range(0xFFE1, 0xFFEF)


#: The matches' colours (0x000000 on 0xCDCD00) as cell colours.
MATCH_FG, MATCH_BG = "000000", "cdcd00"


class ScrollbackSearch:
    """The console's search line and its matches."""

    def __init__(self, view: TerminalView, status: StatusRow, changed: Callable[[], None]) -> None:
        self.view, self.status, self.changed = view, status, changed
        self.active = False
        self.query = ""
        self.matches: list[tuple[int, int, int]] = []  # (absolute line, first col, last col)
        self.index = -1
        self._by_line: dict[int, list[tuple[int, int]]] = {}
        self._stamp = (0, 0, 0)  # the history the matches were found in (see _follow)
        self._faulted = False

    def open(self) -> None:
        self.active, self.query, self.matches, self.index = True, "", [], -1
        self._by_line = {}
        self.view.decorate = self._decorate
        self._show()

    def close(self) -> None:
        self.active = False
        self._by_line = {}
        self.view.decorate = None
        self.view.clear_selection()
        self.view.to_live()
        self.status.clear(STATUS_KEY)
        self.changed()

    def key(self, keysym: int, down: bool, keys: KeyState) -> None:
        """A key while the search line is open (nothing reaches the program). A fault closes
        the search (logged once) instead of reaching the viewer's connection."""
        try:
            self._key(keysym, down, keys)
        except Exception as e:
            if not self._faulted:
                self._faulted = True
                log.warning("search: %s: %s; the search is closed", type(e).__name__, e)
            self.close()

    def _key(self, keysym: int, down: bool, keys: KeyState) -> None:
        keys.key(keysym, down)  # keep the modifiers
        self._follow()
        if not down or keysym in MODIFIERS:
            return
        if keysym == ESCAPE:
            self.close()
            return
        if keysym in (RETURN, KP_ENTER):
            if self.matches:
                step = 1 if keys.shift else -1  # Enter: older; Shift+Enter: newer
                self.index = (self.index + step) % len(self.matches)
        elif keysym == BACKSPACE:
            self._search(self.query[:-1])
        else:
            ch = keysym_to_char(keysym)
            if ch is not None and len(self.query) < MAX_QUERY:
                self._search(self.query + ch)
        self._show()

    def _search(self, query: str) -> None:
        self.query = query
        self.matches = self._find(query.casefold()) if query else []
        self.index = len(self.matches) - 1  # the newest first
        self._stamp = self._history()
        self._index_lines()

    def _index_lines(self) -> None:
        self._by_line = {}
        for line, c0, c1 in self.matches:
            self._by_line.setdefault(line, []).append((c0, c1))

    def _history(self) -> tuple[int, int, int]:
        emu = self.view.emulator
        return emu.scrollback_generation, emu.scrollback_appended, self.view.history_len()

    def _follow(self) -> None:
        """Output went on while the search is open: when the oldest history rows fell off,
        the matches' line numbers move with the rest; when the history was cleared, search
        again. (Matches in the new output are found at the next key.)"""
        stamp = self._history()
        if stamp == self._stamp:
            return
        (gen0, app0, len0), (gen, app, length) = self._stamp, stamp
        self._stamp = stamp
        if gen != gen0:
            self._search(self.query)
            self._show()
            return
        dropped = (app - app0) - (length - len0)
        if dropped <= 0:
            return
        current = self.matches[self.index] if self.matches else None
        self.matches = [(ln - dropped, a, b) for ln, a, b in self.matches if ln >= dropped]
        if current is not None:
            moved = (current[0] - dropped, current[1], current[2])
            self.index = (
                self.matches.index(moved) if moved in self.matches else len(self.matches) - 1
            )
        self._index_lines()

    def _decorate(self, line: int, cells: dict[int, Any]) -> None:
        """Every match but the current one (the selection, reversed): dark on yellow (xterm's
        default black and yellow, as RGB: a palette the program changed does not apply)."""
        self._follow()
        spans = self._by_line.get(line)
        if not spans:
            return
        current = self.matches[self.index] if self.matches else None
        default = self.view.emulator.default_char
        for c0, c1 in spans:
            if current is not None and (line, c0, c1) == current:
                continue
            for x in range(c0, c1 + 1):
                ch = cells.get(x, default)
                cells[x] = ch._replace(fg=MATCH_FG, bg=MATCH_BG, reverse=False)

    def _find(self, needle: str) -> list[tuple[int, int, int]]:
        view = self.view
        total = view.history_len() + view.emulator.rows
        found: list[tuple[int, int, int]] = []
        for line in range(total):
            cells = view.line_cells(line)  # a highlight changes attributes, not text
            cols = sorted(cells)
            text = "".join(cells[x].data[:1] or " " for x in cols).casefold()
            start = text.find(needle)
            while start >= 0:
                found.append((line, cols[start], cols[start + len(needle) - 1]))
                start = text.find(needle, start + 1)
        return found[-MAX_MATCHES:]

    def _show(self) -> None:
        view = self.view
        if self.matches:
            line, c0, c1 = self.matches[self.index]
            view.selection = Selection((line, c0), (line, c1))
            rows, h = view.emulator.rows, view.history_len()
            top = h - view.offset
            if not top <= line < top + rows - 1:  # the bottom row is the search line
                view.offset = max(0, min(h, h - line + rows // 2))
            view.changed = True
            where = f"{len(self.matches) - self.index} of {len(self.matches)}"
        else:
            view.clear_selection()
            where = "no match" if self.query else "type to search"
        self.status.show(
            STATUS_KEY,
            f"search: {self.query}_  ({where}; Enter older, Shift+Enter newer, Esc live)",
        )
        self.changed()
