"""A reference VNC server for proving the peer wrappers: TigerVNC's Xvnc (Debian
``tigervnc-standalone-server``), with its own screen read back through ``xwd`` (``x11-apps``).

Only the harness self-check uses this; vncterm's own tests compare against vncterm's framebuffer.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import numpy as np

from .common import PeerError


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_xwd(data: bytes) -> np.ndarray:
    """An XWD dump (ZPixmap TrueColor, 24 or 32 bits per pixel) as an (h, w) uint32 array of
    0x00RRGGBB."""
    hdr = struct.unpack(">25I", data[:100])
    (
        header_size,
        version,
        pixmap_format,
        _depth,
        width,
        height,
        _xoff,
        byte_order,
        _unit,
        _bit_order,
        _pad,
        bpp,
        bytes_per_line,
        _visual,
        red_mask,
        green_mask,
        blue_mask,
        _bits_rgb,
        _cmap_entries,
        ncolors,
    ) = hdr[:20]
    if version != 7 or pixmap_format != 2 or bpp not in (24, 32):
        raise PeerError(f"unsupported XWD: version {version} format {pixmap_format} bpp {bpp}")
    offset = header_size + 12 * ncolors
    rows = np.frombuffer(data, dtype=np.uint8, count=height * bytes_per_line, offset=offset)
    size = bpp // 8
    pixels = rows.reshape(height, bytes_per_line)[:, : width * size].reshape(height, width, size)
    if byte_order != 0:  # MSB first
        pixels = pixels[..., ::-1]
    values = np.zeros((height, width), dtype=np.uint32)
    for i in range(size):  # little-endian bytes of each pixel
        values |= pixels[..., i].astype(np.uint32) << (8 * i)

    def channel(mask: int) -> np.ndarray:
        shift = (mask & -mask).bit_length() - 1
        return (values & mask) >> shift

    rgb: np.ndarray = (channel(red_mask) << 16) | (channel(green_mask) << 8) | channel(blue_mask)
    return rgb


def write_xwd(path: Path, rgb: np.ndarray) -> None:
    """Write an (h, w) 0x00RRGGBB array as a 24-bit TrueColor XWD file (for ``xwud``)."""
    h, w = rgb.shape
    name = b"image\0"
    fields = [
        100 + len(name),
        7,
        2,
        24,
        w,
        h,
        0,
        0,
        32,
        0,
        32,
        32,
        w * 4,
        4,
        0xFF0000,
        0xFF00,
        0xFF,
        8,
        0,
        0,
        w,
        h,
        0,
        0,
        0,
    ]
    path.write_bytes(
        struct.pack(">25I", *fields) + name + np.ascontiguousarray(rgb, dtype="<u4").tobytes()
    )


class XvncServer:
    """Xvnc on a free display and port; a context manager that always kills it."""

    def __init__(
        self,
        geometry: tuple[int, int] = (320, 200),
        password: str | None = None,
        depth: int = 24,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.width, self.height = geometry
        self.password = password
        self.depth = depth
        self.extra_args = extra_args
        self.host = "127.0.0.1"
        self.port = 0
        self.display = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._children: list[subprocess.Popen[bytes]] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="xvnc-")

    def start(self) -> XvncServer:
        self.port = free_tcp_port()
        security = ["-SecurityTypes", "None"]
        if self.password is not None:
            pwfile = Path(self._tmp.name) / "passwd"
            out = subprocess.run(
                ["vncpasswd", "-f"], input=self.password.encode(), capture_output=True, check=True
            )
            pwfile.write_bytes(out.stdout)
            security = ["-SecurityTypes", "VncAuth", "-PasswordFile", str(pwfile)]
        read_fd, write_fd = os.pipe()
        self._log = open(Path(self._tmp.name) / "xvnc.log", "wb")
        self.proc = subprocess.Popen(
            [
                "Xvnc",
                "-displayfd",
                str(write_fd),
                "-rfbport",
                str(self.port),
                "-interface",
                "127.0.0.1",
                "-geometry",
                f"{self.width}x{self.height}",
                "-depth",
                str(self.depth),
                "-AlwaysShared",
                "-nolisten",
                "tcp",
                *security,
                *self.extra_args,
            ],
            pass_fds=(write_fd,),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        os.close(write_fd)
        try:
            with os.fdopen(read_fd, "rb") as r:
                number = r.readline().strip().decode()
            if not number:
                raise PeerError(f"Xvnc did not start: {self.log()}")
            self.display = f":{number}"
            self._wait_port()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_port(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise PeerError(f"Xvnc never listened on port {self.port}: {self.log()}")

    def log(self) -> str:
        path = Path(self._tmp.name) / "xvnc.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def run(self, *cmd: str) -> None:
        """Run an X client to completion on this display."""
        subprocess.run(cmd, env=self.env(), check=True, capture_output=True, timeout=20)

    def spawn(self, *cmd: str) -> subprocess.Popen[bytes]:
        """Start a long-running X client on this display; killed by :meth:`stop`."""
        p = subprocess.Popen(
            cmd, env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._children.append(p)
        return p

    def screenshot(self) -> np.ndarray:
        """The server's own screen, 0x00RRGGBB, via ``xwd -root``."""
        out = subprocess.run(
            ["xwd", "-root", "-silent", "-display", self.display],
            capture_output=True,
            check=True,
            timeout=20,
        )
        return parse_xwd(out.stdout)

    def stop(self) -> None:
        for p in [*self._children, *([self.proc] if self.proc else [])]:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self._children.clear()
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
        self._tmp.cleanup()

    def __enter__(self) -> XvncServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
