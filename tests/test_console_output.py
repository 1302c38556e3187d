"""Console output is never stopped by vncterm's own trouble: a full disk under ``--log`` and
``--audit-log`` (a real tmpfs, filled), a fault in any stage the bytes go through, hostile
escape sequences from the guest. A real vncterm (in-process server) reads a unix socket
standing in for QEMU's serial chardev (``--unix``), as for a guest's console.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chardev import Chardev
from harness import RunningVncterm
from hostile import RECOVER, hostile
from hypothesis import HealthCheck, example, given, settings

from vncterm.client import StreamClient
from vncterm.config import ConsoleSpec
from vncterm.server.outfile import QUIET, AppendFile, console_marker

pytestmark = pytest.mark.peer

STAGE_LOGGER = "vncterm.server.stages"
OUTFILE_LOGGER = "vncterm.server.outfile"


def wait_for(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def shown(vt: RunningVncterm) -> str:
    """What vncterm shows of its own (``Session.notice``): the status row, never the terminal."""
    assert vt.server is not None
    session = vt.server.session
    assert not any("[vncterm]" in line for line in vt.text()), vt.text()
    return vt.call(lambda: session.status.text() or "")


@contextlib.contextmanager
def guest_console(tmp_path: Path, **config: Any) -> Iterator[tuple[Chardev, RunningVncterm]]:
    """A chardev stand-in and a vncterm attached to it (``--unix``)."""
    chardev = Chardev(tmp_path / "ttyS0.sock")
    try:
        with RunningVncterm([], console=ConsoleSpec("unix", str(chardev.path)), **config) as vt:
            chardev.wait_connected()
            yield chardev, vt
    finally:
        chardev.close()


def test_log_files_are_created_owner_only(tmp_path: Path) -> None:
    """--log and --audit-log hold what the console printed and who typed: mode 0600."""
    old = os.umask(0o022)
    try:
        with guest_console(
            tmp_path,
            log_path=str(tmp_path / "console.log"),
            audit_log=str(tmp_path / "audit.jsonl"),
        ) as (chardev, _):
            chardev.send(b"password: hunter2\r\n")
            wait_for(lambda: b"hunter2" in (tmp_path / "console.log").read_bytes(), "the log")
    finally:
        os.umask(old)
    for name in ("console.log", "audit.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


# -- a fault in one stage -------------------------------------------------------------------------


def _break(stage: str, vt: RunningVncterm) -> None:
    """Make one stage raise, on the server's own objects."""
    assert vt.server is not None
    session = vt.server.session

    def boom(*args: object, **kwargs: object) -> Any:
        raise RuntimeError(f"injected {stage} fault")

    target: object = {
        "log": session.log_file,
        "capture": session.streams,
        "terminal": session.emulator,
        "replies": session.console,
        "terminal events": session,
        "render": session.terminal,
    }[stage]
    method = {
        "log": "write",
        "capture": "publish",
        "terminal": "feed",
        "replies": "write",
        "terminal events": "set_name",
        "render": "refresh",
    }[stage]
    vt.call(lambda: setattr(target, method, boom))


@pytest.mark.parametrize(
    "stage", ["log", "capture", "terminal", "replies", "terminal events", "render"]
)
def test_a_fault_in_one_stage_leaves_the_others_their_bytes(
    tmp_path: Path, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    log_path = tmp_path / "console.log"

    async def main(chardev: Chardev, vt: RunningVncterm) -> None:
        client = await StreamClient.connect("127.0.0.1", vt.port)  # also a viewer (1x1 frames)
        capture = await client.open("console")
        captured = bytearray()

        async def collect() -> None:
            while data := await capture.read():
                captured.extend(data)

        task = asyncio.ensure_future(collect())
        try:
            _break(stage, vt)
            for i in range(3):  # three reads, one logged fault
                text = f"after-{stage}-{i}"
                # DA owes a reply; OSC 2 sets the title, which the desktop name follows
                chardev.send(f"{text}\r\n\x1b[c\x1b]2;{text}\x07".encode())
                if stage != "log":
                    await asyncio.to_thread(
                        wait_for, lambda t=text: t.encode() in log_path.read_bytes(), "the log"
                    )
                if stage != "capture":
                    async with asyncio.timeout(10):
                        while text.encode() not in captured:
                            await asyncio.sleep(0.02)
                if stage != "terminal":
                    await asyncio.to_thread(vt.wait_text, text)
                await asyncio.sleep(0.2)  # frames requested by the client: refresh runs
            assert chardev.still_up()
            assert stage in vt.call(lambda: dict(vt.server.session.stages.faults))  # type: ignore[union-attr]
        finally:
            await client.close()
            task.cancel()

    caplog.set_level(logging.ERROR, STAGE_LOGGER)
    with guest_console(tmp_path, log_path=str(log_path)) as (chardev, vt):
        asyncio.run(main(chardev, vt))
    reports = [
        r
        for r in caplog.records
        if r.name == STAGE_LOGGER and f"the {stage} stage failed" in r.getMessage()
    ]
    assert len(reports) == 1, [r.getMessage() for r in caplog.records]
    assert f"injected {stage} fault" in reports[0].getMessage()


# -- a full disk ----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs (needs root), unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


PAGE = 4096


def _pad_audit(path: Path) -> None:
    """Make the audit file a whole number of pages with a record of the test's own."""
    size = path.stat().st_size
    pad = -(size + len(b'{"event": "pad", "x": ""}\n')) % PAGE
    with open(path, "ab") as f:
        f.write(b'{"event": "pad", "x": "' + b"." * pad + b'"}\n')
    assert path.stat().st_size % PAGE == 0


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0"):
                pass
    finally:
        os.close(fd)
    return filler


def _viewer_comes_and_goes(port: int) -> None:
    """A connection that makes audit records (connect, disconnect)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert s.recv(12).startswith(b"RFB ")


def test_full_disk_never_stops_the_console_and_the_log_resumes(
    small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_path, audit_path = small_disk / "console.log", small_disk / "audit.jsonl"
    caplog.set_level(logging.WARNING, OUTFILE_LOGGER)
    sent = bytearray()
    with guest_console(tmp_path, log_path=str(log_path), audit_log=str(audit_path)) as (
        chardev,
        vt,
    ):

        def send(data: bytes) -> None:
            sent.extend(data)
            chardev.send(data)

        # tmpfs allocates whole pages: end both files on a page boundary before the disk fills
        first = b"before the disk filled\r\n"
        send(first + b"." * (PAGE - len(first) - 2) + b"\r\n")
        wait_for(lambda: log_path.stat().st_size == PAGE, "the log")
        _pad_audit(audit_path)
        filler = _fill(small_disk)
        # the screen keeps updating, line after line, while the log cannot be written
        send(b"first while full\r\n")
        vt.wait_text("first while full")
        screen = shown(vt)
        assert f"console log {log_path}: cannot write (No space left on device)" in screen, screen
        assert f"audit log {audit_path}: cannot write" not in screen
        for i in range(40):
            send(b"x" * 2000 + f"\r\nwhile-full-{i}\r\n".encode())
            vt.wait_text(f"while-full-{i}")
        _viewer_comes_and_goes(vt.port)  # audit records that cannot be written either
        wait_for(
            lambda: f"audit log {audit_path}: cannot write" in shown(vt), "the audit log's notice"
        )
        assert chardev.still_up()
        # space returns: the log (and the audit log) resume within the retry interval
        filler.unlink()
        i = 0
        while b"not logged" not in log_path.read_bytes():
            send(f"after-{i}\r\n".encode())
            vt.wait_text(f"after-{i}")
            time.sleep(0.1)
            i += 1
            assert i < 100, "the log never resumed"
        screen = shown(vt)
        assert f"console log {log_path}: writing again;" in screen, screen
        send(b"the end\r\n")
        wait_for(lambda: b"the end" in log_path.read_bytes(), "the log")
        for _ in range(50):  # records until the audit log's retry interval has passed
            _viewer_comes_and_goes(vt.port)
            time.sleep(0.1)
            if b"audit_gap" in audit_path.read_bytes():
                break
        time.sleep(0.2)  # the last disconnect record
        assert chardev.still_up()

    logged = log_path.read_bytes()
    m = re.search(
        rb"\r\n\[vncterm\] (\d+) bytes of console output not logged "
        rb"\(No space left on device\)\r\n",
        logged,
    )
    assert m is not None, logged[-300:]
    missed = int(m.group(1))
    # the log is what the console sent, less exactly the missed bytes, where the marker is
    before, after = logged[: m.start()], logged[m.end() :]
    assert len(before) + missed + len(after) == len(sent)
    assert sent.startswith(before) and sent.endswith(after)
    assert missed >= 40 * 2000 + len(b"first while full\r\n")
    # the audit log: its gap record, then records again
    records = [json.loads(line) for line in audit_path.read_text().splitlines()]
    gaps = [r for r in records if r["event"] == "audit_gap"]
    assert len(gaps) == 1 and gaps[0]["missed_bytes"] > 0
    assert records[-1]["event"] in ("disconnect", "stop")
    # vncterm's log: one report per file going bad, one per file coming back
    messages = [r.getMessage() for r in caplog.records if r.name == OUTFILE_LOGGER]
    for what, path in (("console log", log_path), ("audit log", audit_path)):
        assert sum(f"{what} {path}: cannot write (No space left" in t for t in messages) == 1
        assert sum(f"{what} {path}: writing again" in t for t in messages) == 1
    assert f"writing again; {missed} bytes were not written" in " ".join(messages)


# -- hostile output ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_console(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Chardev, RunningVncterm, Path]]:
    tmp = tmp_path_factory.mktemp("hostile")
    with guest_console(tmp, log_path=str(tmp / "console.log")) as (chardev, vt):
        yield chardev, vt, tmp / "console.log"


_count = iter(range(1 << 30))


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=hostile())
@example(data=b"\x1b[" + b"5" * 5000 + b"m")
@example(data=b"\x1b]4;" + b"1" * 5000 + b";?\x07")
def test_hostile_output_over_a_socket_console(
    hostile_console: tuple[Chardev, RunningVncterm, Path], data: bytes
) -> None:
    """The connection stays up, and the plain text after the hostile bytes reaches the screen
    and the log; the terminal stage never faults."""
    chardev, vt, log_path = hostile_console
    marker = f"plain-marker-{next(_count)}"
    chardev.send(data)
    chardev.send(RECOVER + marker.encode() + b"\r\n")
    vt.wait_text(marker)
    wait_for(lambda: marker.encode() in log_path.read_bytes(), "the log")
    assert chardev.still_up()
    session = vt.server.session  # type: ignore[union-attr]
    assert vt.call(lambda: (dict(session.stages.faults), session.emulator.parser.faults)) == ({}, 0)


def test_a_failing_file_counts_what_it_misses_and_retries_once_a_second(small_disk: Path) -> None:
    """AppendFile on a real full disk, with a clock of days: a partial write counts only what
    did not fit; while failing, writes are tried once per retry interval; the marker tells the
    exact count."""
    now = [time.monotonic() + 3 * 86400.0]
    notices: list[str] = []
    path = small_disk / "x.log"
    out = AppendFile(
        str(path),
        "console log",
        retry=1.0,
        clock=lambda: now[0],
        on_notice=lambda key, text, ttl: notices.append(text),
    )
    assert out.write(b"a" * 100)
    filler = _fill(small_disk)
    assert not out.write(b"b" * 5000)  # 3996 bytes fit in the file's page
    assert out.failing == "No space left on device" and out.missed == 1004
    assert len(notices) == 1
    filler.unlink()
    now[0] += 0.5
    assert not out.write(b"c" * 5)  # not tried again yet: counted
    assert out.missed == 1009 and path.stat().st_size == PAGE
    now[0] += 0.5
    assert out.write(b"d")
    assert path.read_bytes() == (
        b"a" * 100 + b"b" * 3996 + console_marker(1009, "No space left on device") + b"d"
    )
    assert out.failing is None and out.missed == 0 and out.missed_total == 1009
    assert notices[1] == f"console log {path}: writing again; 1009 bytes missed"
    # failing again within a minute of the report (a disk hovering at full): marked, not reported
    filler = _fill(small_disk)
    assert not out.write(b"e" * PAGE)
    filler.unlink()
    now[0] += 1.0
    assert out.write(b"f")
    assert path.read_bytes().endswith(
        console_marker(out.missed_total - 1009, "No space left on device") + b"f"
    )
    assert len(notices) == 2
    now[0] += QUIET
    filler = _fill(small_disk)
    assert not out.write(b"g" * PAGE)
    assert len(notices) == 3  # a minute later it is news again
    out.close()


PTY_PROGRAM = r"""
import os, sys, time, tty
tty.setraw(0)
os.write(1, b"\x1b[" + b"5" * 5000 + b"m\x1b]4;" + b"1" * 5000 + b";?\x07\x1b[6n")
reply = b""
while not reply.endswith(b"R"):
    reply += os.read(0, 1)
os.write(1, b"\x1b[0m\r\nreply:" + reply[1:] + b" after-hostile\r\n")
time.sleep(30)
"""


def test_hostile_output_on_a_pty_still_gets_its_replies() -> None:
    """A program on a pty sends 5000-digit parameters then asks where the cursor is: the rest
    of that read is parsed, nothing is drawn, and the reply says the cursor never moved (the
    old parser raised, lost the rest of the read and drew the OSC's digits as text: 23;60)."""
    with RunningVncterm([sys.executable, "-c", PTY_PROGRAM]) as vt:
        lines = vt.wait_text("after-hostile")
        assert any("reply:[1;1R after-hostile" in line for line in lines), lines
        assert not any("111" in line for line in lines), lines
