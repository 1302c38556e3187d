"""--tty and pseudo-terminals: a pty that closed is never reopened by its number (the number
goes to the next program that opens a pty), a symlink kept current by the guest's manager is
followed to a new pty only, and another session's controlling terminal is refused."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import termios
from pathlib import Path

import pytest
from console_helpers import Collector

from vncterm.console.device import DeviceConsole, controlling_process

pytestmark = pytest.mark.peer


def _pty() -> tuple[int, str]:
    """A new pty: its master (non-blocking) and its slave's path (slave closed)."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    os.set_blocking(master, False)
    return master, path


def _point(link: Path, target: str) -> None:
    """Replace ``link`` atomically (what a manager keeping a current-pty link does)."""
    tmp = link.with_suffix(".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


def test_a_closed_pty_given_by_number_is_never_reopened() -> None:
    """/dev/pts/N closes; new ptys are opened (the kernel hands out the lowest free number, so
    one of them is likely N again): the console stops with a status and attaches to none."""

    async def main() -> None:
        master, path = _pty()
        col = Collector()
        console = DeviceConsole(path, min_backoff=0.05, max_backoff=0.1)
        await console.start(col.on_data, col.on_status)
        others: list[int] = []
        try:
            os.write(master, b"before")
            await col.expect(b"before", 5)
            os.close(master)
            await col.expect_status("stopped: ", 5)
            for _ in range(3):
                others.append(_pty()[0])
            await asyncio.sleep(0.5)  # several backoff periods
            assert console.connections == 1 and not console.connected
            assert not any(s.startswith("disconnected: reconnecting") for s in col.statuses)
        finally:
            console.close()
            for fd in others:
                os.close(fd)

    asyncio.run(main())


def test_a_symlink_is_followed_to_a_new_pty_only(tmp_path: Path) -> None:
    """The link's pty closes and a new pty (maybe with the same number) appears while the link
    still points at the old path: not attached. The manager repoints the link: attached."""
    link = tmp_path / "vm-console"

    async def main() -> None:
        first, first_path = _pty()
        _point(link, first_path)
        col = Collector()
        console = DeviceConsole(link, min_backoff=0.05, max_backoff=0.1)
        await console.start(col.on_data, col.on_status)
        masters: list[int] = []
        try:
            os.close(first)
            await col.expect_status("disconnected: reconnecting", 5)
            for _ in range(3):
                masters.append(_pty()[0])  # the old number may be one of these now
            await asyncio.sleep(0.5)
            assert console.connections == 1 and not console.connected, col.statuses
            new, new_path = _pty()
            masters.append(new)
            n = len(col.statuses)
            _point(link, new_path)
            await col.expect_status("connected", 5, n)
            os.write(new, b"from the new pty")
            await col.expect(b"from the new pty", 5)
            assert console.connections == 2
        finally:
            console.close()
            for fd in masters:
                os.close(fd)

    asyncio.run(main())


def test_another_sessions_controlling_terminal_is_refused() -> None:
    """A real session leader (setsid) owns the pty as its controlling terminal: refused."""
    master, slave = os.openpty()
    path = os.ttyname(slave)

    def take_ctty() -> None:  # in the child: the pty becomes its session's terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    owner = subprocess.Popen(
        ["sleep", "30"], stdin=slave, start_new_session=True, preexec_fn=take_ctty
    )
    os.close(slave)
    try:
        assert controlling_process(os.stat(path).st_rdev) == owner.pid

        async def main() -> None:
            col = Collector()
            console = DeviceConsole(path, min_backoff=0.05)
            await console.start(col.on_data, col.on_status)
            try:
                status = await col.expect_status("stopped: ", 5)
                assert f"controlling terminal of process {owner.pid}" in status, status
                assert console.connections == 0
            finally:
                console.close()

        asyncio.run(main())
    finally:
        owner.kill()
        owner.wait()
        os.close(master)
