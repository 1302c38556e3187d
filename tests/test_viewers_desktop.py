"""Desktop viewers: TigerVNC's vncviewer and gtk-vnc (the widget of virt-viewer and
virt-manager) show vncterm pixel for pixel, and what is typed into them reaches the shell.

The viewers run on an Xvnc display, which only hosts their windows; the screen is read back with
``xwd`` and must hold vncterm's own framebuffer exactly, wherever the viewer put it (gvncviewer
has a menu bar above it). Keys go in through XTEST (``xdotool``), so they travel the viewer's
real key handling (gtk-vnc sends QEMU extended key events). Each viewer chooses its own
encodings (TigerVNC: Tight, ContinuousUpdates and Fence; also forced to ZRLE). TigerVNC's window
is also resized, which it turns into SetDesktopSize. Under a Russian keyboard layout
(``setxkbmap ru``) TigerVNC sends legacy X11 keysyms for Cyrillic, Greek, Polish and the Euro
sign, and the shell gets them as UTF-8. A command selected in an xterm beside TigerVNC's
window reaches vncterm when the viewer gets focus and is typed only on a paste.

Needs: apt tigervnc-viewer gvncviewer xdotool tigervnc-standalone-server x11-apps xterm
(tests/run).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import NON_LATIN1, NON_LATIN1_KEYSYMS, SHELL
from harness import RunningVncterm
from peers.xvnc import XvncServer

from vncterm.config import ListenAddress

pytestmark = pytest.mark.peer

TIGHT, ZRLE = 7, 16

#: How to start each viewer on vncterm's ``port`` (gvncviewer takes a display number), and the
#: encoding it should ask for first.
VIEWERS: dict[str, tuple[Callable[[int], list[str]], int]] = {
    "tigervnc": (
        lambda port: ["xtigervncviewer", "-SecurityTypes", "None", f"127.0.0.1::{port}"],
        TIGHT,
    ),
    "tigervnc-zrle": (
        lambda port: [
            "xtigervncviewer",
            "-SecurityTypes",
            "None",
            "-AutoSelect=0",
            "-PreferredEncoding=ZRLE",
            f"127.0.0.1::{port}",
        ],
        ZRLE,
    ),
    "gtk-vnc": (lambda port: ["gvncviewer", f"127.0.0.1:{port - 5900}"], TIGHT),
}

CONTENT = (
    b"printf '\\033[1;31mbold red\\033[0m \\033[30;42m on green \\033[0m "
    b"\\342\\224\\214\\342\\224\\200\\342\\224\\220 \\346\\274\\242\\345\\255\\227 "
    b"\\033[4munderlined\\033[0m\\n'; ls -l /usr | head -8\n"
)


def free_display_port() -> int:
    """A free TCP port from 5910 up (gvncviewer only takes 5900 + display numbers)."""
    for port in range(5910, 6900):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 5910..6899")


def locate(
    shot: np.ndarray, fb: np.ndarray, max_x: int = 64, max_y: int = 128
) -> tuple[int, int] | None:
    """Where ``fb`` sits, exactly, in the screenshot (searching the top-left corner)."""
    h, w = fb.shape
    for y0 in range(min(max_y, shot.shape[0] - h) + 1):
        for x0 in range(min(max_x, shot.shape[1] - w) + 1):
            if (shot[y0, x0 : x0 + w] == fb[0]).all() and (
                shot[y0 : y0 + h, x0 : x0 + w] == fb
            ).all():
                return x0, y0
    return None


def wait_shown(
    x: XvncServer, vt: RunningVncterm, what: str, timeout: float = 20.0
) -> tuple[int, int]:
    """Wait until the viewer shows vncterm's framebuffer exactly; where it is."""
    deadline = time.monotonic() + timeout
    while True:
        fb = vt.framebuffer()
        shot = x.screenshot()
        at = locate(shot, fb)
        if at is not None:
            return at
        if time.monotonic() > deadline:
            h, w = fb.shape
            best = min(int((shot[:h, :w] != fb).sum()), int((shot[25 : 25 + h, :w] != fb).sum()))
            raise AssertionError(
                f"{what}: the viewer never showed vncterm's {w}x{h} screen "
                f"exactly ({best} pixels differ at the likeliest place)"
            )
        time.sleep(0.2)


def wait_line(vt: RunningVncterm, line: str, what: str, timeout: float = 15.0) -> None:
    """Wait until a screen line is exactly ``line`` (the output, not the command echo)."""
    deadline = time.monotonic() + timeout
    while line not in (text.strip() for text in vt.text()):
        assert time.monotonic() < deadline, f"{what}: never showed {line!r}: {vt.text()}"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_desktop_viewer_shows_the_terminal_exactly_and_types_into_it(viewer: str) -> None:
    port = free_display_port()
    with RunningVncterm(SHELL, listen=[ListenAddress("127.0.0.1", port)], name="viewer test") as vt:
        vt.write_console(CONTENT)
        vt.wait_text("underlined")
        with XvncServer(geometry=(1024, 640)) as x:
            argv, encoding = VIEWERS[viewer]
            x.spawn(*argv(port))
            x0, y0 = wait_shown(x, vt, f"{viewer}, first screen")
            assert vt.server is not None
            session = vt.server.session
            chosen = vt.call(lambda: [v.manager.preferred[:1] for v in session.viewers])
            assert chosen == [[encoding]], f"{viewer} asked for {chosen}"
            # keys through the viewer: XTEST, with its window focused (there is no window
            # manager to do it) and the pointer over it
            x.run("xdotool", "search", "--name", "viewer test", "windowfocus", "--sync")
            x.run("xdotool", "mousemove", str(x0 + 200), str(y0 + 200))
            token = f"typed-{viewer}"
            for command, shows in ((f"echo {token}", token), ("seq 1 40", "40")):
                x.run("xdotool", "type", "--delay", "15", command)
                x.run("xdotool", "key", "Return")
                wait_line(vt, shows, f"{viewer}: {command!r} typed into the viewer")
            # the screen scrolled (CopyRect where the viewer takes it): still exact
            assert wait_shown(x, vt, f"{viewer}, after typing and scrolling") == (x0, y0)
            if viewer.startswith("tigervnc"):
                # its window resized: it asks for that size (SetDesktopSize), the terminal
                # follows in whole cells, and the program is told
                x.run(
                    "xdotool",
                    "search",
                    "--name",
                    "viewer test",
                    "windowsize",
                    "--sync",
                    "900",
                    "540",
                )
                deadline = time.monotonic() + 15
                while vt.framebuffer().shape != (540, 900):
                    assert time.monotonic() < deadline, f"{viewer}: no resize to 900x540"
                    time.sleep(0.1)
                wait_shown(x, vt, f"{viewer}, after its window was resized")
                x.run("xdotool", "type", "--delay", "15", "stty size")
                x.run("xdotool", "key", "Return")
                wait_line(vt, "30 100", f"{viewer}: stty size after the resize")


def test_tigervnc_under_a_russian_layout_types_characters_beyond_latin1(
    tmp_path: Path, keysyms_pressed: list[int]
) -> None:
    port = free_display_port()
    out = tmp_path / "typed"
    with RunningVncterm(SHELL, listen=[ListenAddress("127.0.0.1", port)], name="viewer test") as vt:
        vt.wait_text("$")
        with XvncServer(geometry=(1024, 640)) as x:
            x.spawn(*VIEWERS["tigervnc"][0](port))
            x0, y0 = wait_shown(x, vt, "tigervnc, first screen")
            x.run("xdotool", "search", "--name", "viewer test", "windowfocus", "--sync")
            x.run("xdotool", "mousemove", str(x0 + 200), str(y0 + 200))
            x.run("xdotool", "type", "--delay", "15", f"cat > {out}")
            x.run("xdotool", "key", "Return")
            vt.wait_text(f"cat > {out}")
            # Cyrillic from the layout's own keys; the others by their keysym names, which
            # xdotool binds to spare keycodes (its ``type`` would bind Unicode keysyms)
            x.run("setxkbmap", "-layout", "ru")
            x.run("xdotool", "key", "--delay", "15", "EuroSign", "space")
            x.run("xdotool", "type", "--delay", "15", "Жук")
            x.run(
                "xdotool",
                "key",
                "--delay",
                "15",
                "space",
                "Greek_alpha",
                "Greek_beta",
                "space",
                "lstroke",
                "Return",
            )
            want = (NON_LATIN1 + "\n").encode()
            deadline = time.monotonic() + 15
            while not out.exists() or out.read_bytes() != want:
                got = out.read_bytes() if out.exists() else None
                assert time.monotonic() < deadline, f"the shell got {got!r}, not {want!r}"
                time.sleep(0.1)
    assert NON_LATIN1_KEYSYMS <= set(keysyms_pressed), " ".join(hex(k) for k in keysyms_pressed)


def test_tigervnc_sends_the_selection_on_focus_but_only_a_paste_types_it() -> None:
    """The reproduction: a command selected in a local terminal, then a click into TigerVNC's
    window. TigerVNC sends the selection when it gets focus; vncterm keeps it and types it only
    on that viewer's paste (Shift+Insert, then the middle button)."""
    port = free_display_port()
    command = "echo PWNED-$((40+2))"
    with RunningVncterm(SHELL, listen=[ListenAddress("127.0.0.1", port)], name="paste test") as vt:
        vt.wait_text("$")
        assert vt.server is not None
        session = vt.server.session
        with XvncServer(geometry=(1100, 640)) as x:
            # the local terminal, right of where the viewer's window will be
            x.spawn(
                "xterm",
                "-geometry",
                "30x4+780+20",
                "-title",
                "local terminal",
                "-e",
                "sh",
                "-c",
                f"echo '{command}'; sleep 600",
            )
            x.run("xdotool", "search", "--sync", "--name", "local terminal")
            argv, _ = VIEWERS["tigervnc"]
            x.spawn(*argv(port))
            x0, y0 = wait_shown(x, vt, "tigervnc, first screen")
            # select the command in the local terminal (a triple click takes the line)
            x.run("xdotool", "search", "--name", "local terminal", "windowfocus", "--sync")
            x.run(
                "xdotool", "mousemove", "800", "30", "click", "--repeat", "3", "--delay", "80", "1"
            )
            # then into the viewer: it sends the selection
            x.run("xdotool", "search", "--name", "paste test", "windowfocus", "--sync")
            x.run("xdotool", "mousemove", str(x0 + 200), str(y0 + 200))
            deadline = time.monotonic() + 15
            while not any(
                text is not None and command in text
                for text in vt.call(lambda: [v.clipboard.text for v in session.viewers])
            ):
                assert time.monotonic() < deadline, "TigerVNC never sent the selection"
                time.sleep(0.1)
            x.run("xdotool", "type", "--delay", "15", "echo focused-$((1+1))")
            x.run("xdotool", "key", "Return")
            wait_line(vt, "focused-2", "tigervnc: typed after the focus")
            assert not any("PWNED" in line for line in vt.text()), vt.text()
            # the viewer's own paste types it
            x.run("xdotool", "key", "shift+Insert")
            wait_line(vt, "PWNED-42", "tigervnc: Shift+Insert")
            x.run("xdotool", "type", "--delay", "15", "clear; echo cleared-$((2+2))")
            x.run("xdotool", "key", "Return")
            wait_line(vt, "cleared-4", "tigervnc: cleared")
            assert not any("PWNED" in line for line in vt.text()), vt.text()
            x.run("xdotool", "click", "2")
            wait_line(vt, "PWNED-42", "tigervnc: middle click")
