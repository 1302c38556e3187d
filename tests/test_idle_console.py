"""A console without viewers holds no framebuffer, and shares its font and encode threads
(DESIGN.md, "Many consoles in one process")."""

from __future__ import annotations

import fcntl
import time

import numpy as np
import pytest
from harness import RunningVncterm
from peers import libvnc
from rawclient import RawClient

from vncterm.config import Config
from vncterm.render.renderer import TerminalRenderer
from vncterm.server.app import Server
from vncterm.server.session import Session

SCRIPT = "printf '\\033[1;31mred\\033[0m \\033[42mgreen\\033[0m idle\\n'; sleep 30"


def frame_bytes(session: Session) -> int:
    """Bytes of the renderer's framebuffer, cell colours and tile atlas."""
    r = session.renderer
    return sum(a.nbytes for a in (r.pixels, r.cell_fg, r.cell_bg, r._atlas))


def expected_screen(session: Session) -> np.ndarray:
    """The screen drawn by a renderer of its own (not the session's)."""
    r = session.renderer
    fresh = TerminalRenderer(r.font, r.cols, r.rows)
    fresh.resize(r.cols, r.rows, r.width, r.height)
    fresh.set_overlay(session.status.text())
    fresh.refresh(session.emulator.screen, session.view.cursor_visible())
    return fresh.pixels.copy()


def wait(what: str, predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.peer
def test_the_framebuffer_exists_only_while_a_viewer_watches() -> None:
    """Output, a resize and the status row arrive with no viewer: nothing is drawn; the first
    viewer (libvncclient) gets the exact screen; the last one leaving frees it again."""
    with RunningVncterm(["sh", "-c", SCRIPT]) as vt:
        assert vt.server is not None
        session = vt.server.session
        vt.wait_text("red green idle")
        vt.call(lambda: session.resize(60, 20))
        vt.call(lambda: session.notice("test", "nobody was watching", None))
        assert vt.call(lambda: frame_bytes(session)) == 0
        # the pty's pipe is the kernel's 64 KiB while the console is idle
        pipe = vt.server.console._pipes[0]  # type: ignore[attr-defined]
        assert fcntl.fcntl(pipe, fcntl.F_GETPIPE_SZ) == 65536
        expected = vt.call(lambda: expected_screen(session))
        assert expected.shape == (20 * session.renderer.cell_h, 60 * session.renderer.cell_w)
        got = libvnc.capture("127.0.0.1", vt.port, encodings=("tight", "zrle", "raw"))
        assert got.shape == expected.shape
        assert (got == expected).all()
        wait("libvncclient left", lambda: not vt.call(lambda: session.viewers))
        assert vt.call(lambda: frame_bytes(session)) == 0
        client = RawClient("127.0.0.1", vt.port)
        wait("attached", lambda: vt.call(lambda: bool(session.viewers)))
        assert vt.call(lambda: frame_bytes(session)) >= expected.nbytes
        client.close()
        wait("framebuffer freed", lambda: vt.call(lambda: frame_bytes(session)) == 0)


@pytest.mark.unit
def test_consoles_of_one_process_share_the_font_and_encode_threads() -> None:
    a = Server(Config(command=["sleep", "1"]))
    b = Server(Config(command=["sleep", "1"]))
    c = Server(Config(command=["sleep", "1"], font_size=30))
    assert a.renderer.font is b.renderer.font
    assert c.renderer.font is not a.renderer.font
    assert a.session.executor is b.session.executor
    assert frame_bytes(a.session) == 0  # and no framebuffer before any viewer
