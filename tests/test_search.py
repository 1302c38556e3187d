"""Search in the scrollback (Ctrl+Shift+F), from noVNC (Node): the view scrolls to each match
and highlights it, Enter and Shift+Enter move between matches, Escape returns to the live
screen; another viewer sees the same view; keys typed meanwhile never reach the shell."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import SHELL
from harness import RunningVncterm
from peers.common import wait_until_equal
from peers.novnc_client import NoVncClient

from vncterm.server.search import MATCH_BG, ScrollbackSearch
from vncterm.server.status import StatusRow
from vncterm.terminal.emulator import Emulator
from vncterm.terminal.keymap import KeyState
from vncterm.terminal.view import TerminalView

CTRL, SHIFT, RETURN, ESCAPE, BACKSPACE = 0xFFE3, 0xFFE1, 0xFF0D, 0xFF1B, 0xFF08


def chord(viewer: NoVncClient, *mods: int, key: int) -> None:
    for mod in mods:
        viewer.key(mod, down=True)
    viewer.key(key)
    for mod in reversed(mods):
        viewer.key(mod, down=False)


def view_state(vt: RunningVncterm) -> tuple[int, Any, str | None]:
    assert vt.server is not None
    session = vt.server.session
    view = session.terminal.view
    return vt.call(lambda: (view.offset, view.selection, session.status.text()))


def wait_state(
    vt: RunningVncterm, check: Any, timeout: float = 10.0
) -> tuple[int, Any, str | None]:
    deadline = time.monotonic() + timeout
    while not check(state := view_state(vt)):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    return state


def yellow_cells(view: Any) -> int:
    """Cells drawn as other matches in the window the viewers see now."""
    top = view.history_len() - view.offset
    rows = view.emulator.screen.lines
    return sum(ch.bg == MATCH_BG for y in range(rows) for ch in view.line_cells(top + y).values())


@pytest.mark.peer
def test_search_scrolls_back_highlights_and_escape_returns_live() -> None:
    with (
        RunningVncterm(SHELL, cols=60, rows=12) as vt,
        NoVncClient() as viewer,
        NoVncClient() as other,
    ):
        vt.wait_text("$")
        viewer.connect("127.0.0.1", vt.port, quality=None)
        other.connect("127.0.0.1", vt.port, quality=None)
        viewer.type("for i in $(seq 1 120); do echo row-$i; done; echo Needle-A; echo end\n")
        vt.wait_text("end")
        viewer.type("seq 200 260 | sed s/^/filler-/; echo needle-b\n")
        vt.wait_text("needle-b")
        chord(viewer, CTRL, SHIFT, key=ord("F"))
        wait_state(vt, lambda s: "search:" in (s[2] or ""))
        viewer.type("row-7")  # row-7, row-70 .. row-79: 11 matches, the newest shown first
        offset, sel, _ = wait_state(vt, lambda s: "1 of 11" in (s[2] or ""))
        assert offset > 0 and sel is not None
        assert vt.call(lambda: vt.server.session.terminal.view.selected_text()) == "row-7"  # type: ignore[union-attr]
        first = sel
        # the other matches in sight are drawn dark on yellow; the current one reversed
        assert vt.server is not None
        view = vt.server.session.terminal.view
        assert vt.call(lambda: yellow_cells(view)) >= len("row-7")
        for _ in range(10):  # Enter: older matches, down to row-7 itself
            viewer.key(RETURN)
        _, sel, _ = wait_state(vt, lambda s: "11 of 11" in (s[2] or ""))
        assert sel.anchor[0] < first.anchor[0]
        chord(viewer, SHIFT, key=RETURN)  # Shift+Enter: one newer
        wait_state(vt, lambda s: "10 of 11" in (s[2] or ""))
        # both viewers show the same (shared) view, highlight and search line included
        assert wait_until_equal(viewer, vt.framebuffer, timeout=10)
        assert wait_until_equal(other, vt.framebuffer, timeout=10)
        # case-insensitive (Needle-A, needle-b, each in its command and its output); Backspace edits
        for _ in range(5):
            viewer.key(BACKSPACE)
        viewer.type("needle")
        wait_state(vt, lambda s: "1 of 4" in (s[2] or ""))  # commands and output
        viewer.type("-zzz")
        wait_state(vt, lambda s: "no match" in (s[2] or ""))
        viewer.key(ESCAPE)
        offset, sel, _ = wait_state(vt, lambda s: s[0] == 0 and "search" not in (s[2] or ""))
        assert vt.call(lambda: yellow_cells(view)) == 0
        assert sel is None
        # nothing typed while searching reached the shell
        viewer.type("echo after-$((6*7))\n")
        lines = vt.wait_text("after-42")
        assert not any("row-7needle" in line or "zzz" in line for line in lines), lines


@pytest.mark.unit
def test_matches_follow_the_history_as_its_oldest_rows_fall_off() -> None:
    """Output goes on while the search is open and the capped history drops its oldest rows:
    the highlighted match is still the text searched for; a cleared history is searched
    again."""
    emu = Emulator(30, 5, scrollback=20)
    view = TerminalView(emu)
    search = ScrollbackSearch(view, StatusRow(), lambda: None)
    emu.feed(b"".join(b"line-%d\r\n" % i for i in range(12)))
    emu.feed(b"mark-A\r\n")
    search.open()
    for ch in "mark":
        search.key(ord(ch), True, KeyState())
    assert len(search.matches) == 1 and view.selected_text() == "mark"
    before = search.matches[0][0]
    emu.feed(b"".join(b"more-%d\r\n" % i for i in range(20)))  # the oldest rows fall off
    view.screen_for_render()  # a frame: the view moves its selection, the search its matches
    search._follow()
    assert search.matches[0][0] < before
    assert view.selected_text() == "mark"
    # the same line, highlighted as the match (the selection) in the frame the viewers get
    line = search.matches[0][0]
    assert "".join(c.data for c in view.line_cells(line).values()).startswith("mark-A")
    emu.feed(b"\x1b[3J")  # ED 3: the history is cleared; the mark is gone with it
    view.screen_for_render()
    search._follow()
    assert search.matches == [] and "no match" in (search.status.text() or "")


@pytest.mark.unit
def test_a_fault_in_the_search_closes_it_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    emu = Emulator(30, 5)
    view = TerminalView(emu)
    search = ScrollbackSearch(view, StatusRow(), lambda: None)

    def broken(needle: str) -> list[tuple[int, int, int]]:
        raise ValueError("a hostile cell")

    search._find = broken  # type: ignore[method-assign]
    for _ in range(3):
        search.open()
        search.key(ord("x"), True, KeyState())
        assert not search.active and view.offset == 0
    assert [r.getMessage() for r in caplog.records].count(
        "search: ValueError: a hostile cell; the search is closed"
    ) == 1
