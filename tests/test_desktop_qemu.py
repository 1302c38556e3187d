"""vncterm's desktop client against QEMU's own VNC display over a unix socket (the
``--desktop unix:PATH`` case): the decoded framebuffer must equal QEMU's ``screendump`` of the
same screen (SeaBIOS text on the standard VGA), with each encoding preferred in turn.

Needs: apt qemu-system-x86 (with its SeaBIOS firmware); pip numpy pillow pytest.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vncterm.desktop import DesktopConnection
from vncterm.rfb.constants import Encoding

pytestmark = pytest.mark.peer


class Qemu:
    def __init__(self, tmp: Path) -> None:
        self.vnc = tmp / "vnc.sock"
        self.monitor = tmp / "monitor.sock"
        self.dump = tmp / "screen.ppm"
        self.proc = subprocess.Popen(
            [
                "qemu-system-x86_64",
                "-nodefaults",
                "-vga",
                "std",
                "-display",
                "none",
                "-m",
                "64",
                "-vnc",
                f"unix:{self.vnc}",
                "-monitor",
                f"unix:{self.monitor},server,nowait",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (self.vnc.exists() and self.monitor.exists()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("QEMU did not start")
            time.sleep(0.05)

    def screendump(self) -> np.ndarray:
        """QEMU's own screen, 0x00RRGGBB, through the monitor's ``screendump``."""
        self.dump.unlink(missing_ok=True)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.monitor))
            s.settimeout(5)
            data = b""
            while b"(qemu)" not in data:  # banner and prompt
                data += s.recv(4096)
            s.sendall(f"screendump {self.dump}\n".encode())
            data = b""
            while b"(qemu)" not in data:  # the command has run when the prompt is back
                data += s.recv(4096)
        rgb = np.asarray(Image.open(self.dump).convert("RGB")).astype(np.uint32)
        out: np.ndarray = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def qemu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Qemu]:
    q = Qemu(tmp_path_factory.mktemp("qemu"))
    try:
        deadline = time.monotonic() + 15  # until SeaBIOS has printed something
        while len(np.unique(q.screendump())) < 2:
            assert time.monotonic() < deadline, "QEMU's screen stayed blank"
            time.sleep(0.2)
        yield q
    finally:
        q.stop()


@pytest.mark.parametrize(
    "encoding",
    [Encoding.RAW, Encoding.HEXTILE, Encoding.ZRLE, Encoding.TIGHT],
    ids=["raw", "hextile", "zrle", "tight"],
)
def test_qemu_display_decodes_exactly(qemu: Qemu, encoding: int) -> None:
    async def run() -> None:
        conn = await DesktopConnection.connect(path=str(qemu.vnc), encodings=[encoding])
        conn.start()
        try:
            assert conn.name == "QEMU"
            deadline = time.monotonic() + 10
            while True:  # the text cursor blinks: wait for a moment both sides agree on
                ref = await asyncio.to_thread(qemu.screendump)
                if conn.framebuffer.shape == ref.shape and np.array_equal(conn.framebuffer, ref):
                    break
                assert time.monotonic() < deadline, "framebuffer never matched screendump"
                await asyncio.sleep(0.05)
            assert conn.client.rect_counts[encoding] > 0
            assert {e for e in conn.client.rect_counts if e >= 0} == {encoding}
        finally:
            await conn.close()

    asyncio.run(run())
