"""vncterm's own messages live on a status row drawn over the viewers' picture, never in the
terminal: a console that stays down for a night must not push the guest's last words out of the
scrollback, and a Break that cannot be sent says so instead of typing its SysRq letter."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from harness import RunningVncterm
from peers.common import wait_until_equal
from peers.novnc_client import NoVncClient

from vncterm.config import ConsoleSpec
from vncterm.render.font import CellFont
from vncterm.render.renderer import OVERLAY_BG, TerminalRenderer
from vncterm.server import session as session_module
from vncterm.server.status import MAX_MESSAGES, StatusRow
from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.peer

DAYS = 259200.0  # a monotonic clock three days after boot
BREAK = 0xFF6B


class Clock:
    def __init__(self) -> None:
        self.now = DAYS + 0.5

    def __call__(self) -> float:
        return self.now


# -- the status state ------------------------------------------------------------------------


def test_messages_by_key_newest_first_updated_in_place_and_expiring() -> None:
    clock = Clock()
    changes: list[str | None] = []
    row = StatusRow(clock=clock)
    row.on_change = lambda: changes.append(row.text())
    assert row.text() is None
    row.show("console", "console disconnected: reconnecting in 0.25 s")
    row.show("break", "BREAK not sent", ttl=5)
    assert row.text() == "BREAK not sent  |  console disconnected: reconnecting in 0.25 s"
    row.show("console", "console disconnected: reconnecting in 5 s")  # in place, not moved
    assert row.text() == "BREAK not sent  |  console disconnected: reconnecting in 5 s"
    clock.now += 5.0
    assert row.text() == "console disconnected: reconnecting in 5 s"
    row.clear("console")
    row.clear("console")  # twice: nothing
    assert row.text() is None
    assert changes == [
        "console disconnected: reconnecting in 0.25 s",
        "BREAK not sent  |  console disconnected: reconnecting in 0.25 s",
        "BREAK not sent  |  console disconnected: reconnecting in 5 s",
        None,
    ]


def test_hostile_text_is_one_capped_line_and_messages_are_capped() -> None:
    row = StatusRow(clock=Clock())
    row.show("x", "a\r\n\x1b[2Jb\tc" + "z" * 10_000)
    text = row.text()
    assert text is not None and text.startswith("a [2Jb c") and len(text) <= 256
    for i in range(MAX_MESSAGES + 10):
        row.show(f"k{i}", str(i))
    assert row.get("k0") is None and row.get(f"k{MAX_MESSAGES + 9}") is not None


# -- the overlay in the renderer --------------------------------------------------------------


def test_overlay_replaces_the_bottom_row_and_goes_away_exactly() -> None:
    font = CellFont(16)
    emu = Emulator(20, 4)
    renderer = TerminalRenderer(font, 20, 4)
    emu.feed(b"one\r\ntwo\r\nthree\r\nlast words")
    renderer.refresh(emu.screen, True)
    plain = renderer.pixels.copy()
    ch = renderer.cell_h
    renderer.set_overlay("reconnecting \u4e2d\u6587 " + "x" * 40)
    spans = renderer.refresh(emu.screen, True)
    assert spans and {s.row for s in spans} == {3}
    assert (renderer.pixels[: 3 * ch] == plain[: 3 * ch]).all()
    bottom = renderer.pixels[3 * ch :]
    assert (bottom != plain[3 * ch :]).any() and (bottom == OVERLAY_BG).mean() > 0.5
    assert "reconnecting" not in "".join(emu.text()) and emu.text()[3] == "last words" + " " * 10
    renderer.set_overlay("reconnecting \u4e2d\u6587 " + "x" * 40)  # the same: nothing to send
    assert renderer.refresh(emu.screen, True) == []
    # output scrolls under the overlay: rows above move, the overlay stays
    emu.feed(b"\r\nmore\r\nand more")
    renderer.refresh(emu.screen, True)
    assert (renderer.pixels[3 * ch :] == bottom).all()
    renderer.set_overlay(None)
    spans = renderer.refresh(emu.screen, True)
    assert {s.row for s in spans} == {3}
    fresh = TerminalRenderer(font, 20, 4)
    emu.screen.dirty.update(range(4))
    fresh.refresh(emu.screen, True)
    assert (renderer.pixels == fresh.pixels).all()


# -- end to end: a console down for many backoff rounds, seen by noVNC ------------------------


class OneShotSerial:
    """A unix socket standing in for a QEMU serial chardev: it serves one client ``payload``,
    then goes away (socket file and all), as a QEMU that died would."""

    def __init__(self, path: Path, payload: bytes, linger: bool = False) -> None:
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.conn: socket.socket | None = None
        self.linger = linger
        self.thread = threading.Thread(target=self._serve, args=(payload,), daemon=True)
        self.thread.start()

    def _serve(self, payload: bytes) -> None:
        self.conn, _ = self.server.accept()
        self.conn.sendall(payload)
        if not self.linger:
            time.sleep(0.3)
            self.close()

    def close(self) -> None:
        if self.path.exists():
            os.unlink(self.path)
        self.server.close()
        if self.conn is not None:
            self.conn.close()


@pytest.fixture
def fast_reconnected(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(session_module, "RECONNECTED_TTL", 0.5)
    yield


def own_rendering(vt: RunningVncterm) -> np.ndarray:
    """The terminal drawn by a renderer of its own: what the screen holds, no status row."""
    assert vt.server is not None
    session = vt.server.session

    def draw() -> np.ndarray:
        session.refresh()
        real = session.renderer
        fresh = TerminalRenderer(real.font, real.cols, real.rows, real.bold_is_bright)
        session.emulator.screen.dirty.update(range(real.rows))
        fresh.refresh(session.emulator.screen, session.view.cursor_visible())
        return fresh.pixels.copy()

    return vt.call(draw)


def test_a_console_down_for_many_rounds_keeps_its_last_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fast_reconnected: None
) -> None:
    path = tmp_path / "ttyS0.sock"
    boot = b"".join(b"boot line %d\r\n" % i for i in range(40))
    OneShotSerial(path, boot + b"Kernel panic - not syncing: the last words\r\n")
    caplog.set_level(logging.INFO, logger="vncterm")
    log = tmp_path / "console.log"
    with (
        RunningVncterm([], console=ConsoleSpec("unix", str(path)), log_path=str(log)) as vt,
        NoVncClient() as viewer,
    ):
        assert vt.server is not None
        console, session = vt.server.console, vt.server.session

        def faster() -> None:
            console.min_backoff = console.max_backoff = 0.02  # type: ignore[attr-defined]

        vt.call(faster)
        vt.wait_text("the last words")
        viewer.connect("127.0.0.1", vt.port, quality=None)
        # many rounds of reconnecting while nobody is there
        deadline = time.monotonic() + 30
        while sum("reconnecting in" in r.getMessage() for r in caplog.records) < 60:
            assert time.monotonic() < deadline, "vncterm stopped retrying"
            time.sleep(0.1)
        status = vt.call(session.status.text)
        assert status is not None and "reconnecting in" in status

        # the terminal holds only what the console sent
        def history() -> list[str]:
            rows = [row.string() for row in session.emulator.scrollback]
            return rows + session.emulator.text()

        lines = vt.call(history)
        assert not any("reconnecting" in line or "vncterm" in line for line in lines), lines
        assert any("the last words" in line for line in lines)
        # noVNC sees the status row over the bottom row, the rest as the terminal draws it
        assert wait_until_equal(viewer, vt.framebuffer, timeout=10)
        shown, own = viewer.capture(), own_rendering(vt)
        ch = vt.call(lambda: session.renderer.cell_h)
        assert (shown[:-ch] == own[:-ch]).all()
        assert (shown[-ch:] != own[-ch:]).any()
        assert (shown[-ch:] == OVERLAY_BG).mean() > 0.3

        # the console is back: "connected" for a moment, then the row is the terminal's again
        back = OneShotSerial(path, b"back again\r\n", linger=True)
        try:
            vt.wait_text("back again")
            deadline = time.monotonic() + 10
            while vt.call(session.status.text) is not None:
                assert time.monotonic() < deadline, "the status row never went away"
                time.sleep(0.05)
            assert wait_until_equal(viewer, lambda: own_rendering(vt), timeout=10)
            assert any("the last words" in line for line in vt.call(history))
            # --log holds what the console sent, nothing of vncterm's
            assert (
                log.read_bytes()
                == boot + b"Kernel panic - not syncing: the last words\r\n" + b"back again\r\n"
            )
        finally:
            back.close()


def test_break_on_a_console_without_break_types_nothing(tmp_path: Path) -> None:
    """A command on a pty has no serial line: Break says so and its SysRq letter is dropped;
    the keys after it are typed as usual."""
    shell = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]
    with RunningVncterm(shell) as vt, NoVncClient() as viewer:
        assert vt.server is not None
        session = vt.server.session
        vt.wait_text("$")
        viewer.connect("127.0.0.1", vt.port, quality=None)
        viewer.key(BREAK)
        viewer.type("h")
        viewer.type("echo after-$((4+5))\n")
        vt.wait_text("after-9")
        screen = "\n".join(vt.text())
        assert "hecho" not in screen and "$ echo after-" in screen, screen
        status = vt.call(session.status.text)
        assert status is not None and "BREAK not sent" in status
        assert wait_until_equal(viewer, vt.framebuffer, timeout=10)
        own = own_rendering(vt)
        ch = vt.call(lambda: session.renderer.cell_h)
        assert (viewer.capture()[-ch:] != own[-ch:]).any()
