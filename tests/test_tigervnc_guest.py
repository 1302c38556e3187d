"""TigerVNC's viewer on an Xvnc display, driven through XTEST, on the real guest (Debian's kernel
and busybox under QEMU, a telnet unix chardev): Ctrl+Shift+B then h is Magic SysRq, Ctrl+Shift+F
searches what the kernel printed, and resizing TigerVNC's window tells the guest its new size
(``--allow-resize --tell-size``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import RunningVncterm
from peers.qemu_guest import QemuGuest, Serial
from peers.xvnc import XvncServer
from test_viewers_desktop import VIEWERS, free_display_port, wait_line, wait_shown

from vncterm.config import ConsoleSpec, ListenAddress

pytestmark = [pytest.mark.peer, pytest.mark.slow]

BOOT = 120.0


def wait_for(what: str, predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_tigervnc_sysrq_search_and_tell_size_on_the_guest(tmp_path: Path) -> None:
    serial = tmp_path / "ttyS0.sock"
    port = free_display_port()
    with (
        QemuGuest(tmp_path / "vm", [Serial.unix(serial, telnet=True)], monitor=False),
        RunningVncterm(
            [],
            console=ConsoleSpec("unix", str(serial), telnet=True),
            listen=[ListenAddress("127.0.0.1", port)],
            name="tigervnc guest",
            allow_resize=True,
            tell_size=True,
        ) as vt,
        XvncServer(geometry=(1024, 640)) as x,
    ):
        assert vt.server is not None
        session = vt.server.session
        vt.wait_text("guest:", timeout=BOOT)
        x.spawn(*VIEWERS["tigervnc"][0](port))
        x0, y0 = wait_shown(x, vt, "tigervnc on the guest")
        x.run("xdotool", "search", "--name", "tigervnc guest", "windowfocus", "--sync")
        x.run("xdotool", "mousemove", str(x0 + 200), str(y0 + 200))
        # Magic SysRq from TigerVNC: Ctrl+Shift+B, then h
        x.run("xdotool", "key", "ctrl+shift+b")
        x.run("xdotool", "type", "h")
        vt.wait_text("sysrq: HELP", timeout=30)
        # search what the kernel printed, then back to the live screen
        x.run("xdotool", "key", "ctrl+shift+f")
        x.run("xdotool", "type", "--delay", "15", "SYSRQ: help")
        wait_for(
            "the search to find the kernel's line",
            lambda: vt.call(session.terminal.view.selected_text) == "sysrq: HELP",
        )
        assert wait_shown(x, vt, "tigervnc showing the match") == (x0, y0)
        x.run("xdotool", "key", "Escape")
        wait_for("the search to close", lambda: not vt.call(lambda: session.search.active))
        # a fresh prompt, then TigerVNC's window resized: the terminal follows (SetDesktopSize)
        # and vncterm tells the guest at its quiet prompt
        x.run("xdotool", "key", "Return")
        x.run("xdotool", "search", "--name", "tigervnc guest", "windowsize", "--sync", "900", "540")
        wait_for("a resize to 900x540", lambda: vt.framebuffer().shape == (540, 900))
        cols, rows = vt.call(lambda: (vt.server.emulator.cols, vt.server.emulator.rows))  # type: ignore[union-attr]
        wait_for(
            "vncterm to type stty",
            lambda: any(f"stty rows {rows} cols {cols}" in line for line in vt.text()),
        )
        x.run("xdotool", "type", "--delay", "15", "stty size")
        x.run("xdotool", "key", "Return")
        wait_line(vt, f"{rows} {cols}", "stty size in the guest after the resize")
