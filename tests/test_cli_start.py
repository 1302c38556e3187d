"""The first hour with the command line, through subprocess runs of ``python -m vncterm``:
xterm's bold colours by default, a missing command or journal said plainly (with a shell's and
a configuration error's exit status, before listening), defaults in ``--help``, and the start-up
log saying how to connect."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from peers.xvnc import XvncServer
from rawclient import RawClient
from wsclient import WsRawClient

pytestmark = pytest.mark.peer

VNCTERM = [sys.executable, "-m", "vncterm"]
BRIGHT_BLUE, BLUE = 0x5C5CFF, 0x0000EE


@contextmanager
def vncterm(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A vncterm subprocess, stopped (SIGTERM) and reaped at the end."""
    proc = subprocess.Popen([*VNCTERM, *args], stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def wait_socket(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"vncterm never listened on {path}"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("flag", "colour"),
    [(None, BRIGHT_BLUE), ("--bold-bright", BRIGHT_BLUE), ("--no-bold-bright", BLUE)],
)
def test_bold_blue_is_bright_blue_by_default(tmp_path: Path, flag: str | None, colour: int) -> None:
    """``ls`` draws directories bold blue: dark blue on black unless bold brightens it."""
    sock = tmp_path / "vnc.sock"
    flags = [flag] if flag else []
    with vncterm(
        "--listen",
        f"unix:{sock}",
        *flags,
        "--",
        "sh",
        "-c",
        r"printf '\033[1;34mdirectory\033[0m\n'; exec sleep 60",
    ):
        wait_socket(sock)
        client = RawClient(str(sock), family=socket.AF_UNIX)
        client.wait_for(lambda c: BRIGHT_BLUE in c.fb or BLUE in c.fb)
        colours = set(client.fb.ravel().tolist())
        client.close()
    assert colour in colours and ({BRIGHT_BLUE, BLUE} - {colour}).isdisjoint(colours)


@pytest.mark.parametrize(
    ("command", "status", "message"),
    [
        ("no-such-command-here", 127, "no-such-command-here: command not found"),
        ("/no/such/program", 127, "/no/such/program: command not found"),
        ("TMP/notes.txt", 126, "cannot run TMP/notes.txt: not executable"),
        ("TMP", 126, "cannot run TMP: a directory"),
    ],
)
def test_a_command_that_cannot_run_is_said_before_listening(
    tmp_path: Path, command: str, status: int, message: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a program\n")
    (tmp_path / "notes.txt").chmod(0o644)
    command, message = (text.replace("TMP", str(tmp_path)) for text in (command, message))
    sock = tmp_path / "vnc.sock"
    done = subprocess.run(
        [*VNCTERM, "--listen", f"unix:{sock}", "--", command, "arg"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (status, f"vncterm: {message}\n")
    assert not sock.exists()


def test_audit_log_journal_without_journald_is_a_configuration_error(tmp_path: Path) -> None:
    sock = tmp_path / "vnc.sock"
    done = subprocess.run(
        [*VNCTERM, "--listen", f"unix:{sock}", "--audit-log", "journal", "--", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if Path("/run/systemd/journal/socket").exists():  # a machine with journald: it just works
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2, done.stderr
    assert "--audit-log journal: systemd's journal is not reachable here" in done.stderr
    assert "Errno" not in done.stderr and "listening" not in done.stderr
    assert not sock.exists()
    unwritable = subprocess.run(
        [
            *VNCTERM,
            "--listen",
            f"unix:{sock}",
            "--audit-log",
            str(tmp_path / "no" / "audit.log"),
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unwritable.returncode == 2
    assert "--audit-log: cannot open" in unwritable.stderr and "Errno" not in unwritable.stderr


def test_help_shows_the_defaults() -> None:
    done = subprocess.run([*VNCTERM, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    # each option's entry: from its line to the next option's, on one line
    entries = re.split(r"\n  (?=-)", done.stdout)
    lines = {entry.split()[0]: " ".join(entry.split()) for entry in entries[1:]}
    want = {
        "--listen": ["fd:N", "default 127.0.0.1:5900"],
        "--geometry": ["default 80x25"],
        "--font-size": ["default 15"],
        "--charset": ["UTF-8 (default)"],
        "--share-policy": ["force-shared (default)"],
        "--scrollback": ["default 10000"],
        "--bold-bright,": ["--no-bold-bright", "default: on"],
    }
    for option, parts in want.items():
        for part in parts:
            assert part in lines.get(option, ""), f"{option}: {part!r} not in its help"
    assert "127 when CMD is not found" in " ".join(done.stdout.split())


def test_start_up_log_says_how_to_connect_and_each_hint_connects(tmp_path: Path) -> None:
    """Every ``ready: connect with ...`` hint works as written: TigerVNC's vncviewer takes each
    ``vncviewer ARG`` (TCP port, IPv6, unix socket), a WebSocket client each ``ws://`` URL."""
    sock = tmp_path / "vnc.sock"
    lines: list[str] = []
    with vncterm(
        "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--listen", f"unix:{sock}", "--", "sh"
    ) as proc:
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
        reader.start()
        deadline = time.monotonic() + 15
        while not any("console: started" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            time.sleep(0.05)
        hints = [
            line.split("ready: connect with ", 1)[1].strip()
            for line in lines
            if "ready: connect with " in line
        ]
        assert len(hints) == 3, lines
        assert re.fullmatch(
            r"vncviewer 127\.0\.0\.1::(\d+) or noVNC at ws://127\.0\.0\.1:\1/", hints[0]
        ), hints
        assert re.fullmatch(r"vncviewer \[::1\]::(\d+) or noVNC at ws://\[::1\]:\1/", hints[1]), (
            hints
        )
        assert hints[2] == f"vncviewer {sock}"
        for url in re.findall(r"ws://\S+", " ".join(hints)):
            host, port = url[len("ws://") :].rstrip("/").rsplit(":", 1)
            client = WsRawClient(host.strip("[]"), int(port))
            assert client.fb.shape == (450, 720)
            client.close()
        connected = sum(": connected" in line for line in lines)
        with XvncServer(geometry=(800, 600)) as x:
            for hint in hints:
                arg = hint.split()[1]
                viewer = x.spawn("xtigervncviewer", "-SecurityTypes", "None", arg)
                connected += 1
                deadline = time.monotonic() + 15
                while sum(": connected" in line for line in lines) < connected:
                    assert time.monotonic() < deadline, f"vncviewer {arg} never connected"
                    time.sleep(0.1)
                viewer.terminate()


def test_hints_for_wildcard_addresses_and_websocket_only_listeners() -> None:
    from vncterm.server.hints import connect_hints

    name = socket.gethostname()
    assert connect_hints([("0.0.0.0", 5900), ("::", 5901)], False, [("::1", 6080)], True) == [
        f"vncviewer {name}::5900",
        f"vncviewer {name}::5901",
        "noVNC at wss://[::1]:6080/",
    ]
