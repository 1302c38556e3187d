"""The real emergency console: a QEMU guest (Debian kernel, busybox) on a unix-socket serial
port, served by vncterm to noVNC, with the console and the QEMU monitor as tunnelled streams."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import RunningVncterm
from peers.common import wait_until_equal
from peers.novnc_client import NoVncClient
from peers.qemu_guest import MARKER, QemuGuest, Serial

from vncterm.config import ConsoleSpec

pytestmark = [pytest.mark.peer, pytest.mark.slow]

BOOT = 120.0  # seconds: TCG boots in ~7 s on an idle machine; CI may be busy


def stream(addr: str, name: str, data: bytes) -> bytes:
    """Run vncterm-stream with ``data`` on stdin; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "vncterm.stream_cli", addr, name],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_guest_console_through_vncterm(tmp_path: Path) -> None:
    serial = tmp_path / "ttyS0.sock"
    log = tmp_path / "console.log"
    with QemuGuest(tmp_path / "vm", [Serial.unix(serial)]) as guest:
        assert guest.monitor_path is not None
        spec = ConsoleSpec("unix", str(serial))
        streams = [("monitor", ConsoleSpec("unix", str(guest.monitor_path)))]
        with (
            RunningVncterm([], console=spec, streams=streams, log_path=str(log)) as vt,
            NoVncClient() as viewer,
        ):
            vt.wait_text(MARKER, timeout=BOOT)
            vt.wait_text("guest:", timeout=BOOT)  # the shell's prompt
            viewer.connect("127.0.0.1", vt.port, quality=None)
            assert wait_until_equal(viewer, vt.framebuffer, timeout=10)
            # the boot log reached the console (and --log holds every byte of it)
            assert b"Linux version" in log.read_bytes()
            # keys typed in a real viewer run a command in the guest
            viewer.type("echo typed-$((6*7))\n")
            vt.wait_text("typed-42", timeout=30)
            assert wait_until_equal(viewer, vt.framebuffer, timeout=10)

            addr = f"127.0.0.1:{vt.port}"
            out = stream(addr, "console", b"echo $((6*7))\r")
            assert b"\r\n42\r\n" in out, out
            monitor = stream(addr, "monitor", b"info status\n")
            assert b"VM status: running" in monitor, monitor

            # the guest prints CSI and OSC sequences with 5000-digit numbers (past Python's
            # int() limit): the chardev connection stays up, every line after them reaches the
            # screen and --log, and no stage of the console's output faulted
            assert vt.server is not None
            console = vt.server.session.console
            attached = vt.call(lambda: console.connections)
            big = "$(printf %05000d 9)"
            viewer.type(
                f'for i in 1 2 3 4 5 6 7 8; do printf "\\033[{big}m\\033]{big};x\\007"; '
                "echo hostile-$i; done; echo done-$((3*5))\n"
            )
            vt.wait_text("done-15", timeout=60)
            logged = log.read_bytes()
            assert all(f"hostile-{i}\r\n".encode() in logged for i in range(1, 9)), logged[-400:]
            assert vt.call(lambda: console.connections) == attached
            assert vt.call(lambda: vt.server.session.stages.faults) == {}  # type: ignore[union-attr]

            # QEMU dies: the old screen stays, the status row says why, vncterm keeps trying
            guest.kill()
            assert vt.server is not None
            status = vt.server.session.status
            wait_for(
                lambda: "reconnecting" in (vt.call(status.text) or ""),
                20,
                "the status row to say so",
            )
            assert any("typed-42" in line for line in vt.text())
            assert not any("reconnecting" in line for line in vt.text())
            assert wait_until_equal(viewer, vt.framebuffer, timeout=10)

            # QEMU is back: vncterm reattaches by itself and the new boot shows up
            guest.start()
            before = log.read_bytes().count(MARKER.encode())
            wait_for(
                lambda: log.read_bytes().count(MARKER.encode()) > before,
                BOOT,
                "the guest to boot again",
            )
            viewer.type("echo again-$((2*3))\n")
            vt.wait_text("again-6", timeout=30)
            assert wait_until_equal(viewer, vt.framebuffer, timeout=10)
            monitor = stream(addr, "monitor", b"info status\n")
            assert b"VM status: running" in monitor, monitor


def test_break_key_sends_magic_sysrq_over_telnet(tmp_path: Path) -> None:
    serial = Serial.tcp(telnet=True)
    with QemuGuest(tmp_path / "vm", [serial], monitor=False) as guest:
        assert guest.serials[0].port is not None
        spec = ConsoleSpec("tcp", host="127.0.0.1", port=guest.serials[0].port, telnet=True)
        with RunningVncterm([], console=spec) as vt, NoVncClient() as viewer:
            vt.wait_text("guest:", timeout=BOOT)
            viewer.connect("127.0.0.1", vt.port, quality=None)
            viewer.key(0xFF6B)  # Break: a serial BREAK, then the SysRq command key
            viewer.type("h")
            vt.wait_text("sysrq: HELP", timeout=30)


@pytest.mark.parametrize("kind", ["unix", "pty"])
def test_break_that_cannot_be_sent_says_so_and_types_nothing(tmp_path: Path, kind: str) -> None:
    """A unix chardev without telnet, or QEMU's -serial pty opened with --tty (Linux's pty
    driver drops a break), cannot carry a BREAK: the status row says so, and the SysRq letter
    that follows never reaches the guest's shell."""
    serial = Serial.unix(tmp_path / "ttyS0.sock") if kind == "unix" else Serial.new_pty()
    with (
        QemuGuest(tmp_path / "vm", [serial], monitor=False) as guest,
        RunningVncterm(
            [],
            console=ConsoleSpec("unix", str(serial.path))
            if kind == "unix"
            else ConsoleSpec("tty", guest.ptys[0]),
        ) as vt,
        NoVncClient() as viewer,
    ):
        assert vt.server is not None
        status = vt.server.session.status
        vt.wait_text("guest:", timeout=BOOT)
        viewer.connect("127.0.0.1", vt.port, quality=None)
        viewer.key(0xFF6B)  # Break, then the SysRq command key
        viewer.type("h")
        wait_for(
            lambda: "BREAK not sent" in (vt.call(status.text) or ""),
            10,
            "the status row to say the BREAK was not sent",
        )
        viewer.type("echo after-$((4+5))\n")
        lines = vt.wait_text("after-9", timeout=30)
        screen = "\n".join(lines)
        assert "hecho" not in screen and "sysrq" not in screen, screen
        assert any(line.rstrip().endswith("echo after-$((4+5))") for line in lines), screen


def test_a_guests_pty_that_closed_is_never_reopened(tmp_path: Path) -> None:
    """QEMU's ``-serial pty`` given to ``--tty``: when QEMU dies, its /dev/pts/N is not opened
    again, not even once another program holds that number (vncterm would read its terminal);
    the status row says the console stopped and why."""
    serial = Serial.new_pty()
    with QemuGuest(tmp_path / "vm", [serial], monitor=False) as guest:
        pts = guest.ptys[0]
        with RunningVncterm([], console=ConsoleSpec("tty", pts)) as vt:
            assert vt.server is not None
            session = vt.server.session
            vt.wait_text("guest:", timeout=BOOT)
            guest.kill()
            wait_for(
                lambda: "never reopened" in (vt.call(session.status.text) or ""),
                20,
                "the status row to say the pty is not reopened",
            )
            held: list[int] = []
            try:
                for _ in range(64):  # take pty numbers until the guest's old one is ours
                    master, slave = os.openpty()
                    held += [master, slave]
                    if os.ttyname(slave) == pts:
                        break
                else:
                    pytest.fail(f"{pts} was not handed out again")
                time.sleep(3)  # several rounds of the reconnect backoff (0.25 s doubling)
                assert vt.call(lambda: session.console.connections) == 1
                assert not vt.call(lambda: session.console.connected)
            finally:
                for fd in held:
                    os.close(fd)
