"""Caps on what one viewer can make the server hold: stream captures, the framebuffer, the
scrollback's memory."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness import RunningVncterm
from rawclient import RawClient
from sizeclient import SizingClient
from wsclient import WebSocketSocket

from vncterm.cli import config_from_args
from vncterm.client import StreamClient
from vncterm.errors import ConfigError
from vncterm.geometry import Rect
from vncterm.render.font import CellFont
from vncterm.render.renderer import TerminalRenderer
from vncterm.terminal.colours import DEFAULT_BG
from vncterm.terminal.emulator import Emulator
from vncterm.terminal.scrollback import row_bytes

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def test_captures_per_viewer_are_capped_and_refusals_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With --max-captures 4, a viewer gets 4 captures of the console; the next 20 are
    refused (start then end), with one log line; ending one makes room for another."""
    caplog.set_level(logging.INFO)
    with RunningVncterm(SHELL, max_captures=4) as server:
        server.wait_text("$")

        async def go() -> tuple[int, int, bool]:
            client = await StreamClient.connect("127.0.0.1", server.port)
            await client.wait_for_stream("console")
            held = [await client.open("console") for _ in range(4)]
            refused = 0
            for _ in range(20):
                try:
                    held.append(await client.open("console"))
                except LookupError:
                    refused += 1
            held[0].close()
            await asyncio.sleep(0.2)
            again = await client.open("console")
            open_again = not again.ended
            await client.close()
            return len(held), refused, open_again

        assert asyncio.run(go()) == (4, 20, True)
    lines = [r for r in caplog.records if "the most a viewer may" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]


COUNTER = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done"]


def _masked(opcode: int, payload: bytes = b"") -> bytes:
    """One masked client frame (RFC 6455 section 5.2), FIN set, payload under 126 bytes."""
    mask = b"\x11\x22\x33\x44"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def _flood(ws: WebSocketSocket, data: bytes) -> None:
    """Send ``data`` (never reading); stop quietly when the server drops the connection."""
    try:
        for i in range(0, len(data), 1 << 16):
            ws.send_raw(data[i : i + (1 << 16)])
    except OSError:
        pass


def _drain(ws: WebSocketSocket) -> None:
    """Read what the server sent (pongs, its Close) until it closes the connection."""
    ws.settimeout(10)
    try:
        while ws.recv(1 << 16):
            pass
    except OSError:
        pass


def _watch_while(thread: threading.Thread, viewer: RawClient) -> list[float]:
    """Incremental updates of ``viewer`` while ``thread`` runs: their arrival times."""
    times = [time.monotonic()]
    while thread.is_alive():
        viewer.update()
        times.append(time.monotonic())
    return times


def test_websocket_ping_flood_is_answered_in_bulk_and_other_viewers_keep_updating() -> None:
    """200,000 Pings (an empty data frame every 1,000, so no single run is long) from a
    client that never reads: Pongs are coalesced (section 5.5.3), and a plain viewer keeps
    getting the counter's updates while the flood is parsed a slice per turn."""
    chunk = _masked(0x9, b"p") * 1000 + _masked(0x2)
    with RunningVncterm(COUNTER) as server:
        server.wait_text("3")
        viewer = RawClient("127.0.0.1", server.port)
        viewer.update(incremental=False)
        flooder = WebSocketSocket("127.0.0.1", server.port)

        def flood_then_close() -> None:
            # the Close (1000) is read after every Ping: the server answers it, then ends
            _flood(flooder, chunk * 200 + _masked(0x8, b"\x03\xe8"))
            _drain(flooder)

        thread = threading.Thread(target=flood_then_close)
        thread.start()
        times = _watch_while(thread, viewer)
        thread.join()
        viewer.close()
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    print(f"updates during the flood: {len(times) - 1}, longest gap {gaps[-1]:.3f} s")
    assert len(times) > 3, "the other viewer got no updates during the flood"
    assert 0 < len(flooder.pongs) < 200_000 // 50, len(flooder.pongs)


def test_websocket_control_frames_without_data_drop_the_connection() -> None:
    """A run of Pings with no data frame is a flood: closed with 1008 long before 200,000."""
    with RunningVncterm(COUNTER) as server:
        flooder = WebSocketSocket("127.0.0.1", server.port)
        _flood(flooder, _masked(0x9) * 200_000)
        _drain(flooder)
    assert flooder.close_code == 1008, (flooder.close_code, flooder.close_reason)
    assert len(flooder.pongs) < 200, len(flooder.pongs)


def _rss_mib(pid: int) -> float:
    """VmRSS of a process (/proc/PID/status), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_framebuffer_cap_is_refused_and_memory_returns_after_a_shrink(tmp_path: Path) -> None:
    """A real vncterm process: SetDesktopSize above --max-framebuffer gets status 3 (invalid
    screen layout) and no size change; at the cap the frame is exactly that size; back at a
    small size, the process's RSS falls back to near where it started."""
    sock = tmp_path / "vt.sock"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vncterm",
            "--listen",
            f"unix:{sock}",
            "--max-framebuffer",
            "4096x4096",
            "--",
            "sh",
            "-c",
            "ls -l --color=always /usr/bin; sleep 60",
        ],
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        viewer = SizingClient(str(sock), family=socket.AF_UNIX, timeout=60)
        viewer.update(incremental=False)
        viewer.update(incremental=False)
        start = _rss_mib(server.pid)
        assert viewer.resize(8999, 8999) == 3
        assert viewer.resize(4097, 100) == 3
        assert viewer.fb.shape == (450, 720)
        assert viewer.resize(4096, 4096) == 0
        assert viewer.fb.shape == (4096, 4096)
        peak = _rss_mib(server.pid)
        assert viewer.resize(724, 457) == 0
        assert viewer.fb.shape == (457, 724)
        time.sleep(0.3)
        after = _rss_mib(server.pid)
        print(f"RSS: start {start:.0f} MiB, at 4096x4096 {peak:.0f}, back at 724x457 {after:.0f}")
        assert peak - start > 64, (start, peak)  # the big frame was really there
        assert after - start < 16, (start, peak, after)
        viewer.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _truecolour_line(n: int, cols: int) -> str:
    """A line of ``cols`` cells, each in its own 24-bit colour (nothing shared between rows)."""
    return (
        "".join(
            f"\x1b[38;2;{(n * 7 + i) % 256};{i % 256};{n % 256}m{chr(65 + i % 26)}"
            for i in range(cols)
        )
        + "\x1b[m\r\n"
    )


def test_styled_scrollback_is_held_to_its_memory_bound() -> None:
    """200 rows of 200 truecolour cells (~48 KB each, ~9.7 MB in all) into a scrollback of
    10,000 lines and 1 MiB: the oldest rows go, the newest stay."""
    emulator = Emulator(200, 10, scrollback=10000, scrollback_memory=1 << 20)
    for start in range(0, 200, 100):
        emulator.feed("".join(_truecolour_line(n, 200) for n in range(start, start + 100)).encode())
    sb = emulator.screen.scrollback
    assert sb.bytes <= 1 << 20
    assert 10 < len(sb) < 40, len(sb)
    # the newest row that left the screen is the last one kept
    assert sb[len(sb) - 1].text.startswith("ABCDEF")


def test_flooded_plain_scrollback_obeys_both_bounds() -> None:
    """A flood of plain lines (kept as bare strings) is held to the bytes bound too, and to
    the line count when that comes first."""
    line = "y" * 199 + "\r\n"
    small = Emulator(200, 10, scrollback=100_000, scrollback_memory=1 << 20)
    small.feed((line * 20_000).encode())
    sb = small.screen.scrollback
    assert sb.bytes <= 1 << 20 and 1000 < len(sb) < 5000, (sb.bytes, len(sb))
    counted = Emulator(200, 10, scrollback=500, scrollback_memory=64 << 20)
    counted.feed((line * 20_000).encode())
    assert len(counted.screen.scrollback) == 500
    # what the deque's line cap pushed out left the count too (kept as bare strings)
    assert counted.screen.scrollback.bytes == 500 * row_bytes("y" * 199)


def test_limit_options_parse_and_are_checked() -> None:
    config, _ = config_from_args(
        [
            "--max-captures",
            "3",
            "--max-framebuffer",
            "5000x3000",
            "--scrollback-memory",
            "8",
            "--",
            "sh",
        ]
    )
    assert config.max_captures == 3
    assert config.max_framebuffer == (5000, 3000)
    assert config.scrollback_memory == 8 << 20
    default, _ = config_from_args(["--", "sh"])
    assert (default.max_captures, default.max_framebuffer) == (16, (4096, 4096))
    assert default.scrollback_memory == 64 << 20
    for bad in (
        ["--max-framebuffer", "9000x100"],
        ["--max-captures", "0"],
        ["--scrollback-memory", "0.5"],
    ):
        with pytest.raises(ConfigError):
            config_from_args([*bad, "--", "sh"])


def test_last_resize_wins_others_hear_another_client_and_no_ping_pong() -> None:
    """Two viewers with ExtendedDesktopSize: each request is answered with reason 1 (this
    client) and the other viewer hears reason 2 (another client) with the new size. A viewer
    asking for its own size back right after the other replaced it is refused (status 1), so
    the two never take turns; once the change has settled (1 s), it may again."""
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        a = SizingClient("127.0.0.1", server.port)
        b = SizingClient("127.0.0.1", server.port)
        for viewer in (a, b):
            viewer.update(incremental=False)
        assert a.resize(803, 605) == 0
        b.wait_for(lambda c: (2, 0, 803, 605) in c.sizes)
        assert b.fb.shape == (605, 803)
        assert b.resize(700, 501) == 0  # b never resized before: the last request wins
        a.wait_for(lambda c: (2, 0, 700, 501) in c.sizes)
        assert a.resize(803, 605) == 1  # a takes it back at once: refused
        assert server.framebuffer().shape == (501, 700)
        time.sleep(1.2)
        assert a.resize(803, 605) == 0
        assert server.framebuffer().shape == (605, 803)
        a.close()
        b.close()


def test_renderer_margin_is_default_background_and_hinted() -> None:
    """A framebuffer that is not whole cells: the cells at the top left, the rest in the
    default background, which the palette hint of a rectangle reaching into it includes."""
    r = TerminalRenderer(CellFont(15), 10, 2)
    r.resize(10, 2, 10 * r.cell_w + 5, 2 * r.cell_h + 7)
    screen = Emulator(10, 2)
    screen.feed(b"\x1b[41mred")
    r.refresh(screen.screen, cursor_visible=True)
    assert (r.width, r.height) == (10 * r.cell_w + 5, 2 * r.cell_h + 7)
    assert (r.pixels[:, 10 * r.cell_w :] == DEFAULT_BG).all()
    assert (r.pixels[2 * r.cell_h :, :] == DEFAULT_BG).all()
    hint = r.palette_hint(Rect(0, 0, r.width, r.height))
    assert hint is not None and DEFAULT_BG in hint
