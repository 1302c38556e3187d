"""Paced pastes (``--paste-rate``, ``--paste-line-delay``) on a --tty whose reader drops what
comes faster than it reads, pasted from noVNC (Node) with its own clipboard and Shift+Insert.

A Linux pty gives back-pressure (a raw pty takes ~12 KB and then makes the writer wait: nothing
is lost), so the reader here is the one that drops: like a boot loader polling a UART's FIFO
(16 bytes in a 16550; more here, so a busy CI machine delaying a wake-up by up to ~0.25 s does
not make the paced case lose too), it wakes every POLL seconds, reads what the pty holds and
keeps only FIFO bytes of it, the rest overrun. A paste much faster than FIFO / POLL loses
text; one paced at 500 bytes a second does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import select
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import RunningVncterm
from peers.novnc_client import NoVncClient
from peers.qemu_guest import QemuGuest, Serial

from vncterm.cli import config_from_args
from vncterm.config import ConsoleSpec
from vncterm.config_file import load_config_file
from vncterm.errors import ConfigError
from vncterm.server.paste_pacing import PASTE_TTY_RATE, PastePacer, pace_for
from vncterm.server.status import StatusRow

FIFO = 128  # bytes the reader keeps per wake-up
POLL = 0.02  # seconds between wake-ups: it keeps up with 6400 bytes a second at most
SHIFT, INSERT, ESCAPE = 0xFFE1, 0xFF63, 0xFF1B


class OverrunReader:
    """The far end of a pty: reads it every POLL seconds, keeping FIFO bytes each time."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self.slave = slave  # held open so the pty stays while vncterm reopens it
        self.kept = bytearray()
        self.lost = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            time.sleep(POLL)
            if select.select([self.master], [], [], 0)[0]:
                try:
                    got = os.read(self.master, 1 << 16)
                except OSError:
                    return
                self.kept += got[:FIFO]
                self.lost += len(got[FIFO:])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def reader() -> Iterator[OverrunReader]:
    r = OverrunReader()
    yield r
    r.close()


TEXT = "".join(f"line {i:03d} of a pasted script, typed into a slow console\n" for i in range(25))


def paste(viewer: NoVncClient, vt: RunningVncterm, text: str) -> None:
    """noVNC's clipboard, then Shift+Insert (vncterm types a viewer's clipboard only then)."""
    viewer.paste(text)
    assert vt.server is not None
    session = vt.server.session
    deadline = time.monotonic() + 10
    while text not in vt.call(lambda: [v.clipboard.text for v in session.viewers]):
        assert time.monotonic() < deadline, "the clipboard never reached vncterm"
        time.sleep(0.05)
    viewer.key(SHIFT, down=True)
    viewer.key(INSERT)
    viewer.key(SHIFT, down=False)


def wait_bytes(reader: OverrunReader, n: int, quiet: float = 1.0, timeout: float = 30) -> None:
    """Until ``n`` bytes came (kept or lost) and nothing more for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        seen = len(reader.kept) + reader.lost
        if seen != last:
            last, since = seen, time.monotonic()
        elif seen >= n and time.monotonic() - since > quiet:
            return
        time.sleep(0.05)
    raise AssertionError(f"{len(reader.kept)} kept + {reader.lost} lost of {n}")


@pytest.mark.peer
@pytest.mark.parametrize("rate", [0, 500])
def test_paste_on_a_tty_that_overruns_is_lost_unpaced_and_kept_paced(
    reader: OverrunReader, rate: int
) -> None:
    spec = ConsoleSpec("tty", reader.path)
    want = TEXT.replace("\n", "\r").encode()
    with (
        RunningVncterm([], console=spec, paste_rate=rate, paste_line_delay=0.0) as vt,
        NoVncClient() as viewer,
    ):
        viewer.connect("127.0.0.1", vt.port, quality=None)
        paste(viewer, vt, TEXT)
        wait_bytes(reader, len(want))
    if rate == 0:  # at once: the reader overran and lost most of it
        assert reader.lost > len(want) // 2 and bytes(reader.kept) != want
    else:  # paced under what the reader keeps up with: every byte, in order
        assert reader.lost == 0 and bytes(reader.kept) == want


@pytest.mark.peer
def test_long_paste_shows_progress_and_escape_cancels_it(reader: OverrunReader) -> None:
    """A paced paste on a --tty (its default pace) shows its progress on the status row;
    Escape from the viewer stops it, and is not typed."""
    spec = ConsoleSpec("tty", reader.path)
    text = TEXT * 8  # ~13 KB: ~13 s at the default 1000 bytes a second
    with RunningVncterm([], console=spec) as vt, NoVncClient() as viewer:
        assert vt.server is not None
        status = vt.server.session.status
        viewer.connect("127.0.0.1", vt.port, quality=None)
        paste(viewer, vt, text)
        deadline = time.monotonic() + 10
        while "pasting:" not in (vt.call(status.text) or ""):
            assert time.monotonic() < deadline, vt.call(status.text)
            time.sleep(0.05)
        assert "(Escape cancels)" in (vt.call(status.text) or "")
        viewer.key(ESCAPE)
        deadline = time.monotonic() + 10
        while "paste cancelled" not in (vt.call(status.text) or ""):
            assert time.monotonic() < deadline, vt.call(status.text)
            time.sleep(0.05)
        time.sleep(0.5)
    got = bytes(reader.kept)
    assert reader.lost == 0 and 0 < len(got) < len(text) // 2, (len(got), reader.lost)
    assert text.replace("\n", "\r").encode().startswith(got) and b"\x1b" not in got


@pytest.mark.unit
def test_paste_options_on_the_command_line_and_in_the_config_file(tmp_path: Path) -> None:
    config, _ = config_from_args(
        ["--paste-rate", "300", "--paste-line-delay", "150", "--tty", "/dev/ttyS9"]
    )
    assert (config.paste_rate, config.paste_line_delay) == (300, 0.15)
    assert pace_for(config) == (300, 0.15)
    path = tmp_path / "vncterm.toml"
    path.write_text(
        '[console.uart]\ntty = "/dev/ttyS0"\npaste-line-delay = 50\n'
        '[console.vm]\nunix = "/run/vm.sock"\n'
        '[console.uefi]\nunix = "/run/uefi.sock"\npaste-rate = 120\n'
    )
    host = load_config_file(str(path))
    # a tty is paced by default; a QEMU socket types at once unless told
    assert pace_for(host.consoles["uart"]) == (PASTE_TTY_RATE, 0.05)
    assert pace_for(host.consoles["vm"]) == (0, 0.0)
    assert pace_for(host.consoles["uefi"]) == (120, 0.0)
    with pytest.raises(ConfigError):
        config_from_args(["--paste-rate", "-1", "--", "true"])


@pytest.mark.peer
@pytest.mark.slow
def test_qemu_socket_paste_at_once_reaches_a_slow_guest_reader_whole(tmp_path: Path) -> None:
    """QEMU reads its serial socket only as the guest's UART drains (the guest's 8250 driver
    stops taking input while its tty is full): a 12 KB paste typed at once (the default on a
    socket) into a guest reading its raw tty 128 bytes at a time, slowly, arrives whole."""
    serial = tmp_path / "ttyS0.sock"
    text = "".join(f"{i:05d} pasted into a slow reader in the guest\n" for i in range(260))
    want = text.replace("\n", "\r").encode()
    with (
        QemuGuest(tmp_path / "vm", [Serial.unix(serial)], monitor=False),
        RunningVncterm([], console=ConsoleSpec("unix", str(serial))) as vt,
        NoVncClient() as viewer,
    ):
        assert vt.server is not None
        assert (vt.server.session.pacer.rate, vt.server.session.pacer.line_delay) == (0, 0.0)
        vt.wait_text("guest:", timeout=120)
        viewer.connect("127.0.0.1", vt.port, quality=None)
        viewer.type(
            "stty raw -echo min 0 time 30; rm -f /tmp/got; while :; do "
            "n=$(dd bs=128 count=1 2>/dev/null | tee -a /tmp/got | wc -c); "
            '[ "$n" = 0 ] && break; sleep 0.05; done; stty sane; '
            "echo GOT $(wc -c < /tmp/got) $(md5sum < /tmp/got)\n"
        )
        time.sleep(1.0)  # the reader is reading
        paste(viewer, vt, text)
        deadline = time.monotonic() + 120
        while not (got := [m for line in vt.text() if (m := re.match(r"GOT (\d+) (\w+)", line))]):
            assert time.monotonic() < deadline, vt.text()
            time.sleep(0.2)
    assert got[0].groups() == (str(len(want)), hashlib.md5(want).hexdigest()), got[0].group()


@pytest.mark.unit
def test_pacer_queues_pastes_in_order_and_a_cancel_still_closes_the_bracket() -> None:
    async def main() -> tuple[bytes, bytes, str | None]:
        out: list[bytes] = []
        status = StatusRow()
        pacer = PastePacer(out.append, status, rate=2000, line_delay=0.001)
        pacer.paste(b"\x1b[200~first\rpaste\r", b"\x1b[201~")
        pacer.paste(b"\x1b[200~second\r", b"\x1b[201~")  # waits for the first, end included
        while pacer.active:
            await asyncio.sleep(0.01)
        done = b"".join(out)
        out.clear()
        pacer.paste(b"\x1b[200~" + b"x" * 5000, b"\x1b[201~")  # 2.5 s at 2000 bytes a second
        await asyncio.sleep(0.1)
        assert pacer.cancel() and not pacer.cancel()
        return done, b"".join(out), status.text()

    done, cancelled, text = asyncio.run(main())
    assert done == b"\x1b[200~first\rpaste\r\x1b[201~\x1b[200~second\r\x1b[201~"
    assert cancelled.startswith(b"\x1b[200~x") and cancelled.endswith(b"x\x1b[201~")
    assert len(cancelled) < 2000 and text is not None and "paste cancelled" in text
