"""Issue 17's proof with real viewers: one vncterm host serving several consoles (a shell, a
QEMU guest's serial socket, a command that floods), each on its own port handed out from the
port range and by name on the shared WebSocket listener.

Proves: noVNC in Chromium shows each console pixel for pixel on its port and at ``/NAME`` and
types into that console only, a wrong name is refused with 404; TigerVNC's viewer shows two
consoles at once, each exactly (that screenshot is docs/host-tigervnc.png); consoles added and
removed at run time leave the other consoles' viewers connected and updating, close the removed
console's viewers, and the new one answers on its port and by name; a flood on one console and a
backend that goes away never stop another console's key echo; a console whose program exits is
restarted under ``restart = true`` (its viewer stays and sees the new run, at the size the
viewer chose, on a terminal without the modes the last run left on) and otherwise stays listed
as ``exited N`` with its viewer, even among more programs than the loop's thread pool has
threads. The real thing too: ``vncterm --config FILE`` edited and SIGHUP (or several in a row)
under connected noVNC viewers, checked with ``vncterm --list --json``; a console removed while it
is still being added leaves no program and no port.

One QEMU guest and one in-process host serve most of the module (the guest boots once).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import SHELL
from host_harness import ConsoleView, RunningHost
from peers.common import wait_until_equal
from peers.novnc_client import NoVncClient
from peers.qemu_guest import QemuGuest, Serial
from peers.xvnc import XvncServer
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from test_browser import browser, events, page_url, wait_event, wait_same_pixels  # noqa: F401
from test_viewers_desktop import locate, wait_line
from wsclient import HandshakeRefused, WebSocketSocket, WsRawClient

from vncterm.config import Config, ConsoleSpec, HostConfig, ListenAddress
from vncterm.server.console_service import ConsoleService
from vncterm.server.logcontext import ConsoleLabel

pytestmark = pytest.mark.peer

HOST = "127.0.0.1"
BOOT = 120.0  # seconds: TCG boots in ~7 s on an idle machine; CI may be busy
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "host-tigervnc.png"
#: A command that floods (about 1.3 MB), then a shell to flood again on demand.
VNCTERM = [sys.executable, "-m", "vncterm"]
FLOOD = ["/bin/sh", "-c", "seq 1 200000; PS1='$ ' exec /bin/sh -i"]


def free_port_range(count: int = 24) -> tuple[int, int]:
    """``count`` consecutive ports that are free right now (the host's ``port_range``)."""
    for _ in range(200):
        low = random.randrange(20000, 60000 - count)
        ok = True
        for port in range(low, low + count):
            with socket.socket() as s:
                try:
                    s.bind((HOST, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return low, low + count - 1
    raise RuntimeError("no free port range")


def shell(name: str) -> Config:
    """A shell console with a port from the range; its desktop name is ``name`` (the window
    title of desktop viewers)."""
    return Config(command=SHELL, listen=[], name=name)


@pytest.fixture(scope="module")
def guest_serial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One QEMU guest for the module; the unix socket of its serial console."""
    work = tmp_path_factory.mktemp("host-guest")
    serial = work / "ttyS0.sock"
    with QemuGuest(work / "vm", [Serial.unix(serial)], monitor=False):
        yield serial


@pytest.fixture(scope="module")
def fleet(guest_serial: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    """The host: consoles ``shell``, ``guest`` (the guest's serial socket) and ``flood``, every
    port from the range, a shared WebSocket listener, its control socket."""
    state = tmp_path_factory.mktemp("host-state") / "state"
    config = HostConfig(
        consoles={
            "shell": shell("shell console"),
            "guest": Config(
                command=[],
                console=ConsoleSpec("unix", str(guest_serial)),
                listen=[],
                name="guest console",
            ),
            "flood": Config(command=FLOOD, listen=[], name="flood console"),
        },
        state_dir=str(state),
        port_range=free_port_range(),
        websocket=[ListenAddress(HOST, 0)],
    )
    with RunningHost(config) as host:
        host["shell"].wait_text("$")
        host["flood"].wait_text("200000", timeout=60)
        host["guest"].wait_text("guest:", timeout=BOOT)  # the guest shell's prompt
        yield host


def wait_prompt(view: ConsoleView, prompt: str = "$") -> None:
    """Clear the screen and wait for the prompt alone (a known screen for the next test). The
    input line is emptied first (^U): the terminal's answers to queries a flood of random bytes
    made (DECID, DA, DSR, ...) are typed into it, as in xterm, and so are the answers to those
    still on their way from the pty when ^C came: it is cleared again until they stop."""
    deadline = time.monotonic() + 30
    cleared = 0.0
    while not (view.text()[0].startswith(prompt) and not "".join(view.text()[1:]).strip()):
        assert time.monotonic() < deadline, f"{view.name}: {view.text()}"
        if time.monotonic() - cleared > 3:
            view.write_console(b"\x15clear\n")
            cleared = time.monotonic()
        time.sleep(0.1)


def novnc_on(view: ConsoleView) -> NoVncClient:
    """A noVNC (in Node) connected to the console's own port, showing it exactly."""
    viewer = NoVncClient()
    try:
        viewer.connect(HOST, view.port, quality=None)
        assert_shows(viewer, view)
    except BaseException:
        viewer.close()
        raise
    return viewer


def assert_shows(viewer: NoVncClient, view: ConsoleView, timeout: float = 15.0) -> None:
    diff = wait_until_equal(viewer, view.framebuffer, timeout=timeout)
    assert diff, f"viewer of {view.name}: {diff.describe()}"


def assert_connected(viewer: NoVncClient, what: str) -> None:
    assert not viewer.events_named("disconnected"), f"{what}: {viewer.events_named('disconnected')}"


# -- 1. each console on its port and by name, in Chromium ----------------------------------------


def type_in_page(driver: webdriver.Chrome, text: str) -> None:
    driver.execute_script("window.rfb.focus()")
    ActionChains(driver).send_keys(text).perform()


@pytest.mark.slow
def test_each_console_in_chromium_on_its_port_and_by_name(
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
    fleet: RunningHost,
) -> None:
    names = ("shell", "guest", "flood")
    ports = {name: fleet[name].port for name in names}
    assert len(set(ports.values())) == len(names), ports
    low, high = fleet.config.port_range
    assert all(low <= port <= high for port in ports.values()), ports
    for name in names:
        view = fleet[name]
        others = [fleet[n] for n in names if n != name]
        wait_prompt(view, "guest:" if name == "guest" else "$")
        for how, query in (
            ("port", f"host={HOST}&port={view.port}"),
            ("name", f"host={HOST}&port={fleet.websocket_port}&path={name}"),
        ):
            browser.get(f"{page_url}?{query}")
            wait_event(browser, "connect")
            wait_same_pixels(browser, view)
            token = f"{name}-by-{how}"
            type_in_page(browser, f"echo {token}-$((6*7))\n")
            wait_line(view, f"{token}-42", f"Chromium on {name} by {how}", timeout=60)
            wait_same_pixels(browser, view, timeout=20)
            for other in others:  # typed into that console only
                assert not any(token in line for line in other.text()), other.name
            browser.execute_script("window.rfb.disconnect()")
            assert wait_event(browser, "disconnect")["clean"]


def test_a_wrong_name_is_refused(
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
    fleet: RunningHost,
) -> None:
    for wrong in ("nosuch", "shell/extra", "Shell", "", "%2E%2E", "shell%00"):
        with pytest.raises(HandshakeRefused) as refused:
            WebSocketSocket(HOST, fleet.websocket_port, path=f"/{wrong}")
        assert refused.value.status == 404, wrong
    # noVNC in the browser: the socket never opens
    browser.get(f"{page_url}?host={HOST}&port={fleet.websocket_port}&path=nosuch")
    deadline = time.monotonic() + 15
    while not any(ev["event"] == "disconnect" for ev in events(browser)):
        assert time.monotonic() < deadline, events(browser)
        time.sleep(0.05)
    assert not any(ev["event"] == "connect" for ev in events(browser)), events(browser)
    # the right name on the same listener still answers
    client = WsRawClient(HOST, fleet.websocket_port, path="/shell")
    try:
        client.update(incremental=False)
        assert (client.fb == fleet["shell"].framebuffer()).all()
    finally:
        client.close()


def test_by_name_each_console_asks_for_its_own_password(
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
    fleet: RunningHost,
) -> None:
    """The shared WebSocket listener is each console's own door: a console with a password
    asks for it there, the others do not."""
    locked = fleet.add("locked", Config(command=SHELL, listen=[], password=b"sekrit"))
    try:
        locked.wait_text("$")
        ws = fleet.websocket_port
        browser.get(f"{page_url}?host={HOST}&port={ws}&path=locked&password=sekrit")
        wait_event(browser, "credentialsrequired")
        wait_event(browser, "connect")
        wait_same_pixels(browser, locked)
        browser.get(f"{page_url}?host={HOST}&port={ws}&path=locked&password=wrong")
        deadline = time.monotonic() + 15
        while not any(ev["event"] == "securityfailure" for ev in events(browser)):
            assert time.monotonic() < deadline, events(browser)
            time.sleep(0.05)
        assert not any(ev["event"] == "connect" for ev in events(browser)), events(browser)
        browser.get(f"{page_url}?host={HOST}&port={ws}&path=shell")
        wait_event(browser, "connect")
        assert not any(ev["event"] == "credentialsrequired" for ev in events(browser))
        wait_same_pixels(browser, fleet["shell"])
        browser.execute_script("window.rfb.disconnect()")
    finally:
        fleet.remove("locked")


# -- 2. TigerVNC on two consoles at once ---------------------------------------------------------


def tiger(port: int, x: int) -> list[str]:
    return ["xtigervncviewer", "-SecurityTypes", "None", "-geometry", f"+{x}+0", f"{HOST}::{port}"]


def wait_both_shown(
    x: XvncServer, views: list[tuple[ConsoleView, int]], what: str, timeout: float = 30.0
) -> np.ndarray:
    """Wait until each console shows exactly in the window placed at its x offset; the
    screenshot."""
    deadline = time.monotonic() + timeout
    while True:
        shot = x.screenshot()
        missing = [
            view.name for view, x0 in views if locate(shot[:, x0:], view.framebuffer()) is None
        ]
        if not missing:
            return shot
        assert time.monotonic() < deadline, f"{what}: TigerVNC never showed {missing} exactly"
        time.sleep(0.3)


def tiger_type(x: XvncServer, title: str, x0: int, text: str) -> None:
    x.run("xdotool", "search", "--name", title, "windowfocus", "--sync")
    x.run("xdotool", "mousemove", str(x0 + 200), "200")
    x.run("xdotool", "type", "--delay", "15", text)
    x.run("xdotool", "key", "Return")


def test_tigervnc_on_two_consoles_at_once(fleet: RunningHost) -> None:
    shell_view, guest_view = fleet["shell"], fleet["guest"]
    wait_prompt(shell_view)
    wait_prompt(guest_view, "guest:")
    width = shell_view.framebuffer().shape[1]
    right = width + 20
    views = [(shell_view, 0), (guest_view, right)]
    with XvncServer(geometry=(2 * right, shell_view.framebuffer().shape[0] + 40)) as x:
        x.spawn(*tiger(shell_view.port, 0))
        x.spawn(*tiger(guest_view.port, right))
        wait_both_shown(x, views, "first screens")
        tiger_type(x, "shell console", 0, "echo tiger-shell-$((6*7)); ls -F --color=always /usr")
        wait_line(shell_view, "tiger-shell-42", "TigerVNC on the shell")
        tiger_type(x, "guest console", right, "echo tiger-guest-$((6*7)); uname -sr; ls /")
        wait_line(guest_view, "tiger-guest-42", "TigerVNC on the guest", timeout=60)
        assert not any("tiger-guest" in line for line in shell_view.text())
        assert not any("tiger-shell" in line for line in guest_view.text())
        shot = wait_both_shown(x, views, "after typing into each")
        assert fleet.status("shell")["viewers"] == fleet.status("guest")["viewers"] == 1
    height = shell_view.framebuffer().shape[0]
    save_screenshot(shot[:height, :width], shot[:height, right : right + width])


def save_screenshot(left: np.ndarray, right: np.ndarray) -> None:
    """The two windows side by side, a grey bar between them: docs/host-tigervnc.png,
    rewritten only when its pixels change."""
    bar = np.full((left.shape[0], 6), 0x808080, dtype=np.uint32)
    rgb32 = np.hstack([left.astype(np.uint32), bar, right.astype(np.uint32)])
    rgb = np.stack([(rgb32 >> s) & 0xFF for s in (16, 8, 0)], axis=-1).astype(np.uint8)
    if SCREENSHOT.exists():
        with Image.open(SCREENSHOT) as old:
            if old.mode == "RGB" and np.array_equal(np.asarray(old), rgb):
                return
    SCREENSHOT.parent.mkdir(exist_ok=True)
    Image.fromarray(rgb, "RGB").save(SCREENSHOT, optimize=True)


# -- 3. consoles added and removed while viewers stay ---------------------------------------------


def test_console_added_and_removed_while_viewers_stay(fleet: RunningHost) -> None:
    shell_view = fleet["shell"]
    wait_prompt(shell_view)
    doomed = fleet.add("doomed", shell("doomed console"))
    doomed.wait_text("$")
    doomed_port = doomed.port
    doomed_by_name = WsRawClient(HOST, fleet.websocket_port, path="/doomed")
    with novnc_on(shell_view) as stays, novnc_on(doomed) as goes:
        newcomer = fleet.add("newcomer", shell("newcomer console"))
        try:
            newcomer.wait_text("$")
            with novnc_on(newcomer):  # on its port
                pass
            by_name = WsRawClient(HOST, fleet.websocket_port, path="/newcomer")
            try:
                by_name.update(incremental=False)
                assert (by_name.fb == newcomer.framebuffer()).all()
            finally:
                by_name.close()
            fleet.remove("doomed")
            goes.wait_for("disconnected", 10)
            assert_closed(doomed_by_name)  # its viewer by name too
            with pytest.raises(OSError):
                socket.create_connection((HOST, doomed_port), timeout=5).close()
            with pytest.raises(HandshakeRefused):
                WebSocketSocket(HOST, fleet.websocket_port, path="/doomed")
            # the untouched console's viewer: still connected, still updating
            stays.type("echo still-here-$((6*7))\n")
            wait_line(shell_view, "still-here-42", "the shell after the removal")
            assert_shows(stays, shell_view)
            assert_connected(stays, "the shell's viewer")
            listed = {c["name"]: c for c in fleet.listing()["consoles"]}
            assert "doomed" not in listed
            assert listed["newcomer"]["ports"] == [newcomer.port]
            assert listed["shell"]["viewers"] == 1
            # added again, the name gets its port back (kept in the state directory)
            again = fleet.add("doomed", shell("doomed console"))
            assert again.port == doomed_port
            fleet.remove("doomed")
        finally:
            fleet.remove("newcomer")
            doomed_by_name.close()


def assert_closed(client: WsRawClient, timeout: float = 10.0) -> None:
    """The server closes the viewer's WebSocket (whatever updates came before)."""
    client.sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while client.sock.recv(65536):
        assert time.monotonic() < deadline, "the viewer was never closed"


# -- 4. isolation: a flood and a backend gone ----------------------------------------------------


@pytest.mark.slow
def test_a_flood_on_one_console_never_stops_another(fleet: RunningHost) -> None:
    """Text (``yes``), then hostile bytes (``/dev/urandom``), without end until ^C, watched by
    a viewer: the other console's viewer types and sees its echo, exactly, while it lasts."""
    shell_view, flood = fleet["shell"], fleet["flood"]
    wait_prompt(shell_view)
    wait_prompt(flood)
    with novnc_on(shell_view) as viewer, novnc_on(flood) as flood_viewer:
        for what, command in (
            ("text", "yes flood-flood-flood-flood"),
            ("random", "cat /dev/urandom"),
        ):
            flood.write_console(command.encode() + b"\n")
            if what == "text":
                flood.wait_text("flood-flood-flood-flood", timeout=30)
            try:
                for i in range(3):
                    token = f"during-{what}-flood-{i}"
                    viewer.type(f"echo {token}-$((6*7))\n")
                    wait_line(shell_view, f"{token}-42", f"the shell during the {what} flood", 60)
                    assert_shows(viewer, shell_view, timeout=30)
                # the flood was still going when the echo came back (it only stops on ^C)
                assert fleet.status("flood")["status"] == "running"
                if what == "text":
                    screen = flood.text()
                    assert sum(line.startswith("flood-flood") for line in screen) > 12, screen
            finally:
                flood.write_console(b"\x03")
            # whatever the random bytes set, a reset brings the prompt back; the answers to the
            # queries among them went to the shell's input line, which ^U empties
            time.sleep(0.5)
            flood.write_console(b"\x15stty sane; printf '\\033c'\n")
            wait_prompt(flood)
            assert_shows(flood_viewer, flood)  # the flood's own viewer kept up, exactly
        assert_connected(viewer, "the shell's viewer")
        assert_connected(flood_viewer, "the flood's viewer")


def test_a_full_log_disk_on_one_console_never_stops_another(
    fleet: RunningHost, caplog: pytest.LogCaptureFixture
) -> None:
    """A console whose log cannot be written (``/dev/full``: ENOSPC on every write) says so on
    its own status row and in one log record naming it; the other console's viewer types on."""
    shell_view = fleet["shell"]
    wait_prompt(shell_view)
    caplog.handler.addFilter(ConsoleLabel())
    caplog.set_level(logging.WARNING)
    full = fleet.add("full", Config(command=SHELL, listen=[], log_path="/dev/full"))
    try:
        full.wait_text("$")
        with novnc_on(shell_view) as viewer, novnc_on(full) as full_viewer:
            for i in range(3):
                full.write_console(f"seq 1 3000; echo written-{i}\n".encode())
                wait_line(full, f"written-{i}", "the console with the full log disk")
                viewer.type(f"echo beside-full-{i}-$((6*7))\n")
                wait_line(shell_view, f"beside-full-{i}-42", "the shell beside it")
                assert_shows(viewer, shell_view)
            full.wait_status_row("No space left on device")
            assert_shows(full_viewer, full)  # its viewer sees why
            assert "No space" not in shell_view.status_row()
            assert_connected(viewer, "the shell's viewer")
            assert_connected(full_viewer, "the full console's viewer")
    finally:
        fleet.remove("full")
    reports = [r for r in caplog.records if "No space left" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in reports]
    assert reports[0].console == " [full]"  # type: ignore[attr-defined]


@pytest.mark.parametrize("what", ["console log", "recording"])
def test_a_file_that_cannot_be_opened_stops_only_that_file(
    what: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A console whose log or recording cannot be opened (its directory is missing) no longer
    stops the whole host from starting: it is served without that file, says why on its status
    row and in one log record naming it, and the other console is served as usual."""
    caplog.handler.addFilter(ConsoleLabel())
    caplog.set_level(logging.WARNING)
    missing = tmp_path / "no-such-dir" / "console.file"
    option = {"console log": "log_path", "recording": "record_path"}[what]
    config = HostConfig(
        consoles={
            "fine": shell("fine console"),
            "unlogged": Config(command=SHELL, listen=[], **{option: str(missing)}),
        },
        state_dir=str(tmp_path / "state"),
        port_range=free_port_range(),
    )
    with RunningHost(config) as host:
        fine, unlogged = host["fine"], host["unlogged"]
        assert {c["status"] for c in host.listing()["consoles"]} == {"running"}
        with novnc_on(fine) as viewer, novnc_on(unlogged) as unlogged_viewer:
            unlogged.wait_status_row(f"{what} {missing}: cannot open")
            unlogged_viewer.type("echo unlogged-$((6*7))\n")
            wait_line(unlogged, "unlogged-42", "the console without its log")
            assert_shows(unlogged_viewer, unlogged)
            viewer.type("echo fine-$((6*7))\n")
            wait_line(fine, "fine-42", "the other console")
            assert_shows(viewer, fine)
            assert fine.status_row() == ""
    assert not missing.exists()
    reports = [r for r in caplog.records if str(missing) in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in reports]
    assert reports[0].console == " [unlogged]"  # type: ignore[attr-defined]


class OneShotBackend:
    """A unix socket console server that greets its one client, then goes away (closes the
    connection and stops listening)."""

    def __init__(self, path: Path, greeting: bytes = b"backend says hello") -> None:
        self.path = path
        self.greeting = greeting
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.client: socket.socket | None = None
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            self.client, _ = self.listener.accept()
        except OSError:
            return
        self.client.sendall(self.greeting + b"\r\n")
        self.accepted.set()

    def go_away(self) -> None:
        if self.client is not None:
            self.client.close()
        self.listener.close()
        self.path.unlink(missing_ok=True)


def test_a_backend_gone_never_stops_another_console(fleet: RunningHost, tmp_path: Path) -> None:
    shell_view = fleet["shell"]
    wait_prompt(shell_view)
    backend = OneShotBackend(tmp_path / "backend.sock")
    gone = fleet.add(
        "gone", Config(command=[], console=ConsoleSpec("unix", str(backend.path)), listen=[])
    )
    try:
        gone.wait_text("backend says hello")
        with novnc_on(shell_view) as viewer, novnc_on(gone) as gone_viewer:
            backend.go_away()
            gone.wait_status_row("console disconnected")  # what the gone console's viewer sees
            viewer.type("echo after-gone-$((6*7))\n")
            wait_line(shell_view, "after-gone-42", "the shell after another's backend went")
            assert_shows(viewer, shell_view)
            # the console whose backend went is still listed and keeps its viewer
            assert fleet.status("gone")["viewers"] == 1
            assert_shows(gone_viewer, gone)
            assert_connected(gone_viewer, "the viewer of the console whose backend went")
            assert_connected(viewer, "the shell's viewer")
            gone_viewer.type("typed into nothing\n")  # keys for a console with no backend
            # the backend back on the same path: the console reconnects under its viewer
            backend = OneShotBackend(backend.path, b"backend is back")
            gone.wait_text("backend is back", timeout=30)
            assert_shows(gone_viewer, gone)
            assert_connected(gone_viewer, "the viewer of the console whose backend came back")
    finally:
        backend.go_away()
        fleet.remove("gone")


# -- 5. restart, or stay listed as exited ---------------------------------------------------------


def test_restart_brings_the_console_back_under_its_viewer(
    fleet: RunningHost, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    script = (
        f"n=$(( $(cat {runs} 2>/dev/null || echo 0) + 1 )); echo $n > {runs}; echo run-$n; "
        "if [ \"$n\" -ge 2 ]; then PS1='$ ' exec sh -i; fi; sleep 1; exit 3"
    )
    phoenix = fleet.add("phoenix", Config(command=["sh", "-c", script], listen=[], restart=True))
    try:
        phoenix.wait_text("run-1")
        with novnc_on(phoenix) as viewer:
            phoenix.wait_text("run-2", timeout=30)
            assert_shows(viewer, phoenix)
            # the viewer's keys reach the new run of the program
            viewer.type("echo reborn-$((6*7))\n")
            wait_line(phoenix, "reborn-42", "typed into the restarted console")
            assert_shows(viewer, phoenix)
            assert_connected(viewer, "the restarted console's viewer")
            assert fleet.status("phoenix")["status"] == "running"
            assert fleet.status("phoenix")["viewers"] == 1
    finally:
        fleet.remove("phoenix")


def restarting(runs: Path, first: str, then: str) -> list[str]:
    """A command whose first run does ``first`` and exits 3, later runs ``then``; each run
    prints ``run-N`` first."""
    script = (
        f"n=$(( $(cat {runs} 2>/dev/null || echo 0) + 1 )); echo $n > {runs}; echo run-$n; "
        f'if [ "$n" -ge 2 ]; then {then}; fi; {first}; exit 3'
    )
    return ["sh", "-c", script]


def test_a_restarted_program_gets_the_size_the_viewer_chose(
    fleet: RunningHost, tmp_path: Path
) -> None:
    command = restarting(tmp_path / "runs", "read line", "stty size; exec sleep 600")
    sized = fleet.add("sized", Config(command=command, listen=[], restart=True, allow_resize=True))
    try:
        sized.wait_text("run-1")
        with novnc_on(sized) as viewer:
            viewer.set_desktop_size(900, 540)  # 100x30 cells of 9x18
            deadline = time.monotonic() + 15
            while sized.framebuffer().shape != (540, 900):
                assert time.monotonic() < deadline, sized.framebuffer().shape
                time.sleep(0.1)
            viewer.type("\n")  # the first run reads its line and exits
            sized.wait_text("run-2", timeout=30)
            wait_line(sized, "30 100", "stty size in the restarted program")
            assert_shows(viewer, sized)
    finally:
        fleet.remove("sized")


def test_a_restarted_program_starts_on_a_sane_terminal(fleet: RunningHost, tmp_path: Path) -> None:
    """The program that ended left mouse reporting, bracketed paste, application cursor keys
    and the line-drawing character set on; the next run gets none of them."""
    out = tmp_path / "typed"
    modes = r"printf '\033[?1000h\033[?2004h\033[?1h\033(0'"
    command = restarting(tmp_path / "runs", f"{modes}; read line", f"exec cat > {out}")
    fresh = fleet.add("fresh", Config(command=command, listen=[], restart=True))
    try:
        fresh.wait_text("run-1")
        with novnc_on(fresh) as viewer:
            deadline = time.monotonic() + 15
            while 1000 not in fresh.call(lambda: fresh.service.emulator.private_modes()):
                assert time.monotonic() < deadline, "the first run never turned mouse reports on"
                time.sleep(0.05)
            viewer.type("\n")
            fresh.wait_text("run-2", timeout=30)  # in ASCII, not line drawing
            viewer.pointer(20, 20, 1)  # a click: no mouse report for cat
            viewer.pointer(20, 20, 0)
            viewer.key(0xFF52)  # Up: a plain ESC [ A, not the application form ESC O A
            viewer.type("qx-typed\n")
            fresh.wait_text("qx-typed")  # the tty echoes it (after ^[[A)
            deadline = time.monotonic() + 15
            while not out.exists() or not out.read_bytes().endswith(b"\n"):
                assert time.monotonic() < deadline, out.read_bytes() if out.exists() else None
                time.sleep(0.05)
            assert out.read_bytes() == b"\x1b[Aqx-typed\n"
            assert_shows(viewer, fresh)
    finally:
        fleet.remove("fresh")


def test_without_restart_an_exited_console_stays_listed_with_its_viewer(
    fleet: RunningHost,
) -> None:
    mortal = fleet.add(
        "mortal",
        Config(command=["sh", "-c", "echo mortal-bye; read line; exit 5"], listen=[]),
    )
    try:
        mortal.wait_text("mortal-bye")
        with novnc_on(mortal) as viewer:
            viewer.type("\n")  # the program reads its line and exits 5
            deadline = time.monotonic() + 15
            while fleet.status("mortal")["status"] != "exited 5":
                assert time.monotonic() < deadline, fleet.status("mortal")
                time.sleep(0.1)
            assert fleet.status("mortal")["viewers"] == 1
            mortal.wait_status_row("console ended (status 5)")
            assert_shows(viewer, mortal)
            assert_connected(viewer, "the exited console's viewer")
            viewer.type("keys for a program that is gone\n")
            # the port still answers: a second viewer sees the last screen
            with novnc_on(mortal):
                assert fleet.status("mortal")["viewers"] == 2
    finally:
        fleet.remove("mortal")


# -- 3 again: the real thing, vncterm --config FILE and SIGHUP -----------------------------------

CONFIG = """
[vncterm]
port-range = "{low}-{high}"
websocket = "127.0.0.1:{ws}"

[defaults]
command = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]

{consoles}
"""


def write_config(path: Path, low: int, high: int, ws: int, names: list[str]) -> None:
    consoles = "\n".join(f"[console.{name}]\nname = '{name} console'\n" for name in names)
    path.write_text(CONFIG.format(low=low, high=high, ws=ws, consoles=consoles))


def vncterm_list_json(state: Path) -> dict[str, dict[str, object]]:
    """``vncterm --list --json``: the consoles by name."""
    done = subprocess.run(
        [*VNCTERM, "--list", "--json", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return {c["name"]: c for c in json.loads(done.stdout)["consoles"]}


def same_as_a_new_viewer(viewer: NoVncClient, port: int, what: str) -> np.ndarray:
    """The viewer shows what a viewer connecting now is sent (both settled); that screen."""
    with NoVncClient() as fresh:
        fresh.connect(HOST, port, quality=None)
        diff = wait_until_equal(viewer, fresh.capture, timeout=15)
        assert diff, f"{what}: {diff.describe()}"
        return fresh.capture()


def wait_changed(viewer: NoVncClient, before: np.ndarray, what: str) -> None:
    deadline = time.monotonic() + 15
    while np.array_equal(viewer.capture(), before):
        assert time.monotonic() < deadline, f"{what}: the viewer's screen never changed"
        time.sleep(0.1)


def start_host(path: Path, state: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``vncterm --config path`` in its own process, logging (``-v``) to ``log_path``."""
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            [*VNCTERM, "--config", str(path), "--state-dir", str(state), "-v"],
            stderr=log_file,
        )


@pytest.mark.slow
def test_sighup_adds_and_removes_consoles_under_connected_viewers(tmp_path: Path) -> None:
    path, state = tmp_path / "vncterm.toml", tmp_path / "state"
    low, high = free_port_range()
    ws = free_port_range(1)[0]
    write_config(path, low, high, ws, ["stay", "leave"])
    log_path = tmp_path / "vncterm.log"
    proc = start_host(path, state, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                listed = vncterm_list_json(state)
            except AssertionError:
                listed = {}
            if all(listed.get(n, {}).get("status") == "running" for n in ("stay", "leave")):
                break
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, listed
            time.sleep(0.1)
        port = {name: int(listed[name]["ports"][0]) for name in listed}  # type: ignore[index]
        assert all(low <= p <= high for p in port.values()), port
        with NoVncClient() as stays, NoVncClient() as goes:
            stays.connect(HOST, port["stay"], quality=None)
            goes.connect(HOST, port["leave"], quality=None)
            before = same_as_a_new_viewer(stays, port["stay"], "stay, first screen")
            stays.type("echo before-$((6*7))\n")
            wait_changed(stays, before, "stay, typed before the reload")
            shown = same_as_a_new_viewer(stays, port["stay"], "stay, before the reload")

            write_config(path, low, high, ws, ["stay", "arrive"])
            proc.send_signal(signal.SIGHUP)
            goes.wait_for("disconnected", 15)  # the removed console's viewer is closed
            deadline = time.monotonic() + 20
            while set(listed := vncterm_list_json(state)) != {"stay", "arrive"}:
                assert time.monotonic() < deadline, listed
                time.sleep(0.1)
            assert listed["stay"]["ports"] == [port["stay"]]
            assert listed["stay"]["viewers"] == 1
            with pytest.raises(OSError):
                socket.create_connection((HOST, port["leave"]), timeout=5).close()

            # the untouched console: its viewer stayed and keeps updating
            assert_connected(stays, "the untouched console's viewer")
            stays.type("echo after-$((6*7))\n")
            wait_changed(stays, shown, "stay, typed after the reload")
            same_as_a_new_viewer(stays, port["stay"], "stay, after the reload")
            assert_connected(stays, "the untouched console's viewer")

            # the added console: on its port, and by name on the shared listener
            arrive_port = int(listed["arrive"]["ports"][0])  # type: ignore[index]
            assert low <= arrive_port <= high
            with NoVncClient() as arrives:
                arrives.connect(HOST, arrive_port, quality=None)
                screen = same_as_a_new_viewer(arrives, arrive_port, "arrive on its port")
                by_name = WsRawClient(HOST, ws, path="/arrive")
                try:
                    by_name.update(incremental=False)
                    assert (by_name.fb == screen).all()
                finally:
                    by_name.close()
            with pytest.raises(HandshakeRefused):
                WebSocketSocket(HOST, ws, path="/leave")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    log = log_path.read_text()
    assert "SIGHUP: console arrive added" in log, log
    assert "SIGHUP: console leave removed" in log, log
    assert "console stay changed" not in log, log


def test_a_program_exit_is_seen_among_many_running_programs(fleet: RunningHost) -> None:
    """More programs running than the event loop's default thread pool has threads (a host
    of many consoles): one that exits is still seen, and restarted, under its viewer."""
    sleeper = ["sleep", "6019"]
    many = min(32, (os.cpu_count() or 1) + 4) + 2  # ThreadPoolExecutor's default size, and more
    names = [f"many-{i}" for i in range(many)]
    with _killing(sleeper):
        try:
            for name in names:
                fleet.add(name, Config(command=sleeper, listen=[]))
            for name in names:
                assert fleet.status(name)["status"] == "running", fleet.status(name)
            short = fleet.add(
                "short", Config(command=["sh", "-c", "echo short; read line; exit 4"], listen=[])
            )
            short.wait_text("short")
            with novnc_on(short) as viewer:
                viewer.type("\n")
                deadline = time.monotonic() + 15
                while fleet.status("short")["status"] != "exited 4":
                    assert time.monotonic() < deadline, fleet.status("short")
                    time.sleep(0.1)
                short.wait_status_row("console ended (status 4)")
                assert_shows(viewer, short)
        finally:
            for name in [*names, "short"]:
                fleet.remove(name)


def test_a_console_that_cannot_start_stays_listed_and_keeps_its_viewer(
    fleet: RunningHost,
) -> None:
    broken = fleet.add("broken", Config(command=["no-such-program-here"], listen=[]))
    try:
        assert fleet.status("broken")["status"].startswith("failed")
        with novnc_on(broken) as viewer:
            broken.wait_status_row("console cannot start")
            assert_shows(viewer, broken)
            viewer.type("keys for a program that never ran\n")
            assert_shows(viewer, broken)
            assert fleet.status("broken")["viewers"] == 1
            assert_connected(viewer, "the failed console's viewer")
    finally:
        fleet.remove("broken")


def children(pid: int, argv: list[str]) -> list[int]:
    """The processes whose parent is ``pid`` running ``argv``."""
    want = [a.encode() for a in argv]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and cmdline == want:
            found.append(int(entry.name))
    return found


def test_reloads_at_once_apply_in_turn(tmp_path: Path) -> None:
    """Three reloads started together (SIGHUPs in a row) while a console's settings changed:
    they apply one after the other, so the console ends with one program, not one per reload
    (a program started for a console already removed was never stopped, and vncterm waited
    for it on SIGTERM)."""
    sleeper = ["sleep", "6017"]
    program = ["sh", "-c", f"echo up; exec {' '.join(sleeper)}"]
    config = HostConfig(
        consoles={
            "stay": shell("stay console"),
            "change": Config(command=program, listen=[]),
        },
        config_path=str(tmp_path / "vncterm.toml"),
        state_dir=str(tmp_path / "state"),
        port_range=free_port_range(),
    )
    changed = dataclasses.replace(
        config, consoles={**config.consoles, "change": Config(command=program, listen=[], cols=90)}
    )
    with RunningHost(config, reload=lambda path: changed) as host, _killing(sleeper):
        host["change"].wait_text("up")
        with novnc_on(host["stay"]) as stays:
            assert host.host is not None
            reload = host.host.reload

            async def three() -> None:
                await asyncio.gather(reload(), reload(), reload())

            host.run(three())
            change = host["change"]
            change.wait_text("up")
            assert change.call(lambda: change.service.emulator.cols) == 90
            assert {c["status"] for c in host.listing()["consoles"]} == {"running"}
            deadline = time.monotonic() + 10
            while len(programs := children(os.getpid(), sleeper)) != 1:
                assert time.monotonic() < deadline, f"{len(programs)} programs for one console"
                time.sleep(0.1)
            assert_connected(stays, "the untouched console's viewer")
            assert_shows(stays, host["stay"])


def test_a_console_removed_while_being_added_leaves_nothing(fleet: RunningHost) -> None:
    """Discovery may remove a console while it is still being added: no program is started
    for it and its port is not left listening."""
    sleeper = ["sleep", "6018"]
    program = ["sh", "-c", f"exec {' '.join(sleeper)}"]
    assert fleet.host is not None
    host = fleet.host

    async def both() -> ConsoleService:
        service, _ = await asyncio.gather(
            host.add_console("ghost", Config(command=program, listen=[])),
            host.remove_console("ghost"),
        )
        return service

    with _killing(sleeper), novnc_on(fleet["shell"]) as viewer:
        ghost = fleet.run(both())
        assert "ghost" not in {c["name"] for c in fleet.listing()["consoles"]}
        time.sleep(0.5)  # what a late start would have started by now
        assert children(os.getpid(), sleeper) == []
        for address in ghost.addresses:
            assert isinstance(address, tuple)
            with pytest.raises(OSError):
                socket.create_connection(address, timeout=5).close()
        assert_connected(viewer, "another console's viewer")


@contextlib.contextmanager
def _killing(argv: list[str]) -> Iterator[None]:
    """Kill, on the way out, the test's children running ``argv`` (any the host lost)."""
    try:
        yield
    finally:
        for pid in children(os.getpid(), argv):
            os.kill(pid, signal.SIGKILL)


def test_sighups_in_a_row_leave_one_program_per_console(tmp_path: Path) -> None:
    """Three SIGHUPs at once after a console's settings changed: each console ends with one
    program, the untouched console's viewer stays, and vncterm still stops on SIGTERM."""
    path, state = tmp_path / "vncterm.toml", tmp_path / "state"
    low, high = free_port_range()
    program = '["sh", "-c", "echo up; exec sleep 600"]'
    file = f'[vncterm]\nport-range = "{low}-{high}"\n[defaults]\ncommand = {program}\n'
    path.write_text(file + "[console.stay]\n[console.change]\ngeometry = '80x24'\n")
    log_path = tmp_path / "vncterm.log"
    proc = start_host(path, state, log_path)
    try:
        deadline = time.monotonic() + 30
        while len(children(proc.pid, ["sleep", "600"])) < 2:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        listed = vncterm_list_json(state)
        with NoVncClient() as stays:
            stays.connect(HOST, int(listed["stay"]["ports"][0]), quality=None)  # type: ignore[index]
            path.write_text(file + "[console.stay]\n[console.change]\ngeometry = '90x24'\n")
            for _ in range(3):  # apart, or the kernel merges them into one
                proc.send_signal(signal.SIGHUP)
                time.sleep(0.01)
            deadline = time.monotonic() + 30
            while log_path.read_text().count("console change changed") < 1 or not all(
                c["status"] == "running" for c in vncterm_list_json(state).values()
            ):
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            time.sleep(1)  # what a second reload would still start
            assert len(children(proc.pid, ["sleep", "600"])) == 2, log_path.read_text()
            assert_connected(stays, "the untouched console's viewer")
    finally:
        proc.terminate()
        try:
            status = proc.wait(timeout=15)
        finally:
            for pid in children(proc.pid, ["sleep", "600"]):
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert status == 128 + signal.SIGTERM
    assert " ERROR " not in log_path.read_text(), log_path.read_text()


def test_a_sighup_while_the_consoles_start_is_applied_once_they_have(tmp_path: Path) -> None:
    """logrotate or a reload may send SIGHUP while a file of many consoles is still starting:
    vncterm is not killed by it, and the reload comes after the start."""
    path, state = tmp_path / "vncterm.toml", tmp_path / "state"
    low, high = free_port_range(64)
    sleeper = ["sleep", "6023"]
    file = f'[vncterm]\nport-range = "{low}-{high}"\n[defaults]\ncommand = {json.dumps(sleeper)}\n'
    file += "".join(f"[console.c{i}]\n" for i in range(40))
    path.write_text(file)
    log_path = tmp_path / "vncterm.log"
    proc = start_host(path, state, log_path)
    try:
        deadline = time.monotonic() + 30
        while "console c0: port" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.01)
        path.write_text(file + "[console.late]\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"vncterm ended with {proc.returncode}"
            try:
                listed = vncterm_list_json(state)
            except AssertionError:  # not answering yet
                listed = {}
            if len(listed) == 41 and {c["status"] for c in listed.values()} == {"running"}:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.1)
        assert "SIGHUP: console late added" in log_path.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        finally:
            for pid in children(proc.pid, sleeper):
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_sighup_reopens_the_logs_after_logrotate_moved_them(tmp_path: Path) -> None:
    """logrotate's way: the console log and the audit log are moved aside, then SIGHUP. What
    comes next goes to new files (0600), the viewer stays connected, the console is untouched."""
    path, state = tmp_path / "vncterm.toml", tmp_path / "state"
    console_log, audit_log = tmp_path / "rot.log", tmp_path / "audit.jsonl"
    low, high = free_port_range()
    path.write_text(
        f'[vncterm]\nport-range = "{low}-{high}"\naudit-log = "{audit_log}"\n'
        f'[console.rot]\ncommand = {json.dumps(SHELL)}\nlog = "{console_log}"\n'
    )

    def wait_in(file: Path, text: str) -> None:
        deadline = time.monotonic() + 15
        while not file.exists() or text not in file.read_text(errors="replace"):
            assert proc.poll() is None, f"vncterm ended with {proc.returncode}"
            assert time.monotonic() < deadline, f"{text!r} never reached {file}"
            time.sleep(0.05)

    proc = subprocess.Popen(
        [*VNCTERM, "--config", str(path), "--state-dir", str(state)], stderr=subprocess.DEVNULL
    )
    try:
        wait_in(console_log, "$ ")
        port = int(vncterm_list_json(state)["rot"]["ports"][0])  # type: ignore[index]
        with NoVncClient() as viewer:
            viewer.connect(HOST, port, quality=None)
            viewer.type("echo before-$((6*7))\n")
            wait_in(console_log, "before-42")
            wait_in(audit_log, '"connect"')
            console_log.rename(tmp_path / "rot.log.1")
            audit_log.rename(tmp_path / "audit.jsonl.1")
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 15
            while not console_log.exists():  # reopened (created) by the reload
                assert time.monotonic() < deadline, "the console log was not reopened"
                time.sleep(0.05)
            viewer.type("echo after-$((6*7))\n")
            wait_in(console_log, "after-42")
            with NoVncClient() as second:  # a new viewer: an audit record in the new file
                second.connect(HOST, port, quality=None)
            wait_in(audit_log, '"connect"')
            assert_connected(viewer, "the viewer across the SIGHUP")
        assert "after-42" not in (tmp_path / "rot.log.1").read_text(errors="replace")
        assert "before-42" not in console_log.read_text(errors="replace")
        for file in (console_log, audit_log):
            assert file.stat().st_mode & 0o777 == 0o600, file
    finally:
        proc.terminate()
        proc.wait(timeout=15)
