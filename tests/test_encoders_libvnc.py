"""Encoders judged by libvncclient 0.9.14 (Debian), in every true-colour pixel format.

A scripted RFB server (peers/scripted_server.py) sends our rectangles, encoded for the format the
client set, to the libvncclient capture program (peers/libvnc.py); the client's framebuffer must
equal the source frame converted to that format, byte for byte. Format/encoding pairs that
libvncclient itself decodes wrongly (``libvnc.known_issue``) are left out of the draw.
"""

from __future__ import annotations

import numpy as np
import pytest
from encoder_cases import make_frame, paint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peers import libvnc
from peers.scripted_server import ScriptedServer

from vncterm.encoders.base import EncoderOptions
from vncterm.encoders.manager import EncodeManager
from vncterm.geometry import Rect
from vncterm.rfb.connection import EncodedRect
from vncterm.rfb.pixel_format import PixelFormat

pytestmark = pytest.mark.peer

FORMATS = [
    libvnc.RGB888_LE,
    libvnc.BGR888_LE,
    libvnc.RGB888_BE,
    libvnc.RGB565_LE,
    libvnc.RGB565_BE,
    libvnc.RGB555_LE,
    libvnc.BGR233,
    PixelFormat(8, 6, False, True, 3, 3, 3, 4, 2, 0),
    PixelFormat(16, 12, True, True, 15, 15, 15, 1, 5, 9),
    PixelFormat(16, 16, True, True, 63, 31, 31, 10, 5, 0),
    PixelFormat(32, 24, False, True, 255, 255, 255, 24, 16, 8),  # colour in the top bytes
    PixelFormat(32, 24, True, True, 255, 255, 255, 0, 8, 16),
    PixelFormat(32, 30, False, True, 1023, 1023, 1023, 20, 10, 0),
    PixelFormat(32, 16, True, True, 31, 63, 31, 27, 21, 16),
]
NAMES = {7: "tight", 16: "zrle", 5: "hextile", 6: "zlib", 2: "rre", 0: "raw"}
ALLOWED = {7: {7}, 16: {16}, 5: {5}, 6: {6}, 2: {2, 0}, 0: {0}}


def formats_for(code: int) -> list[PixelFormat]:
    return [pf for pf in FORMATS if libvnc.known_issue(pf, [NAMES[code]]) is None]


def run(
    width: int,
    height: int,
    code: int,
    pf: PixelFormat,
    script_updates: list[tuple[np.ndarray, list[Rect]]],
    compress_levels: list[int | None] | None = None,
) -> tuple[bytes, list[EncodedRect]]:
    """Serve the updates to libvncclient; return its framebuffer and every rect sent."""
    sent: list[EncodedRect] = []

    def script(client_pf: PixelFormat, encodings: list[int]) -> list[list[EncodedRect]]:
        assert client_pf == pf
        m = EncodeManager()
        m.set_encodings(encodings)
        updates = []
        for i, (fb, rects) in enumerate(script_updates):
            if compress_levels is not None:
                m.options.compress_level = compress_levels[i]
            u = m.encode(fb, rects, client_pf)
            sent.extend(u)
            updates.append(u)
        return updates

    with ScriptedServer(width, height, script) as srv:
        result = libvnc.capture_result(
            srv.host,
            srv.port,
            pixel_format=pf,
            encodings=[NAMES[code]],
            min_updates=len(script_updates),
            quiet_ms=100,
            timeout=30,
        )
    srv.join()
    assert not result.failed, result.log
    return result.data, sent


@st.composite
def cases(draw: st.DrawFn, code: int) -> tuple[PixelFormat, list[tuple[np.ndarray, list[Rect]]]]:
    pf = draw(st.sampled_from(formats_for(code)))
    w, h = draw(st.integers(1, 260)), draw(st.integers(1, 160))
    kinds = st.sampled_from(["noise", "blocks", "cells", "rows"])
    sizes = st.sampled_from([1, 2, 3, 7, 16, 17, 200, 256, 300, 0])
    seed = st.integers(0, 2**32 - 1)
    fb = make_frame(draw(seed), w, h, draw(sizes), draw(kinds))
    updates = [(fb, [Rect(0, 0, w, h)])]
    for _ in range(draw(st.integers(0, 2))):
        src = make_frame(draw(seed), w, h, draw(sizes), draw(kinds))
        x, y = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        r = Rect(x, y, draw(st.integers(1, w - x)), draw(st.integers(1, h - y)))
        fb = paint(fb, [r], src)
        updates.append((fb, [r]))
    return pf, updates


@pytest.mark.parametrize("code", list(NAMES), ids=lambda c: NAMES[c])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_round_trip_through_libvncclient(code: int, data: st.DataObject) -> None:
    pf, updates = data.draw(cases(code))
    final = updates[-1][0]
    h, w = final.shape
    got, sent = run(w, h, code, pf, updates)
    assert {e.encoding for e in sent} <= ALLOWED[code]
    assert got == libvnc.normalise(pf.pack(final), pf)


@pytest.mark.parametrize(
    ("code", "pf"),
    [
        (7, libvnc.RGB565_BE),
        (7, libvnc.RGB888_LE),
        (16, libvnc.BGR233),
        (16, FORMATS[10]),
        (6, libvnc.RGB888_BE),
    ],
    ids=["tight-565be", "tight-888", "zrle-233", "zrle-top-bytes", "zlib-888be"],
)
def test_long_session(code: int, pf: PixelFormat) -> None:
    """150 updates on one connection, the compression level changing every 30: the streams
    continue at the new level (raw deflate continuation), Tight resets each stream only on
    its first use."""
    rng = np.random.default_rng(code)
    w, h = 120, 80
    fb = make_frame(2, w, h, 5, "cells")
    updates = [(fb, [Rect(0, 0, w, h)])]
    for _ in range(150):
        n = int(rng.choice([1, 2, 4, 40, 0]))
        src = make_frame(int(rng.integers(1 << 30)), w, h, n, "blocks")
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = Rect(x, y, int(rng.integers(1, w - x + 1)), int(rng.integers(1, h - y + 1)))
        fb = paint(fb, [r], src)
        updates.append((fb, [r]))
    levels: list[int | None] = [(i // 30) % 10 for i in range(len(updates))]
    got, sent = run(w, h, code, pf, updates, levels)
    if code == 7:
        resets = [
            e.payload[0] & 0x0F
            for e in sent
            if e.payload[0] & 0x0F and e.payload[0] >> 4 not in (8, 9)
        ]
        assert len(resets) == len(set(resets)) <= 4
    assert got == libvnc.normalise(pf.pack(fb), pf)


@pytest.mark.parametrize("big_endian", [True, False], ids=["be", "le"])
def test_zrle_cpixel_when_colour_fits_both_ends(big_endian: bool) -> None:
    """Colour in bits 8..23 fits the low and the high three bytes: CPIXEL is the first three
    wire bytes (``PixelFormat.compact_bytes``), which libvncclient decodes the same way."""
    pf = PixelFormat(32, 16, big_endian, True, 31, 63, 31, 19, 13, 8)
    assert pf.compact_bytes() == slice(0, 3)
    fb = make_frame(3, 100, 60, 5, "cells")
    got, sent = run(100, 60, 16, pf, [(fb, [Rect(0, 0, 100, 60)])])
    assert {e.encoding for e in sent} == {16}
    assert got == libvnc.normalise(pf.pack(fb), pf)


def _smooth(seed: int, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    chans = []
    for _ in range(3):
        a, b = rng.uniform(-1.5, 1.5, 2)
        v = a * xx + b * yy + 50 * np.sin(xx / 19 + yy / 13) + rng.normal(0, 2, (h, w))
        chans.append(np.clip(v + 128, 0, 255).astype(np.uint32))
    out: np.ndarray = (chans[0] << 16) | (chans[1] << 8) | chans[2]
    return out


def _serve(
    w: int,
    h: int,
    pf: PixelFormat,
    quality: int | None,
    allow_lossy: bool,
    frames: list[tuple[np.ndarray, list[Rect]]],
) -> tuple[libvnc.CaptureResult, list[EncodedRect]]:
    sent: list[EncodedRect] = []

    def script(client_pf: PixelFormat, encodings: list[int]) -> list[list[EncodedRect]]:
        m = EncodeManager()
        m.options.allow_lossy = allow_lossy
        m.set_encodings(encodings)
        out = [m.encode(fb, rects, client_pf) for fb, rects in frames]
        sent.extend(r for u in out for r in u)
        return out

    with ScriptedServer(w, h, script) as srv:
        result = libvnc.capture_result(
            srv.host,
            srv.port,
            pixel_format=pf,
            encodings=["tight"],
            quality=quality,
            min_updates=len(frames),
            quiet_ms=100,
            timeout=30,
        )
    srv.join()
    assert not result.failed, result.log
    return result, sent


@pytest.mark.parametrize(
    ("quality", "pf", "tolerance"),
    [
        (9, libvnc.RGB888_LE, 3.0),
        (5, libvnc.RGB888_LE, 8.0),
        (1, libvnc.RGB565_LE, 14.0),
    ],
    ids=["q9-888", "q5-888", "q1-565"],
)
def test_tight_jpeg_when_lossy_is_allowed(quality: int, pf: PixelFormat, tolerance: float) -> None:
    """Tight JPEG (lossy, so judged with a tolerance): a photo-like frame is sent as JPEG and
    libvncclient shows it close to the source; a text-like area in the same update is not."""
    w, h = 200, 120
    fb = _smooth(quality, w, h)
    fb[90:, :] = make_frame(7, w, 30, 3, "cells")  # text-like: must stay exact
    result, sent = _serve(w, h, pf, quality, True, [(fb, [Rect(0, 0, w, h)])])
    jpeg = [r for r in sent if r.payload[0] >> 4 == 0x9]
    assert jpeg and all(r.rect.bottom <= 90 for r in jpeg)
    got = result.rgb().astype(np.int64)
    want = libvnc.normalise(pf.pack(fb), pf)
    want_rgb = pf.from_wire(want, (h, w)).astype(np.int64)
    err = np.abs(
        np.stack([(got >> s) & 255 for s in (16, 8, 0)])
        - np.stack([(want_rgb >> s) & 255 for s in (16, 8, 0)])
    )
    assert err[:, :88].mean() < tolerance, err[:, :88].mean()
    assert not err[:, 90:].any(), "the text-like rows must be exact"


def test_no_jpeg_unless_allowed() -> None:
    """Viewers always send a quality level; without ``allow_lossy`` the result is exact."""
    w, h = 160, 90
    fb = _smooth(3, w, h)
    result, sent = _serve(w, h, libvnc.RGB888_LE, 6, False, [(fb, [Rect(0, 0, w, h)])])
    assert not [r for r in sent if r.payload[0] >> 4 == 0x9]
    assert result.data == libvnc.normalise(libvnc.RGB888_LE.pack(fb), libvnc.RGB888_LE)


def test_tight_gradient_filter() -> None:
    """The gradient filter decoded by libvncclient (24-bit TPIXEL formats)."""
    w, h = 180, 100
    fb = _smooth(5, w, h)
    sent: list[EncodedRect] = []

    def script(client_pf: PixelFormat, encodings: list[int]) -> list[list[EncodedRect]]:
        m = EncodeManager(EncoderOptions(tight_gradient=True))
        m.set_encodings(encodings)
        out = [m.encode(fb, [Rect(0, 0, w, h)], client_pf)]
        sent.extend(out[0])
        return out

    pf = libvnc.BGR888_LE
    with ScriptedServer(w, h, script) as srv:
        result = libvnc.capture_result(
            srv.host,
            srv.port,
            pixel_format=pf,
            encodings=["tight"],
            min_updates=1,
            quiet_ms=100,
            timeout=30,
        )
    srv.join()
    assert not result.failed, result.log
    assert any(r.payload[0] >> 4 == 0x7 and r.payload[1] == 2 for r in sent)
    assert result.data == libvnc.normalise(pf.pack(fb), pf)
