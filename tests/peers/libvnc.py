"""libvncclient (Debian ``libvncserver-dev``) as a real peer, through ``libvnc/capture.c``.

The C program is compiled on first use into ``tests/.work/`` (gcc + ``pkg-config libvncclient``)
and run once per capture: connect, set the pixel format and encodings, type, keep requesting
incremental updates, and write the client framebuffer when the screen has been quiet.

libvncclient is the only peer here that speaks 8 and 16 bpp, big-endian and odd-maxima formats.

Byte order. libvncclient keeps its framebuffer in the client's *wire* byte order: Raw and
CopyRect copy bytes, fills and palettes store pixel values exactly as read from the socket. So
:func:`capture_raw` returns the bytes a Raw rectangle of the whole screen would carry in that
format (unused bits cleared, see :func:`normalise`), and :func:`capture` turns them back into
``0x00RRGGBB`` with ``PixelFormat.from_wire``. Compare formats whose maxima are below 255 in the
client's format (``libvnc.normalise(pf.pack(server_fb), pf)`` vs ``capture_raw``).
Exceptions in libvncclient 0.9.14, found against Xvnc (see :func:`known_issue`): Tight's 24-bit
TPIXEL path stores pixels in host (little-endian) order even for big-endian formats; ZRLE's
3-byte CPIXEL path misreads big-endian formats whose colour sits in the low three bytes, and
leaves the spare byte of every pixel holding the next pixel's first byte (harmless once masked).

Colour maps (``true_colour=False``, 8 bpp): libvncclient 0.9.14 ignores SetColourMapEntries
without consuming it (the stream would desynchronise), so ``capture.c`` reads that message
itself; the entries arrive in :attr:`CaptureResult.colour_map` and :func:`capture` maps indices
through them (16-bit entries narrowed to 8 bits, rounded).

Tight JPEG is off unless ``quality`` is given (libvncclient would otherwise announce quality 5).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT, PixelFormat

from .common import WORK_DIR, PeerConnectError, PeerError, keysyms_for_text

SOURCE = Path(__file__).resolve().parent / "libvnc" / "capture.c"

# Encoding names libvncclient's SetFormatAndEncodings understands (it matches token prefixes, so
# an abbreviation or typo would silently pick another encoding or none: we check them here).
ENCODINGS = frozenset(
    {
        "raw",
        "copyrect",
        "tight",
        "hextile",
        "zlib",
        "zlibhex",
        "zrle",
        "zywrle",
        "ultra",
        "ultrazip",
        "corre",
        "rre",
    }
)

# Pixel formats tests commonly want. All are valid per the RFB spec.
RGB888_LE = SERVER_PIXEL_FORMAT  # 32 bpp, depth 24, little-endian, 0x00RRGGBB
RGB888_BE = PixelFormat(32, 24, True, True, 255, 255, 255, 16, 8, 0)
BGR888_LE = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)
RGB565_LE = PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0)
RGB565_BE = PixelFormat(16, 16, True, True, 31, 63, 31, 11, 5, 0)
RGB555_LE = PixelFormat(16, 15, False, True, 31, 31, 31, 10, 5, 0)
BGR233 = PixelFormat(8, 8, False, True, 7, 7, 3, 0, 3, 6)
COLOUR_MAP_8 = PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0)


@dataclass(frozen=True)
class CaptureResult:
    """Everything one libvncclient session reported."""

    data: bytes  # the client framebuffer, row-major, wire byte order, unused bits cleared
    width: int
    height: int
    pixel_format: PixelFormat
    updates: int  # FramebufferUpdate messages received
    bells: int
    closed: bool  # the server closed the connection
    failed: bool  # libvncclient gave up on the stream (protocol error)
    timed_out: bool
    name: str  # desktop name from ServerInit
    cut_text: str | None  # the last ServerCutText (Latin-1)
    colour_map: list[tuple[int, int, int]] | None  # 16-bit (r, g, b) per index, if sent
    log: str = field(repr=False, default="")  # libvncclient's stderr
    raw: bytes = field(repr=False, default=b"")  # the framebuffer exactly as libvncclient held it

    def pixels(self) -> np.ndarray:
        """Client pixel values as an (h, w) uint32 array (colour-map indices for a colour map)."""
        return (
            np.frombuffer(self.data, dtype=_dtype(self.pixel_format))
            .astype(np.uint32)
            .reshape(self.height, self.width)
        )

    def rgb(self) -> np.ndarray:
        """The screen as 0x00RRGGBB."""
        pf = self.pixel_format
        if pf.true_colour:
            return pf.from_wire(self.data, (self.height, self.width)).astype(np.uint32)
        if self.colour_map is None:
            raise PeerError("colour-map format but the server sent no SetColourMapEntries")
        table = np.array(
            [
                (((r * 255 + 32767) // 65535) << 16)
                | (((g * 255 + 32767) // 65535) << 8)
                | ((b * 255 + 32767) // 65535)
                for r, g, b in self.colour_map
            ],
            dtype=np.uint32,
        )
        rgb: np.ndarray = table[self.pixels()]
        return rgb


def _dtype(pf: PixelFormat) -> np.dtype[Any]:
    order = ">" if pf.big_endian else "<"
    return np.dtype({8: "u1", 16: f"{order}u2", 32: f"{order}u4"}[pf.bits_per_pixel])


def colour_bits(pf: PixelFormat) -> int:
    """The bits of a pixel value that carry colour (all of them for a colour map)."""
    if not pf.true_colour:
        return (1 << pf.bits_per_pixel) - 1
    return (
        (pf.red_max << pf.red_shift)
        | (pf.green_max << pf.green_shift)
        | (pf.blue_max << pf.blue_shift)
    )


def normalise(data: bytes, pf: PixelFormat) -> bytes:
    """Clear the bits of each pixel that carry no colour.

    The spec leaves them undefined and libvncclient's ZRLE decoder fills the spare byte of a
    3-byte CPIXEL with the next pixel's first byte, so byte comparisons need this.
    """
    mask = colour_bits(pf)
    if mask == (1 << pf.bits_per_pixel) - 1:
        return data
    values = np.frombuffer(data, dtype=_dtype(pf))
    return (values & mask).astype(values.dtype).tobytes()


def known_issue(pf: PixelFormat, encodings: list[str] | tuple[str, ...]) -> str | None:
    """Why libvncclient 0.9.14 decodes ``pf`` wrongly when the server uses the first of
    ``encodings``, or None. Found against Xvnc (TigerVNC 1.12); see the module docstring."""
    first = encodings[0].lower() if encodings else "raw"
    if not (pf.true_colour and pf.bits_per_pixel == 32 and pf.big_endian):
        return None
    if first == "zrle" and colour_bits(pf) >> 24 == 0:
        return (
            "libvncclient misreads 3-byte ZRLE CPIXELs of big-endian formats whose colour "
            "sits in the low bytes"
        )
    if first == "tight" and pf.tight_tpixel():
        return "libvncclient stores Tight 24-bit TPIXELs in host byte order, not big-endian"
    return None


def _format_arg(pf: PixelFormat) -> str:
    return ",".join(
        str(v)
        for v in (
            pf.bits_per_pixel,
            pf.depth,
            int(pf.big_endian),
            int(pf.true_colour),
            pf.red_max,
            pf.green_max,
            pf.blue_max,
            pf.red_shift,
            pf.green_shift,
            pf.blue_shift,
        )
    )


def build() -> Path:
    """Compile capture.c (once per source version) and return the executable's path."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    exe = WORK_DIR / f"libvnc-capture-{digest}"
    if exe.exists():
        return exe
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with open(WORK_DIR / "libvnc-capture.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers compile once
        if exe.exists():
            return exe
        if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
            raise PeerError("building the libvncclient peer needs gcc and pkg-config")
        flags = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libvncclient"],
            capture_output=True,
            text=True,
            check=False,
        )
        if flags.returncode != 0:
            raise PeerError(
                f"pkg-config libvncclient failed (install libvncserver-dev): {flags.stderr.strip()}"
            )
        tmp = exe.with_suffix(".tmp")
        cc = subprocess.run(
            ["gcc", "-O2", "-Wall", "-o", str(tmp), str(SOURCE), *flags.stdout.split()],
            capture_output=True,
            text=True,
            check=False,
        )
        if cc.returncode != 0:
            raise PeerError(f"compiling {SOURCE.name} failed:\n{cc.stderr}")
        os.replace(tmp, exe)
    return exe


def capture_result(
    host: str,
    port: int,
    *,
    pixel_format: PixelFormat = RGB888_LE,
    encodings: list[str] | tuple[str, ...] = ("raw",),
    password: str | None = None,
    min_updates: int = 1,
    quiet_ms: int = 300,
    timeout: float = 10.0,
    type_text: str | None = None,
    keysyms: list[int] | None = None,
    compress: int | None = None,
    quality: int | None = None,
    shared: bool = True,
    check: bool = True,
) -> CaptureResult:
    """Run one libvncclient session and return all it saw.

    ``encodings`` are libvncclient names in preference order (see :data:`ENCODINGS`).
    ``compress``/``quality`` add the CompressLevel / QualityLevel pseudo-encodings (quality
    enables Tight JPEG, which is lossy: leave it None for exact comparisons). ``type_text``
    (or raw ``keysyms``) is sent as key press+release pairs after the first update. With
    ``check`` a session that saw fewer than ``min_updates`` updates raises :class:`PeerError`;
    a handshake failure always raises :class:`PeerConnectError`.
    """
    if isinstance(encodings, str):
        encodings = encodings.split()
    unknown = [e for e in encodings if e.lower() not in ENCODINGS]
    if unknown:
        raise ValueError(f"libvncclient does not know encodings {unknown}")
    if not encodings:
        raise ValueError("at least one encoding is needed")
    pixel_format.validate()
    keys = list(keysyms or []) + (keysyms_for_text(type_text) if type_text else [])
    exe = build()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    fd, out_name = tempfile.mkstemp(prefix="libvnc-fb-", dir=WORK_DIR)
    os.close(fd)
    out = Path(out_name)
    args = [
        str(exe),
        "--host",
        host,
        "--port",
        str(port),
        "--out",
        str(out),
        "--format",
        _format_arg(pixel_format),
        "--encodings",
        " ".join(encodings),
        "--min-updates",
        str(min_updates),
        "--quiet-ms",
        str(quiet_ms),
        "--timeout-ms",
        str(int(timeout * 1000)),
        "--shared",
        str(int(shared)),
    ]
    if keys:
        args += ["--keys", ",".join(f"{k:x}" for k in keys)]
    if compress is not None:
        args += ["--compress", str(compress)]
    if quality is not None:
        args += ["--quality", str(quality)]
    env = dict(os.environ)
    env.pop("VNCTERM_PEER_PASSWORD", None)
    if password is not None:
        env["VNCTERM_PEER_PASSWORD"] = password
    try:
        try:
            proc = subprocess.run(
                args, capture_output=True, env=env, timeout=timeout + 10, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise PeerError(f"libvncclient capture hung past {timeout + 10} s") from exc
        log = proc.stderr.decode("utf-8", "replace")
        lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
        try:
            info: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            info = {}
        if proc.returncode == 2 or "width" not in info:
            reason = info.get("error") or log.strip().splitlines()[-1:] or "no output"
            raise PeerConnectError(
                f"libvncclient could not connect to {host}:{port} "
                f"(exit {proc.returncode}): {reason}\n{log}"
            )
        data = out.read_bytes()
    finally:
        out.unlink(missing_ok=True)

    def latin1(s: str | None) -> str | None:
        return None if s is None else s.encode("latin-1", "replace").decode("utf-8", "replace")

    cmap = info.get("colour_map")
    result = CaptureResult(
        data=normalise(data, pixel_format),
        raw=data,
        width=int(info["width"]),
        height=int(info["height"]),
        pixel_format=pixel_format,
        updates=int(info["updates"]),
        bells=int(info["bells"]),
        closed=bool(info["closed"]),
        failed=bool(info["failed"]),
        timed_out=bool(info["timed_out"]),
        name=latin1(info.get("name")) or "",
        cut_text=info.get("cut_text"),
        colour_map=[(int(r), int(g), int(b)) for r, g, b in cmap] if cmap else None,
        log=log,
    )
    expected = result.width * result.height * pixel_format.bytes_per_pixel
    if len(data) != expected:
        raise PeerError(f"framebuffer file has {len(data)} bytes, expected {expected}")
    if check and result.updates < min_updates:
        why = (
            "timed out"
            if result.timed_out
            else "server closed the connection"
            if result.closed
            else "libvncclient failed"
        )
        raise PeerError(
            f"libvncclient saw {result.updates} of {min_updates} updates: {why} "
            f"(last log: {info.get('last_log')!r})\n{log}"
        )
    return result


def capture(
    host: str,
    port: int,
    *,
    pixel_format: PixelFormat = RGB888_LE,
    encodings: list[str] | tuple[str, ...] = ("raw",),
    password: str | None = None,
    min_updates: int = 1,
    quiet_ms: int = 300,
    timeout: float = 10.0,
    type_text: str | None = None,
    **options: Any,
) -> np.ndarray:
    """The client's screen as an (h, w) uint32 array of 0x00RRGGBB."""
    return capture_result(
        host,
        port,
        pixel_format=pixel_format,
        encodings=encodings,
        password=password,
        min_updates=min_updates,
        quiet_ms=quiet_ms,
        timeout=timeout,
        type_text=type_text,
        **options,
    ).rgb()


def capture_raw(
    host: str,
    port: int,
    *,
    pixel_format: PixelFormat = RGB888_LE,
    encodings: list[str] | tuple[str, ...] = ("raw",),
    password: str | None = None,
    min_updates: int = 1,
    quiet_ms: int = 300,
    timeout: float = 10.0,
    type_text: str | None = None,
    **options: Any,
) -> tuple[bytes, int, int]:
    """The client framebuffer in the client's own format: (bytes, width, height).

    Compare against ``pixel_format.pack(server_framebuffer)``.
    """
    r = capture_result(
        host,
        port,
        pixel_format=pixel_format,
        encodings=encodings,
        password=password,
        min_updates=min_updates,
        quiet_ms=quiet_ms,
        timeout=timeout,
        type_text=type_text,
        **options,
    )
    return r.data, r.width, r.height


class LibVncPeer:
    """A peer object for :func:`~peers.common.wait_until_equal`: each ``capture()`` is a
    fresh libvncclient session with the options given here."""

    def __init__(self, host: str, port: int, **options: Any) -> None:
        self.host = host
        self.port = port
        self.options = options

    def capture_result(self, **overrides: Any) -> CaptureResult:
        return capture_result(self.host, self.port, **{**self.options, **overrides})

    def capture(self) -> np.ndarray:
        return self.capture_result().rgb()

    def capture_pixels(self) -> np.ndarray:
        """Client-format pixel values (h, w) uint32, for formats with maxima below 255."""
        return self.capture_result().pixels()
