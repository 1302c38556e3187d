"""Self-check of the real-peer harness against a reference server, TigerVNC's Xvnc.

Each wrapper (libvncclient, noVNC, vncdotool) must capture Xvnc's screen pixel for pixel as
``xwd -root`` reads it, survive VNC authentication (and report a wrong password), and deliver
typed characters (checked by an xterm that writes each line it reads to a file).

Needs: apt tigervnc-standalone-server tigervnc-tools x11-apps x11-xserver-utils xterm
xfonts-base libvncserver-dev gcc pkg-config nodejs npm; pip numpy vncdotool pytest;
``npm ci`` in tests/peers/novnc.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from peers import libvnc
from peers.common import (
    PeerConnectError,
    ScreenDiff,
    diff_screens,
    keysyms_for_text,
    wait_until_equal,
)
from peers.novnc_client import NoVncClient
from peers.vncdotool_peer import VncDoToolPeer
from peers.xvnc import XvncServer, write_xwd

from vncterm.rfb.pixel_format import PixelFormat

# vncdotool's VNC-auth DES goes through a deprecated cryptography alias: not ours to fix
pytestmark = [pytest.mark.peer, pytest.mark.filterwarnings("ignore:TripleDES has been moved")]

PASSWORD = "harness"
W, H = 320, 200


def settle(server: XvncServer, min_colours: int, timeout: float = 10.0) -> np.ndarray:
    """Wait until the server's screen shows at least ``min_colours`` colours (the X clients have
    drawn) and stops changing; return it."""
    deadline = time.monotonic() + timeout
    last = server.screenshot()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = server.screenshot()
        if np.array_equal(now, last) and len(np.unique(now)) >= min_colours:
            return now
        last = now
    raise AssertionError("reference screen never settled")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[XvncServer, np.ndarray]]:
    """Xvnc with a gradient, random noise and an xterm with text; the pointer (centre) stays
    over the image, whose cursor is invisible, so no cursor is painted into the framebuffer."""
    tmp = tmp_path_factory.mktemp("scene")
    y, x = np.mgrid[0:120, 0:200].astype(np.uint32)
    img = ((x * 255 // 199) << 16) | ((y * 255 // 119) << 8) | ((x + y) % 256)
    img[60:, 100:] = np.random.default_rng(7).integers(0, 1 << 24, size=(60, 100))
    write_xwd(tmp / "img.xwd", img)
    with XvncServer((W, H), password=PASSWORD) as server:
        server.run("xsetroot", "-solid", "#336699")
        server.spawn("xwud", "-in", str(tmp / "img.xwd"))
        server.spawn(
            "xterm",
            "-geometry",
            "18x4+200+130",
            "-fn",
            "fixed",
            "-bg",
            "black",
            "-fg",
            "yellow",
            "-e",
            "sh",
            "-c",
            "echo 'Hello, peers!'; sleep 3600",
        )
        yield server, settle(server, min_colours=10000)


@pytest.fixture(scope="module")
def typing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[XvncServer, Path]]:
    """Xvnc with a full-screen xterm (under the pointer, so it has the keyboard focus) that
    appends every line typed to a file."""
    out = tmp_path_factory.mktemp("typing") / "typed.txt"
    out.touch()
    with XvncServer((W, H), password=PASSWORD) as server:
        server.spawn(
            "xterm",
            "-geometry",
            "80x30+0+0",
            "-fn",
            "fixed",
            "-e",
            "sh",
            "-c",
            f'while IFS= read -r l; do printf "%s\\n" "$l" >> {out}; done',
        )
        settle(server, min_colours=2)
        yield server, out


def wait_line(path: Path, line: str, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text(encoding="utf-8").splitlines()
        if line in lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def xvnc_pixels(rgb: np.ndarray, pf: PixelFormat) -> np.ndarray:
    """Pixel values Xvnc sends for ``rgb`` in format ``pf``: each channel ``(v * max + 128)
    // 255`` (TigerVNC's rounding, established against it; identity for 8-bit channels)."""
    out = np.zeros(rgb.shape, dtype=np.uint32)
    for shift8, mx, shift in (
        (16, pf.red_max, pf.red_shift),
        (8, pf.green_max, pf.green_shift),
        (0, pf.blue_max, pf.blue_shift),
    ):
        out |= ((((rgb >> shift8) & 0xFF) * mx + 128) // 255) << shift
    return out


def wire(values: np.ndarray, pf: PixelFormat) -> bytes:
    order = ">" if pf.big_endian else "<"
    return values.astype({8: "u1", 16: f"{order}u2", 32: f"{order}u4"}[pf.bits_per_pixel]).tobytes()


# -- libvncclient ------------------------------------------------------------------------------

BGR888_BE_HIGH = PixelFormat(32, 24, True, True, 255, 255, 255, 24, 16, 8)
RGB444_BE = PixelFormat(16, 12, True, True, 15, 15, 15, 8, 4, 0)
RGB565_IN_32 = PixelFormat(32, 16, False, True, 31, 63, 31, 11, 5, 0)

LIBVNC_CASES = [
    (libvnc.RGB888_LE, "raw"),
    (libvnc.RGB888_LE, "hextile"),
    (libvnc.RGB888_LE, "zrle"),
    (libvnc.RGB888_LE, "tight"),
    (libvnc.RGB888_LE, "zlib"),
    (libvnc.RGB888_LE, "rre"),
    (libvnc.RGB888_BE, "raw"),
    (libvnc.RGB888_BE, "hextile"),
    (BGR888_BE_HIGH, "zrle"),
    (libvnc.BGR888_LE, "tight"),
    (libvnc.RGB565_LE, "zrle"),
    (libvnc.RGB565_BE, "tight"),
    (libvnc.RGB555_LE, "hextile"),
    (libvnc.BGR233, "zlib"),
    (RGB444_BE, "zrle"),
    (RGB565_IN_32, "raw"),
]


@pytest.mark.parametrize(
    ("pf", "encoding"),
    LIBVNC_CASES,
    ids=[
        f"{pf.bits_per_pixel}bpp-{'be' if pf.big_endian else 'le'}-"
        f"{pf.red_max}.{pf.red_shift}-{enc}"
        for pf, enc in LIBVNC_CASES
    ],
)
def test_libvnc_captures_exactly(
    scene: tuple[XvncServer, np.ndarray], pf: PixelFormat, encoding: str
) -> None:
    server, ref = scene
    assert libvnc.known_issue(pf, [encoding]) is None
    result = libvnc.capture_result(
        server.host, server.port, pixel_format=pf, encodings=[encoding], password=PASSWORD
    )
    expected = xvnc_pixels(ref, pf)
    assert (result.width, result.height) == (W, H)
    assert diff_screens(result.pixels(), expected).describe() == "screens are equal"
    assert result.data == wire(expected, pf)  # capture_raw's bytes: the client's wire format
    assert np.array_equal(result.rgb(), pf.from_wire(result.data, (H, W)))
    if pf == libvnc.RGB888_LE:
        assert np.array_equal(result.rgb(), ref)


def test_libvnc_colour_map(scene: tuple[XvncServer, np.ndarray]) -> None:
    server, ref = scene
    result = libvnc.capture_result(
        server.host,
        server.port,
        pixel_format=libvnc.COLOUR_MAP_8,
        encodings=["hextile"],
        password=PASSWORD,
    )
    assert result.colour_map is not None and len(result.colour_map) == 256
    # Xvnc's colour map is BGR233; indices are pixels of that true-colour layout
    assert np.array_equal(result.pixels(), xvnc_pixels(ref, libvnc.BGR233))
    r, g, b = result.colour_map[0b10_011_101]
    assert (r, g, b) == ((5 * 255 // 7) * 257, (3 * 255 // 7) * 257, (2 * 255 // 3) * 257)


@pytest.mark.parametrize(
    ("pf", "encoding"), [(libvnc.RGB888_BE, "zrle"), (libvnc.RGB888_BE, "tight")]
)
def test_libvnc_known_issues_are_real(
    scene: tuple[XvncServer, np.ndarray], pf: PixelFormat, encoding: str
) -> None:
    """The combinations ``known_issue`` flags do decode wrongly (if libvncclient gets fixed,
    this fails: update known_issue)."""
    server, ref = scene
    assert libvnc.known_issue(pf, [encoding]) is not None
    data, _, _ = libvnc.capture_raw(
        server.host, server.port, pixel_format=pf, encodings=[encoding], password=PASSWORD
    )
    assert data != wire(xvnc_pixels(ref, pf), pf)


def test_libvnc_wrong_password(scene: tuple[XvncServer, np.ndarray]) -> None:
    server, _ = scene
    with pytest.raises(PeerConnectError, match="Authentication failure"):
        libvnc.capture(server.host, server.port, password="wrong")


def test_libvnc_types(typing: tuple[XvncServer, Path]) -> None:
    server, out = typing
    line = f"libvnc é€ {uuid.uuid4().hex[:6]}"
    libvnc.capture(server.host, server.port, password=PASSWORD, type_text=line + "\n")
    assert line in wait_line(out, line)


# -- noVNC ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def novnc() -> Iterator[NoVncClient]:
    with NoVncClient() as client:
        yield client


@pytest.mark.parametrize(
    "encodings",
    [None, ["zrle"], ["hextile"], ["copyrect", "raw"], ["rre"], ["zlib"]],
    ids=["novnc-list", "zrle", "hextile", "raw", "rre", "zlib"],
)
def test_novnc_captures_exactly(
    scene: tuple[XvncServer, np.ndarray], novnc: NoVncClient, encodings: list[str] | None
) -> None:
    server, ref = scene
    # quality None: no QualityLevel pseudo-encoding, so Xvnc sends no (lossy) JPEG
    novnc.connect(server.host, server.port, PASSWORD, encodings=encodings, quality=None)
    try:
        sent = novnc.sent_encodings()
        assert not any(-32 <= e <= -23 for e in sent)
        if encodings is None:
            assert sent[:9] == [1, 7, -260, 16, 21, 5, 2, 6, 0]  # noVNC's own order
        diff = wait_until_equal(novnc, ref, 5)
        assert diff, diff
        assert not novnc.fatal_events()
    finally:
        novnc.disconnect()


def test_novnc_default_encodings_and_events(
    scene: tuple[XvncServer, np.ndarray], novnc: NoVncClient
) -> None:
    server, _ = scene
    novnc.connect(server.host, server.port, PASSWORD)
    try:
        sent = novnc.sent_encodings()
        assert -26 in sent and -254 in sent  # noVNC's default quality 6 / compression 2
        assert -313 in sent and -312 in sent and 0xC0A1E5CE - (1 << 32) in sent
        assert novnc.events_named("desktopname")
        assert (novnc.width, novnc.height) == (W, H)
    finally:
        novnc.disconnect()
    assert novnc.events_named("disconnected")[-1]["clean"] is True


def test_novnc_wrong_password(scene: tuple[XvncServer, np.ndarray], novnc: NoVncClient) -> None:
    server, _ = scene
    with pytest.raises(PeerConnectError, match="securityfailure"):
        novnc.connect(server.host, server.port, "wrong")
    novnc.wait_for("disconnected")


def test_novnc_asks_for_credentials(
    scene: tuple[XvncServer, np.ndarray], novnc: NoVncClient
) -> None:
    server, _ = scene
    with pytest.raises(PeerConnectError, match="credentialsrequired"):
        novnc.connect(server.host, server.port)
    start = len(novnc.events)
    novnc.connect(server.host, server.port, quality=None, wait=False)
    assert novnc.wait_for("credentialsrequired", start=start)["types"] == ["password"]
    novnc.send_credentials(PASSWORD)
    novnc.wait_for("connected", start=start)
    novnc.disconnect()


def test_novnc_types(typing: tuple[XvncServer, Path], novnc: NoVncClient) -> None:
    server, out = typing
    line = f"novnc é€ {uuid.uuid4().hex[:6]}"
    novnc.connect(server.host, server.port, PASSWORD, quality=None)
    try:
        novnc.pointer(W // 2, H // 2)  # smoke: stays over the xterm, which keeps the focus
        novnc.paste("clipboard é")
        novnc.type(line + "\n")
        assert line in wait_line(out, line)
    finally:
        novnc.disconnect()


# -- vncdotool -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encodings", [["raw"], ["hextile"], ["rre"], ["corre"], ["copyrect", "raw"]]
)
def test_vncdotool_captures_exactly(
    scene: tuple[XvncServer, np.ndarray], encodings: list[str]
) -> None:
    server, ref = scene
    with VncDoToolPeer() as peer:
        peer.connect(server.host, server.port, PASSWORD, encodings=encodings)
        diff = wait_until_equal(peer, ref, 5)
        assert diff, diff
        assert peer.capture().shape == (H, W)


def test_vncdotool_wrong_password(scene: tuple[XvncServer, np.ndarray]) -> None:
    server, _ = scene
    with pytest.raises(PeerConnectError, match="Authentication"):
        VncDoToolPeer(timeout=5).connect(server.host, server.port, "wrong")


def test_vncdotool_types(typing: tuple[XvncServer, Path]) -> None:
    server, out = typing
    line = f"vncdotool é€ {uuid.uuid4().hex[:6]}"
    with VncDoToolPeer() as peer:
        peer.connect(server.host, server.port, PASSWORD)
        peer.pointer(W // 2, H // 2)
        peer.paste("clipboard é")
        peer.type(line + "\n")
        assert line in wait_line(out, line)


# -- the comparison helpers themselves ----------------------------------------------------------


def test_wait_until_equal_reports_the_difference() -> None:
    expected = np.zeros((10, 20), dtype=np.uint32)
    actual = expected.copy()
    actual[2:4, 5:8] = 0xFF0000
    diff = wait_until_equal(lambda: actual, expected, timeout=0.1)
    assert isinstance(diff, ScreenDiff) and not diff
    assert diff.count == 6 and diff.bbox == (5, 2, 8, 4)
    assert "6 of 200 pixels differ" in diff.describe()
    assert "(5,2) got ff0000 want 000000" in diff.describe()
    assert wait_until_equal(lambda: expected, expected.copy(), timeout=0.1)
    shape = wait_until_equal(lambda: expected[:5], expected, timeout=0.1)
    assert "shape differs" in shape.describe()


def test_keysyms_for_text() -> None:
    assert keysyms_for_text("a\n\té€") == [0x61, 0xFF0D, 0xFF09, 0xE9, 0x010020AC]
    with pytest.raises(ValueError):
        keysyms_for_text("\x01")
