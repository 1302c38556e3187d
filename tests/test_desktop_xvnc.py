"""vncterm's desktop client against a real desktop: TigerVNC's Xvnc, reached both ways.

vncterm connects out (``DesktopConnection.connect``) and Xvnc connects in reverse
(``vncconfig -connect``); with each encoding preferred in turn, the decoded framebuffer must equal
Xvnc's own screen as ``xwd -root`` reads it, pixel for pixel (Tight JPEG within a tolerance), and
the preferred encoding must really have been used. Then: later drawing arrives, xterm scrolling
arrives as CopyRects, a resize arrives as Resized, typed keys reach an X client.

Needs: apt tigervnc-standalone-server tigervnc-tools x11-apps x11-xserver-utils xterm
xfonts-base; pip numpy pillow pytest hypothesis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from peers.xvnc import XvncServer, write_xwd

from vncterm.desktop import (
    CursorChanged,
    DesktopConnection,
    Event,
    FramebufferUpdated,
    Resized,
    ReverseListener,
)
from vncterm.rfb.constants import Encoding

pytestmark = pytest.mark.peer

PASSWORD = "desktop"
W, H = 400, 300
CENTRE = (W // 2, H // 2)  # where Xvnc starts the pointer


def scene_image() -> np.ndarray:
    """Gradient, noise and a few-colour block: every tile class of every encoding."""
    y, x = np.mgrid[0:160, 0:240].astype(np.uint32)
    img = ((x * 255 // 239) << 16) | ((y * 255 // 159) << 8) | ((x + y) % 256)
    img[80:, 120:] = np.random.default_rng(7).integers(0, 1 << 24, size=(80, 120))
    img[:40, :60] = np.array([0xFF0000, 0x00FF00, 0x0000FF], np.uint32)[(x[:40, :60] // 7) % 3]
    return img


def settle(server: XvncServer, timeout: float = 10.0) -> np.ndarray:
    deadline = time.monotonic() + timeout
    last = server.screenshot()
    while time.monotonic() < deadline:
        time.sleep(0.15)
        now = server.screenshot()
        if np.array_equal(now, last) and len(np.unique(now)) > 1000:
            return now
        last = now
    raise AssertionError("Xvnc's screen never settled")


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XvncServer]:
    """Xvnc (VNC auth) showing a root colour, the scene image (top-left, under the pointer)
    and an xterm with text."""
    tmp = tmp_path_factory.mktemp("desktop")
    write_xwd(tmp / "img.xwd", scene_image())
    with XvncServer((W, H), password=PASSWORD) as server:
        server.run("xsetroot", "-solid", "#336699")
        server.spawn("xwud", "-in", str(tmp / "img.xwd"))
        server.spawn(
            "xterm",
            "-geometry",
            "24x5+250+200",
            "-fn",
            "fixed",
            "-bg",
            "black",
            "-fg",
            "yellow",
            "-e",
            "sh",
            "-c",
            "echo 'Hello, desktop!'; sleep 3600",
        )
        settle(server)
        yield server


async def open_desktop(server: XvncServer, direction: str, **options: object) -> DesktopConnection:
    if direction == "forward":
        return await DesktopConnection.connect(
            server.host, server.port, password=PASSWORD, **options
        )
    async with ReverseListener("127.0.0.1", 0, password=PASSWORD, **options) as listener:
        proc = await asyncio.create_subprocess_exec(
            "vncconfig", "-display", server.display, "-connect", f"127.0.0.1:{listener.port}"
        )
        assert await proc.wait() == 0
        return await asyncio.wait_for(listener.accept(), 10)


def channel_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack(
        [np.abs(((a >> s) & 255).astype(int) - ((b >> s) & 255).astype(int)) for s in (16, 8, 0)]
    )


async def wait_matching(
    conn: DesktopConnection, server: XvncServer, tolerance: int = 0, timeout: float = 10.0
) -> np.ndarray:
    """Wait until our framebuffer equals ``xwd -root`` (within ``tolerance`` per channel)."""
    deadline = time.monotonic() + timeout
    while True:
        ref = await asyncio.to_thread(server.screenshot)
        fb = conn.framebuffer
        if fb.shape == ref.shape:
            diff = channel_diff(fb, ref)
            if int(diff.max()) <= tolerance:
                return ref
            detail = f"{int((diff.max(axis=0) > tolerance).sum())} pixels differ"
        else:
            detail = f"shape {fb.shape} vs {ref.shape}"
        if time.monotonic() > deadline or conn.closed:
            raise AssertionError(
                f"framebuffer never matched xwd -root: {detail}; closed: {conn.close_reason}"
            )
        await asyncio.sleep(0.1)


CASES = [
    ("raw", [Encoding.RAW], None),
    ("hextile", [Encoding.HEXTILE], None),
    ("zrle", [Encoding.ZRLE], None),
    ("tight", [Encoding.TIGHT], None),
    ("tight-jpeg", [Encoding.TIGHT], 9),
]


@pytest.mark.parametrize("direction", ["forward", "reverse"])
@pytest.mark.parametrize(("name", "encodings", "jpeg"), CASES, ids=[c[0] for c in CASES])
def test_decoded_screen_equals_xwd(
    desktop: XvncServer, direction: str, name: str, encodings: list[int], jpeg: int | None
) -> None:
    async def run() -> None:
        conn = await open_desktop(desktop, direction, encodings=encodings, jpeg_quality=jpeg)
        events: list[Event] = []
        conn.start(events.append)
        # our pointer where Xvnc's is: Xvnc then leaves the cursor out of the pixels (it sends
        # it as the Cursor pseudo-encoding)
        conn.send_pointer(*CENTRE, 0)
        try:
            assert (conn.width, conn.height) == (W, H)
            tolerance = 8 if jpeg else 0  # JPEG at quality level 9 is off by a few units
            await wait_matching(conn, desktop, tolerance)
            counts = conn.client.rect_counts
            assert counts[encodings[0]] > 0
            used = {e for e in counts if e >= 0} - {Encoding.COPYRECT}
            assert used == {encodings[0]}, f"encodings used: {counts}"
            if name.startswith("tight"):
                assert (conn.client.tight.counts["jpeg"] > 0) == (jpeg is not None)
            cursors = [e for e in events if isinstance(e, CursorChanged)]
            assert cursors and cursors[-1].image.ndim == 3 and cursors[-1].image.shape[2] == 4
            # later drawing arrives too, exactly
            colour = {
                "raw": "#102030",
                "hextile": "#405060",
                "zrle": "#708090",
                "tight": "#a0b0c0",
                "tight-jpeg": "#c0d0e0",
            }[name]
            await asyncio.to_thread(desktop.run, "xsetroot", "-solid", colour)
            ref = await wait_matching(conn, desktop, tolerance)
            assert ref[H - 1, 0] == int(colour[1:], 16)
            assert not conn.closed
        finally:
            await conn.close()
        assert isinstance(events[-1], FramebufferUpdated)

    asyncio.run(run())


@pytest.fixture
def lively(tmp_path: Path) -> Iterator[tuple[XvncServer, Path]]:
    """A fresh small Xvnc (no password) with a full-screen xterm that appends typed lines
    to a file."""
    typed = tmp_path / "typed.txt"
    typed.touch()
    with XvncServer((320, 200)) as server:
        server.spawn(
            "xterm",
            "-geometry",
            "53x15+0+0",
            "-fn",
            "fixed",
            "-e",
            "sh",
            "-c",
            f'while IFS= read -r l; do printf "%s\\n" "$l" >> {typed}; done',
        )
        deadline = time.monotonic() + 10
        while len(np.unique(server.screenshot())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield server, typed


def test_copyrect_resize_keys_and_pointer(lively: tuple[XvncServer, Path]) -> None:
    server, typed = lively

    async def run() -> None:
        conn = await DesktopConnection.connect(
            server.host, server.port, encodings=[Encoding.ZRLE, Encoding.COPYRECT]
        )
        events: list[Event] = []
        conn.start(events.append)
        conn.send_pointer(160, 100, 0)  # over the xterm: it has the keyboard focus
        try:
            await wait_matching(conn, server)
            # typed keys reach the xterm; its output scrolls, which Xvnc sends as CopyRects
            for i in range(30):
                for ch in f"line {i}":
                    conn.send_key(ord(ch), True)
                    conn.send_key(ord(ch), False)
                conn.send_key(0xFF0D, True)
                conn.send_key(0xFF0D, False)
                await asyncio.sleep(0.02)
            deadline = time.monotonic() + 10
            while "line 29" not in typed.read_text() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert typed.read_text().splitlines() == [f"line {i}" for i in range(30)]
            await wait_matching(conn, server)
            copies = [c for e in events if isinstance(e, FramebufferUpdated) for c in e.copies]
            assert copies, "xterm scrolled but no CopyRect arrived"
            assert conn.client.rect_counts[Encoding.COPYRECT] > 0
            assert all(c.src.x == c.x and c.src.y > c.y for c in copies)  # scrolling up
            # a resize arrives as Resized and the new screen still matches
            await asyncio.to_thread(server.run, "xrandr", "--fb", "360x240")
            await wait_matching(conn, server)
            assert Resized(360, 240) in events and conn.framebuffer.shape == (240, 360)
        finally:
            await conn.close()

    asyncio.run(run())
