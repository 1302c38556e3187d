"""Unit checks of the encoders' wire details and the manager's choices (no external peers)."""

from __future__ import annotations

import numpy as np
import pytest
from encoder_cases import make_frame
from hypothesis import given, settings
from hypothesis import strategies as st
from peers.novnc_decode import NOVNC_PF

from vncterm.encoders.analysis import Analysis, ContentClass, analyse
from vncterm.encoders.base import Encoder, EncoderOptions
from vncterm.encoders.manager import ENCODERS, SUB_RECT_MAX_AREA, EncodeManager
from vncterm.encoders.tight import TightEncoder, compact_length
from vncterm.encoders.zrle import ZrleEncoder, cpixel_slice
from vncterm.encoders.zstream import ZStream, zlib_level
from vncterm.geometry import Rect
from vncterm.rfb.constants import Encoding
from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT, PixelFormat

pytestmark = pytest.mark.unit


def test_compact_length_boundaries() -> None:
    assert compact_length(0) == b"\x00"
    assert compact_length(127) == b"\x7f"
    assert compact_length(128) == b"\x80\x01"
    assert compact_length(16383) == b"\xff\x7f"
    assert compact_length(16384) == b"\x80\x80\x01"
    assert compact_length((1 << 22) - 1) == b"\xff\xff\xff"


@settings(max_examples=60, deadline=None)
@given(
    n=st.sampled_from([1, 2, 3, 16, 17, 255, 256, 257, 0]),
    seed=st.integers(0, 1 << 30),
    w=st.integers(1, 90),
    h=st.integers(1, 40),
    kind=st.sampled_from(["noise", "cells"]),
)
def test_analysis_matches_numpy_unique(n: int, seed: int, w: int, h: int, kind: str) -> None:
    fb = make_frame(seed, w, h, n, kind)
    uniq = np.unique(fb)
    an = analyse(fb)
    if uniq.size > 256:
        assert an.colours is None and an.content_class is ContentClass.FULL
        return
    assert an.colours is not None and an.indices is not None
    np.testing.assert_array_equal(an.colours, uniq)
    np.testing.assert_array_equal(an.colours[an.indices], fb)
    hinted = analyse(fb, hint=np.unique(np.concatenate([uniq, uniq ^ 0x10101])))
    assert hinted.colours is not None and hinted.indices is not None
    np.testing.assert_array_equal(hinted.colours[hinted.indices], fb)


def test_tight_small_data_uncompressed_and_resets() -> None:
    enc, options = TightEncoder(), EncoderOptions()
    state = enc.new_state()
    two = np.array([[1, 2, 1]], np.uint32)  # 1 byte of 1 bpp data: sent as is
    assert enc.encode(two, NOVNC_PF, options, state) == bytes(
        (0x50, 1, 1, 0, 0, 1, 0, 0, 2, 0b01000000)
    )
    big = make_frame(1, 64, 8, 2, "noise")
    first = enc.encode(big, NOVNC_PF, options, state)
    assert first[0] == 0x50 | 0x02  # stream 1, reset bit 1 on first use
    assert enc.encode(big, NOVNC_PF, options, state)[0] == 0x50
    options.compress_level = 1
    # a new level continues the stream (no reset: noVNC cannot survive one, see ZStream)
    assert enc.encode(big, NOVNC_PF, options, state)[0] == 0x50
    stream = state.streams[1]
    assert stream is not None and stream.level == zlib_level(1, palette=True)
    solid = np.full((5, 7), 0x123456, np.uint32)
    assert enc.encode(solid, NOVNC_PF, options, state) == b"\x80\x12\x34\x56"
    pf565 = PixelFormat(16, 16, True, True, 31, 63, 31, 11, 5, 0)
    assert len(enc.encode(solid, pf565, options, state)) == 3  # PIXEL, not TPIXEL


def test_cpixel_rules() -> None:
    assert cpixel_slice(SERVER_PIXEL_FORMAT) == slice(0, 3)
    assert cpixel_slice(PixelFormat(32, 24, False, True, 255, 255, 255, 24, 16, 8)) == slice(1, 4)
    assert cpixel_slice(PixelFormat(32, 24, True, True, 255, 255, 255, 16, 8, 0)) == slice(1, 4)
    assert cpixel_slice(PixelFormat(32, 30, False, True, 1023, 1023, 1023, 20, 10, 0)) is None
    assert cpixel_slice(PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0)) is None


def test_zrle_tile_subencodings() -> None:
    z = ZrleEncoder()
    solid = np.full((64, 64), 0xABCDEF, np.uint32)
    assert z.tiles(solid, NOVNC_PF) == b"\x01\xab\xcd\xef"  # R, G, B at shifts 0, 8, 16
    two = make_frame(3, 64, 64, 2, "noise")
    data = z.tiles(two, NOVNC_PF)
    assert data[0] == 2 and len(data) == 1 + 2 * 3 + 64 * 8  # packed, 1 bit, rows of 8 bytes
    odd = make_frame(3, 13, 5, 5, "noise")  # 4 bits, rows padded to 7 bytes
    data = z.tiles(odd, NOVNC_PF)
    assert data[0] == 5 and len(data) == 1 + 5 * 3 + 5 * 7


def test_manager_pseudo_encodings_and_choice() -> None:
    m = EncodeManager()
    m.set_encodings([16, 7, -224, -250, -27, 5, 1])
    assert m.options.compress_level == 6 and m.options.quality_level == 5
    assert m.choose(ContentClass.BITMAP) == Encoding.ZRLE
    m.set_encodings([6, 2])
    assert m.choose(ContentClass.SOLID) == Encoding.RRE
    assert m.choose(ContentClass.INDEXED) == Encoding.ZLIB
    assert m.options.compress_level is None
    m.set_encodings([])
    assert m.choose(ContentClass.FULL) == Encoding.RAW


class _Counting(Encoder[list[int]]):
    """A stand-in for a new encoding: its payload counts the rectangles of its connection."""

    encoding = Encoding.ZLIB
    suits = frozenset({ContentClass.BITMAP})

    def new_state(self) -> list[int]:
        return []

    def encode(
        self,
        pixels: np.ndarray,
        pf: PixelFormat,
        options: EncoderOptions,
        state: list[int],
        analysis: Analysis | None = None,
    ) -> bytes:
        state.append(pixels.size)
        return len(state).to_bytes(4, "big")


def test_a_new_encoding_is_one_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The manager takes every encoding from ENCODERS: listed by the viewer, chosen for the
    classes it suits, with one state per connection kept between rectangles."""
    monkeypatch.setitem(ENCODERS, Encoding.ZLIB, _Counting())
    fb = make_frame(5, 40, 30, 2, "noise")
    one, other = EncodeManager(), EncodeManager()
    for m in (one, other):
        m.set_encodings([Encoding.HEXTILE, Encoding.ZLIB])
    assert one.choose(ContentClass.BITMAP) == Encoding.HEXTILE
    one.set_encodings([Encoding.RAW, Encoding.ZLIB])
    assert one.choose(ContentClass.BITMAP) == Encoding.ZLIB
    sent = [one.encode(fb, [Rect(0, 0, 40, 30)], NOVNC_PF) for _ in range(3)]
    assert [(r.encoding, r.payload) for u in sent for r in u] == [
        (Encoding.ZLIB, n.to_bytes(4, "big")) for n in (1, 2, 3)
    ]
    other.set_encodings([Encoding.ZLIB])
    assert other.encode(fb, [Rect(0, 0, 40, 30)], NOVNC_PF)[0].payload == b"\0\0\0\1"


def test_manager_bounds_and_solid_bands() -> None:
    fb = make_frame(4, 3000, 200, 0, "noise")
    fb[40:100] = 0x202020
    m = EncodeManager()
    m.set_encodings([7])
    rects = m.encode(fb, [Rect(0, 0, 3000, 200), Rect(2990, 190, 50, 50)], SERVER_PIXEL_FORMAT)
    for r in rects:
        assert r.rect.w <= 2048 and (r.rect.area <= SUB_RECT_MAX_AREA or r.payload[0] == 0x80)
        assert r.rect.right <= 3000 and r.rect.bottom <= 200
    fills = [r for r in rects if r.payload[0] == 0x80]
    assert {(r.rect.y, r.rect.h) for r in fills} == {(40, 60)}
    covered = np.zeros(fb.shape, np.int32)
    for r in rects:
        covered[r.rect.y : r.rect.bottom, r.rect.x : r.rect.right] += 1
    assert covered.min() == 1  # the first rect is tiled exactly, the second clipped inside it


def test_relevel_continues_a_stream_any_inflater_accepts() -> None:
    import zlib

    rng = np.random.default_rng(2)
    z, d = ZStream(6), zlib.decompressobj()
    for i in range(30):
        if i % 7 == 3:
            z.relevel(int(rng.integers(0, 10)))
        data = rng.integers(0, 3, int(rng.integers(1, 3000))).astype(np.uint8).tobytes() * 2
        assert d.decompress(z.compress(data)) == data
    assert zlib_level(None) == 6 and zlib_level(2) == 2 and zlib_level(2, palette=True) == 6
    assert zlib_level(12, palette=True) == 9 and zlib_level(-3) == 0
