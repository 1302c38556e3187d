"""Who else is here: two noVNC viewers (Node) on one shell, under ``--input shared`` and
``--input one``."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import SHELL
from harness import RunningVncterm
from peers.novnc_client import NoVncClient
from peers.xvnc import XvncServer
from test_viewers_desktop import free_display_port, wait_line, wait_shown

from vncterm.cli import config_from_args
from vncterm.config import ListenAddress
from vncterm.config_file import load_config_file
from vncterm.errors import ConfigError
from vncterm.rfb import vencrypt

CTRL, SHIFT = 0xFFE3, 0xFFE1


def status_says(vt: RunningVncterm, needle: str, timeout: float = 10.0) -> str:
    assert vt.server is not None
    status = vt.server.session.status
    deadline = time.monotonic() + timeout
    while needle not in (text := vt.call(status.text) or ""):
        assert time.monotonic() < deadline, f"status row {text!r} never said {needle!r}"
        time.sleep(0.05)
    return text


def viewer_names(vt: RunningVncterm) -> list[str]:
    assert vt.server is not None
    session = vt.server.session
    return vt.call(lambda: [str(v).removeprefix("viewer ") for v in session.viewers])


@pytest.mark.peer
def test_input_one_holds_the_keyboard_and_ctrl_shift_l_takes_it(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with (
        RunningVncterm(SHELL, input_policy="one", input_idle=60.0, audit_log=str(audit)) as vt,
        NoVncClient() as a,
        NoVncClient() as b,
    ):
        vt.wait_text("$")
        a.connect("127.0.0.1", vt.port, quality=None)
        b.connect("127.0.0.1", vt.port, quality=None)
        status_says(vt, "2 viewers connected")
        name_a, name_b = viewer_names(vt)
        a.type("echo from-a-$((1+1))\n")
        vt.wait_text("from-a-2")
        b.type("echo from-b-$((2+2))\n")  # A holds the keyboard: none of it is typed
        assert f"keyboard held by {name_a}" in status_says(vt, "keyboard held by")
        a.type("echo again-a-$((3+3))\n")
        lines = vt.wait_text("again-a-6")
        assert not any("from-b" in line for line in lines), lines
        b.key(CTRL, down=True)
        b.key(SHIFT, down=True)
        b.key(ord("L"))
        b.key(SHIFT, down=False)
        b.key(CTRL, down=False)
        status_says(vt, f"{name_b} has the keyboard")
        b.type("echo now-b-$((4+4))\n")
        vt.wait_text("now-b-8")
        b.type("seq 1 60\n")  # some scrollback for A's wheel below
        vt.wait_text("60")
        a.type("echo late-a\n")
        status_says(vt, f"keyboard held by {name_b}")
        a.key(CTRL, down=True)  # nor can A open the search line (it takes B's keys)
        a.key(SHIFT, down=True)
        a.key(ord("F"))
        a.key(SHIFT, down=False)
        a.key(CTRL, down=False)
        a.pointer(10, 10, mask=8)  # A's wheel does not scroll the shared view either
        a.pointer(10, 10, mask=0)
        time.sleep(0.3)
        assert vt.call(lambda: vt.server.session.terminal.view.offset) == 0  # type: ignore[union-attr]
        assert not vt.call(lambda: vt.server.session.search.active)  # type: ignore[union-attr]
        b.type("echo end-b-$((5+5))\n")
        lines = vt.wait_text("end-b-10")
        assert not any("late-a" in line for line in lines), lines
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    held = [(r["viewer"], r["previous"]) for r in records if r["event"] == "keyboard"]
    assert held == [(f"viewer {name_a}", None), (f"viewer {name_b}", f"viewer {name_a}")]
    refused = sum(r.get("refused", 0) for r in records if r["event"] == "input")
    assert refused >= len("echo from-b-$((2+2))\n")


@pytest.mark.peer
def test_input_shared_names_two_typists_and_the_viewer_count() -> None:
    with RunningVncterm(SHELL, input_idle=60.0) as vt, NoVncClient() as a, NoVncClient() as b:
        vt.wait_text("$")
        a.connect("127.0.0.1", vt.port, quality=None)
        b.connect("127.0.0.1", vt.port, quality=None)
        name_a, name_b = viewer_names(vt)
        a.type("echo x")
        b.type("y")
        text = status_says(vt, "typing at once")
        assert f"{name_b} and {name_a} are typing at once" in text
        assert f"2 viewers; {name_b} typing" in text
        b.type("\n")
        vt.wait_text("xy")


USERS = {"alice": "wonderland", "bob": "builder"}


@pytest.mark.peer
def test_tigervnc_operators_by_user_name_under_input_one() -> None:
    """Two TigerVNC viewers on an Xvnc display, logged in as alice and bob (VeNCrypt
    TLSPlain): the status row names the holder by user name; bob's keys are not typed until
    he presses Ctrl+Shift+L."""
    users = vencrypt.parse_users(
        "".join(
            f"{u}:{vencrypt.hash_password(p.encode(), b'0123456789abcdef')}\n"
            for u, p in USERS.items()
        )
    )
    port = free_display_port()
    with (
        RunningVncterm(
            SHELL,
            listen=[ListenAddress("127.0.0.1", port)],
            name="presence test",
            tls_anon=True,
            plain_users=users,
            input_policy="one",
            input_idle=60.0,
        ) as vt,
        XvncServer(geometry=(1024, 640)) as display,
    ):
        vt.wait_text("$")
        viewers: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for user, password in USERS.items():
                viewers[user] = subprocess.Popen(
                    [
                        "xtigervncviewer",
                        "-SecurityTypes",
                        "TLSPlain",
                        "-AlertOnFatalError=0",
                        "-ReconnectOnError=0",
                        f"127.0.0.1::{port}",
                    ],
                    env={**display.env(), "VNC_USERNAME": user, "VNC_PASSWORD": password},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                status_says(vt, f"{len(viewers)} viewer" if len(viewers) > 1 else "")
                wait_shown(display, vt, f"TigerVNC as {user}")

            def window(user: str) -> str:
                found = subprocess.run(
                    ["xdotool", "search", "--sync", "--pid", str(viewers[user].pid)],
                    env=display.env(),
                    capture_output=True,
                    text=True,
                    timeout=20,
                ).stdout.split()
                return found[-1]

            def type_as(user: str, *xdotool: str, enter: bool = False) -> None:
                win = window(user)
                display.run("xdotool", "windowraise", win)  # no window manager: by hand
                display.run("xdotool", "windowfocus", "--sync", win)
                display.run("xdotool", "mousemove", "--window", win, "200", "200")
                display.run("xdotool", *xdotool)
                if enter:
                    display.run("xdotool", "key", "Return")

            type_as("alice", "type", "--delay", "15", "echo alice-$((6*7))", enter=True)
            wait_line(vt, "alice-42", "alice types")
            type_as("bob", "type", "--delay", "15", "echo bob-$((6*7))", enter=True)
            assert "keyboard held by alice (127.0.0.1:" in status_says(vt, "keyboard held by")
            type_as("bob", "key", "ctrl+shift+l")
            status_says(vt, "bob (127.0.0.1:")
            type_as("bob", "type", "--delay", "15", "echo bob-again-$((2*3))", enter=True)
            wait_line(vt, "bob-again-6", "bob types after taking the keyboard")
            assert not any(line.strip() == "bob-42" for line in vt.text()), vt.text()
        finally:
            for proc in viewers.values():
                proc.terminate()
                proc.wait(10)


@pytest.mark.unit
def test_input_options_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "vncterm.toml"
    path.write_text(
        '[console.vm]\nunix = "/run/vm.sock"\ninput = "one"\ninput-idle = 3\n'
        '[console.shell]\ncommand = ["sh"]\n'
    )
    host = load_config_file(str(path))
    vm, shell = host.consoles["vm"], host.consoles["shell"]
    assert (vm.input_policy, vm.input_idle) == ("one", 3.0)
    assert (shell.input_policy, shell.input_idle) == ("shared", 5.0)
    with pytest.raises(ConfigError):
        config_from_args(["--input-idle", "0", "--", "sh"])
