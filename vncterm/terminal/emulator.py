"""The terminal as the server and the renderer see it: ``Emulator``, a facade over the model.

``Emulator.feed(bytes)`` decodes console output (UTF-8, CP437 or Latin-1) and parses it
(``parser.py``, dispatching through ``sequences.py``) into ``TermScreen`` (``screen.py``, the
model). Callers outside ``vncterm.terminal`` use only this class: feeding, resizing, marking
damage, the modes that change what keys and pastes send, and what the program left for them
(replies it is owed, bells, title, clipboard, resize requests). ``screen`` is what the
renderer draws (through ``view.py``), and ``parser`` is there for tests.

Lines leaving the top of the main screen go to a capped scrollback of ``ScrollRow``
(``scrollback.py``). Fast paths (bulk drawing, an SGR cache, and the flood skim of
``flood.py``, which turns text that would scroll away unseen into rows without drawing it) are
on by default; ``fast=False`` is the reference model they are tested against.
"""

from __future__ import annotations

from typing import Any

from pyte import modes as mo

from . import paint, snapshot
from .charsets import canonical, make_decoder
from .parser import Parser
from .reports import CHECKSUM_BUDGET
from .screen import BACKARROW, BRACKETED_PASTE, DECCKM, TermScreen
from .scrollback import Char, Line, Scrollback, ScrollRow

__all__ = ["Char", "Emulator", "Line", "ScrollRow", "TermScreen"]


class Emulator:
    """A terminal of ``cols`` x ``rows`` fed with console bytes.

    ``charset`` is how the console encodes text: "utf-8" (default), "cp437" or "latin-1".
    ``allow_column_mode`` says the console may be resized: then DECCOLM (``CSI ? 3 h/l``, once
    the program allowed it with ``CSI ? 40 h``, as in xterm) switches to 132/80 columns and
    ``CSI 8 ; rows ; cols t`` asks for a size; :meth:`take_resize_request` offers the new size
    to the server. Without it, DECCOLM only clears the screen (logged once).

    ``scrollback`` caps :attr:`scrollback` (rows), ``scrollback_memory`` its estimated bytes.
    ``fast=False`` turns every fast path off:
    the reference model the differential tests compare against.
    """

    def __init__(
        self,
        cols: int,
        rows: int,
        charset: str = "utf-8",
        allow_column_mode: bool = False,
        scrollback: int = 10000,
        fast: bool = True,
        scrollback_memory: int = 64 << 20,
    ) -> None:
        self.charset = canonical(charset)
        self.screen = TermScreen(
            cols,
            rows,
            allow_column_mode,
            scrollback=scrollback,
            fast=fast,
            scrollback_memory=scrollback_memory,
        )
        self.parser = Parser(self.screen)
        self._decode = make_decoder(self.charset)

    # -- scrollback ------------------------------------------------------------------------------

    @property
    def scrollback(self) -> Scrollback:
        """Rows that scrolled off the top of the main screen, oldest first (capped)."""
        return self.screen.scrollback

    @property
    def scrollback_appended(self) -> int:
        """How many rows were ever appended (grows by the rows each feed scrolled off)."""
        return self.screen.scrollback_appended

    @property
    def scrollback_generation(self) -> int:
        """Changes when the scrollback is cleared (ED 3), so saved positions are void."""
        return self.screen.scrollback_generation

    def wrapped(self, row: int) -> bool:
        """Screen row ``row`` goes on in ``row + 1`` because of autowrap."""
        return self.screen.wrapped(row)

    @property
    def cols(self) -> int:
        return int(self.screen.columns)

    @property
    def rows(self) -> int:
        return int(self.screen.lines)

    def feed(self, data: bytes) -> None:
        """Parse console output."""
        self.screen.checksum_budget = CHECKSUM_BUDGET
        self.parser.feed(self._decode(data))

    def resize(self, cols: int, rows: int) -> None:
        """Change the terminal size (the server resized it, e.g. for SetDesktopSize)."""
        self.screen.resize(rows, cols)

    def damage_all(self) -> None:
        """Mark every row as changed: the renderer redraws the whole screen."""
        self.screen.dirty.update(range(self.screen.lines))

    def take_replies(self) -> bytes:
        """Replies owed to the program since the last call."""
        out = bytes(self.screen.replies)
        self.screen.replies.clear()
        return out

    def take_bells(self) -> int:
        """Bells rung since the last call."""
        n = self.screen.bells
        self.screen.bells = 0
        return n

    def take_clipboard(self) -> str | None:
        """Text the program put on the clipboard with OSC 52 since the last call."""
        text, self.screen.clipboard = self.screen.clipboard, None
        return text

    def take_title(self) -> str | None:
        """The window title if it changed since the last call (OSC 0/2, title stack)."""
        if not self.screen.title_changed:
            return None
        self.screen.title_changed = False
        return self.screen.title

    def take_resize_request(self) -> tuple[int, int] | None:
        """(cols, rows) the program resized the terminal to (DECCOLM, ``CSI 8 t``), once.

        The screen has already been resized; the server should follow with the renderer, the
        console's window size and the viewers.
        """
        request, self.screen.resize_request = self.screen.resize_request, None
        return request

    @property
    def title(self) -> str:
        return self.screen.title

    @property
    def allow_column_mode(self) -> bool:
        return self.screen.allow_column_mode

    @allow_column_mode.setter
    def allow_column_mode(self, value: bool) -> None:
        self.screen.allow_column_mode = value

    @property
    def window_ops(self) -> frozenset[str]:
        """The xterm window operations the program may use (``config.WINDOW_OPS``)."""
        return self.screen.window_ops

    @window_ops.setter
    def window_ops(self, value: frozenset[str]) -> None:
        self.screen.window_ops = value

    def set_cell_pixels(self, width: int, height: int) -> None:
        """The renderer's cell size, for the size reports in pixels (``CSI 14/15/16 t``)."""
        self.screen.cell_pixels = (width, height)

    @property
    def cursor_shape(self) -> str:
        """ "block", "underline" or "bar" (DECSCUSR)."""
        return self.screen.cursor_shape

    @property
    def cursor_blink(self) -> bool:
        return self.screen.cursor_blink

    @property
    def application_cursor_keys(self) -> bool:
        return DECCKM in self.screen.mode

    @property
    def application_keypad(self) -> bool:
        return self.screen.keypad_application

    @property
    def backarrow_sends_backspace(self) -> bool:
        """DECBKM (``CSI ? 67 h``): the BackSpace key sends BS, not DEL."""
        return BACKARROW in self.screen.mode

    @property
    def new_line_mode(self) -> bool:
        """LNM (``CSI 20 h``): Return sends CR LF."""
        return mo.LNM in self.screen.mode

    @property
    def bracketed_paste(self) -> bool:
        """The program wants pastes bracketed (mode 2004)."""
        return BRACKETED_PASTE in self.screen.mode

    def private_modes(self) -> set[int]:
        """The DEC private modes the program has turned on (mouse reporting among them)."""
        return {m >> 5 for m in self.screen.mode if m >= 32}

    @property
    def alternate_screen(self) -> bool:
        return self.screen.alternate

    @property
    def cursor_visible(self) -> bool:
        return mo.DECTCEM in self.screen.mode and not self.screen.cursor.hidden

    def snapshot(self) -> snapshot.Captured:
        """The terminal's state now (cells, cursor, modes, title, scrollback), cheaply; encode
        it in any thread (``.encode()``, or ``snapshot.Encoder``)."""
        return snapshot.capture(self.screen)

    def restore(self, state: Any) -> None:
        """Put back a :meth:`snapshot` (of any size: then resize); ``snapshot.SnapshotError``
        when it is not one, the terminal unchanged."""
        snapshot.load(self.screen, state)

    def paint(self) -> str:
        """Escape sequences that draw the screen as it is on a fresh terminal (``paint.py``)."""
        return paint.paint(self.screen)

    def add_note(self, text: str) -> None:
        """A line of vncterm's own at the end of the scrollback (shown in reverse video)."""
        snapshot.add_note(self.screen, text)

    @property
    def default_char(self) -> Any:
        """The blank cell in the default colours (what a cell without content shows)."""
        return self.screen.default_char

    @property
    def cursor_position(self) -> tuple[int, int]:
        """The cursor's column and row (0-based)."""
        return self.screen.cursor.x, self.screen.cursor.y

    def line_text(self, row: int) -> str:
        """Row ``row`` of the screen as text, one character per column."""
        line = self.screen.buffer[row]
        return "".join(line[x].data for x in range(self.screen.columns))

    def text(self) -> list[str]:
        """The screen as lines of text (for tests and logs)."""
        return list(self.screen.display)
