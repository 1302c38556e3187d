"""One port for the guest's desktop and its console: Xvnc connects to vncterm in reverse, viewers
switch with Ctrl-Alt-1 / Ctrl-Alt-2, and every viewer stays pixel-exact on its own encoding."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from desktop_scripts import handshake
from harness import RunningVncterm
from peers.common import wait_until_equal
from peers.novnc_client import NoVncClient
from peers.xvnc import XvncServer
from rawclient import RawClient

from vncterm.config import ListenAddress
from vncterm.render.renderer import OVERLAY_BG

pytestmark = pytest.mark.peer

CTRL, ALT = 0xFFE3, 0xFFE9
ONE, TWO, F1, F7 = 0x31, 0x32, 0xFFBE, 0xFFC4
SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def combo(viewer: NoVncClient, keysym: int) -> None:
    for k in (CTRL, ALT):
        viewer.key(k, True)
    viewer.key(keysym, True)
    viewer.key(keysym, False)
    for k in (ALT, CTRL):
        viewer.key(k, False)


@pytest.fixture
def xvnc() -> Iterator[XvncServer]:
    with XvncServer((400, 240)) as server:
        server.run("xsetroot", "-solid", "#2a6041")
        server.spawn(
            "xterm",
            "-geometry",
            "30x6+20+30",
            "-fn",
            "fixed",
            "-bg",
            "navy",
            "-fg",
            "white",
            "-e",
            "sh",
            "-c",
            "echo desktop says hello; sleep 600",
        )
        time.sleep(1.0)
        yield server


def test_reverse_desktop_switching_keeps_two_viewers_exact(xvnc: XvncServer) -> None:
    with (
        RunningVncterm(SHELL, reverse_listen=ListenAddress("127.0.0.1", 0)) as vt,
        NoVncClient() as tight,
        NoVncClient() as zrle,
    ):
        vt.wait_text("$")
        assert vt.server is not None and vt.server.desktop_link is not None
        listener = vt.server.desktop_link.listener
        assert listener is not None
        tight.connect("127.0.0.1", vt.port, encodings=["tight"], quality=None)
        zrle.connect("127.0.0.1", vt.port, encodings=["zrle"], quality=None)
        session = vt.server.session

        def desktop_fb() -> np.ndarray:
            return vt.call(lambda: session.desktop.conn.framebuffer.copy())  # type: ignore[union-attr]

        # the guest's X server connects back: every viewer switches to its desktop
        subprocess.run(
            ["vncconfig", "-display", xvnc.display, "-connect", f"127.0.0.1:{listener.port}"],
            check=True,
            timeout=20,
        )
        for viewer in (tight, zrle):
            viewer.wait_for("resize", 20, predicate=lambda e: e["width"] == 400)
        tight.pointer(200, 120, 0)  # our pointer, so Xvnc keeps its cursor out of the pixels
        deadline = time.monotonic() + 20
        while not (desktop_fb() == xvnc.screenshot()).all():
            assert time.monotonic() < deadline, "the proxied desktop never matched xwd -root"
            time.sleep(0.2)
        for viewer in (tight, zrle):
            assert wait_until_equal(viewer, xvnc.screenshot(), timeout=10)
        tight.type("echo console-$((20+1))\n")  # no effect on the console: keys go to X
        # each viewer switches for itself, back and forth
        for i in range(20):
            for viewer, to_console in ((tight, ONE if i % 2 else F1), (zrle, ONE)):
                combo(viewer, to_console)
            for viewer in (tight, zrle):
                assert wait_until_equal(viewer, vt.framebuffer, timeout=10), f"console {i}"
            if i == 0:
                tight.type("echo on-console-$((6*7))\n")
                vt.wait_text("on-console-42")
                for viewer in (tight, zrle):
                    assert wait_until_equal(viewer, vt.framebuffer, timeout=10)
            for viewer, to_desktop in ((tight, TWO if i % 2 else F7), (zrle, TWO)):
                combo(viewer, to_desktop)
            for viewer in (tight, zrle):
                assert wait_until_equal(viewer, desktop_fb, timeout=10), f"desktop {i}"
        assert "console-21" not in "\n".join(vt.text())
        # the desktop goes away: everyone is back on the console
        xvnc.stop()
        for viewer in (tight, zrle):
            viewer.wait_for("resize", 20, predicate=lambda e: e["width"] == 720)
            assert wait_until_equal(viewer, vt.framebuffer, timeout=10)


def test_connecting_out_to_a_desktop(xvnc: XvncServer) -> None:
    desktop = ListenAddress("127.0.0.1", xvnc.port)
    with RunningVncterm(SHELL, desktop=desktop) as vt, NoVncClient() as viewer:
        assert vt.server is not None
        session = vt.server.session
        deadline = time.monotonic() + 20
        while vt.call(lambda: session.desktop) is None:
            assert time.monotonic() < deadline, "vncterm never attached the desktop"
            time.sleep(0.1)
        viewer.connect("127.0.0.1", vt.port, quality=None)  # a new viewer starts on it
        viewer.pointer(200, 120, 0)
        assert wait_until_equal(viewer, xvnc.screenshot, timeout=20)


def test_a_returning_desktop_leaves_viewers_that_chose_the_console(xvnc: XvncServer) -> None:
    """Ctrl-Alt-1 is a choice: when the desktop drops and connects again, a viewer that chose
    the console stays there while a viewer that chose nothing follows the desktop."""
    with (
        RunningVncterm(SHELL, reverse_listen=ListenAddress("127.0.0.1", 0)) as vt,
        NoVncClient() as chooser,
        NoVncClient() as follower,
    ):
        vt.wait_text("$")
        assert vt.server is not None and vt.server.desktop_link is not None
        listener = vt.server.desktop_link.listener
        assert listener is not None
        session = vt.server.session
        connect = ["vncconfig", "-display", xvnc.display, "-connect", f"127.0.0.1:{listener.port}"]
        for viewer in (chooser, follower):
            viewer.connect("127.0.0.1", vt.port, quality=None)
        subprocess.run(connect, check=True, timeout=20)
        for viewer in (chooser, follower):
            viewer.wait_for("resize", 20, predicate=lambda e: e["width"] == 400)
        mark = len(chooser.events)
        combo(chooser, ONE)
        chooser.wait_for("resize", 20, predicate=lambda e: e["width"] == 720, start=mark)
        # the desktop drops: both are on the console
        mark = len(follower.events)
        subprocess.run(
            ["vncconfig", "-display", xvnc.display, "-disconnect"], check=True, timeout=20
        )
        follower.wait_for("resize", 20, predicate=lambda e: e["width"] == 720, start=mark)
        deadline = time.monotonic() + 20
        while vt.call(lambda: session.desktop) is not None:
            assert time.monotonic() < deadline, "vncterm never noticed the desktop leave"
            time.sleep(0.1)
        # ... and comes back: only the viewer that chose nothing follows it
        resizes = len(chooser.events_named("resize"))
        mark = len(follower.events)
        subprocess.run(connect, check=True, timeout=20)
        follower.wait_for("resize", 20, predicate=lambda e: e["width"] == 400, start=mark)
        desktop = vt.call(lambda: session.desktop)
        assert desktop is not None
        shown = vt.call(lambda: [v.source for v in session.viewers])
        assert shown.count(desktop) == 1 and shown.count(session.terminal) == 1
        assert wait_until_equal(chooser, vt.framebuffer, timeout=10)
        assert len(chooser.events_named("resize")) == resizes
        # the choice can be changed back: Ctrl-Alt-2 follows the desktop again
        mark = len(chooser.events)
        combo(chooser, TWO)
        chooser.wait_for("resize", 20, predicate=lambda e: e["width"] == 400, start=mark)
        assert wait_until_equal(
            chooser, lambda: vt.call(lambda: desktop.conn.framebuffer.copy()), timeout=10
        )


def test_the_status_row_is_drawn_over_the_desktop_too(xvnc: XvncServer) -> None:
    """vncterm's messages reach a viewer that shows the desktop: over its bottom, at the
    desktop's width, and the desktop's own pixels come back when the message goes."""
    with (
        RunningVncterm(SHELL, reverse_listen=ListenAddress("127.0.0.1", 0)) as vt,
        NoVncClient() as viewer,
    ):
        vt.wait_text("$")
        assert vt.server is not None and vt.server.desktop_link is not None
        listener = vt.server.desktop_link.listener
        assert listener is not None
        session = vt.server.session
        viewer.connect("127.0.0.1", vt.port, quality=None)
        subprocess.run(
            ["vncconfig", "-display", xvnc.display, "-connect", f"127.0.0.1:{listener.port}"],
            check=True,
            timeout=20,
        )
        viewer.wait_for("resize", 20, predicate=lambda e: e["width"] == 400)
        viewer.pointer(200, 120, 0)

        def desktop_fb() -> np.ndarray:
            return vt.call(lambda: session.desktop.conn.framebuffer.copy())  # type: ignore[union-attr]

        assert wait_until_equal(viewer, desktop_fb, timeout=10)
        ch = vt.call(lambda: session.renderer.cell_h)
        vt.call(lambda: session.status.show("test", "a message from vncterm"))
        deadline = time.monotonic() + 10
        while True:
            shown, fb = viewer.capture(), desktop_fb()
            if (shown[-ch:] == OVERLAY_BG).mean() > 0.3:
                break
            assert time.monotonic() < deadline, "the status row never reached the viewer"
            time.sleep(0.1)
        assert (shown[:-ch] == fb[:-ch]).all()
        assert (shown[-ch:] != fb[-ch:]).any()
        assert (fb[-ch:] != OVERLAY_BG).all()  # the desktop's own pixels are untouched
        vt.call(lambda: session.status.clear("test"))
        assert wait_until_equal(viewer, desktop_fb, timeout=10)


def test_one_reverse_desktop_at_a_time_audited(xvnc: XvncServer, tmp_path: Path) -> None:
    """While Xvnc's desktop is attached, another desktop connecting in reverse is closed at
    once, unread: it cannot wait to take over (and get the operator's keys) when the real one
    drops. Arrivals, the refusal, departures and viewer switches are audited."""
    audit = tmp_path / "audit.jsonl"
    with RunningVncterm(
        SHELL, reverse_listen=ListenAddress("127.0.0.1", 0), audit_log=str(audit)
    ) as vt:
        vt.wait_text("$")
        assert vt.server is not None and vt.server.desktop_link is not None
        listener = vt.server.desktop_link.listener
        assert listener is not None
        session = vt.server.session
        viewer = RawClient("127.0.0.1", vt.port)
        viewer.update(incremental=False)
        subprocess.run(
            ["vncconfig", "-display", xvnc.display, "-connect", f"127.0.0.1:{listener.port}"],
            check=True,
            timeout=20,
        )
        deadline = time.monotonic() + 20
        while vt.call(lambda: session.desktop) is None:
            assert time.monotonic() < deadline, "the reverse desktop never attached"
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as fake:
            fake.sendall(handshake(name=b"fake desktop"))
            try:
                answer = fake.recv(4096)
            except ConnectionResetError:  # closed with our handshake unread
                answer = b""
            assert answer == b""  # no ProtocolVersion back: refused before any handshake
        xvnc.stop()
        deadline = time.monotonic() + 20
        while vt.call(lambda: session.desktop) is not None:
            assert time.monotonic() < deadline, "the desktop never went away"
            time.sleep(0.1)
        time.sleep(0.5)
        assert vt.call(lambda: session.desktop) is None  # nothing queued took over
        viewer.close()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    desktop = [
        (r["event"], r.get("reason", "")) for r in records if r["event"].startswith("desktop_")
    ]
    assert [e for e, _ in desktop] == ["desktop_attached", "desktop_refused", "desktop_gone"]
    assert "one desktop at a time" in desktop[1][1]
    switches = [r["showing"] for r in records if r["event"] == "switch"]
    assert switches[0].startswith("desktop") and switches[-1] == "console"
