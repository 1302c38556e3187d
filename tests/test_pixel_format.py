"""Pixel format parsing and conversion (RFB spec section 7.4)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vncterm.errors import ProtocolError
from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT, PixelFormat

pytestmark = pytest.mark.unit


def reference_pixel(pf: PixelFormat, rgb: int) -> bytes:
    """One pixel's wire bytes, computed the slow obvious way."""
    r, g, b = (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255
    value = (
        (round(r * pf.red_max / 255) << pf.red_shift)
        | (round(g * pf.green_max / 255) << pf.green_shift)
        | (round(b * pf.blue_max / 255) << pf.blue_shift)
    )
    return value.to_bytes(pf.bytes_per_pixel, "big" if pf.big_endian else "little")


@st.composite
def true_colour_formats(draw: st.DrawFn) -> PixelFormat:
    bpp = draw(st.sampled_from([8, 16, 32]))
    bits = [draw(st.integers(1, min(8, bpp // 3))) for _ in range(3)]
    order = draw(st.permutations([0, 1, 2]))
    shifts = [0, 0, 0]
    pos = draw(st.integers(0, bpp - sum(bits)))
    for i in order:
        shifts[i] = pos
        pos += bits[i]
    return PixelFormat(
        bpp,
        min(24, sum(bits)),
        draw(st.booleans()),
        True,
        (1 << bits[0]) - 1,
        (1 << bits[1]) - 1,
        (1 << bits[2]) - 1,
        *shifts,
    )


@settings(max_examples=200, deadline=None)
@given(pf=true_colour_formats(), pixels=st.lists(st.integers(0, 0xFFFFFF), min_size=1, max_size=20))
def test_conversion_matches_the_obvious_formula(pf: PixelFormat, pixels: list[int]) -> None:
    arr = np.array(pixels, dtype=np.uint32).reshape(1, -1)
    wire = pf.pack(arr)
    assert wire == b"".join(reference_pixel(pf, p) for p in pixels)
    # round trip to bytes and back through the 16-byte structure
    assert PixelFormat.from_bytes(pf.to_bytes()) == pf


def test_native_format_is_the_raw_uint32() -> None:
    arr = np.array([[0x123456, 0xABCDEF]], dtype=np.uint32)
    assert SERVER_PIXEL_FORMAT.pack(arr) == struct.pack("<II", 0x123456, 0xABCDEF)


def test_from_wire_inverts_to_wire_for_8_bit_channels() -> None:
    pf = PixelFormat(32, 24, True, True, 255, 255, 255, 0, 8, 16)
    arr = np.arange(0, 0xFFFFFF, 9973, dtype=np.uint32).reshape(1, -1)
    assert (pf.from_wire(pf.pack(arr), arr.shape) == arr).all()


def test_colour_map_format_uses_bgr233() -> None:
    pf = PixelFormat.from_bytes(struct.pack(">BBBBHHHBBB3x", 8, 8, 0, 0, 0, 0, 0, 0, 0, 0))
    assert pf.is_colour_map
    arr = np.array([[0xFF0000, 0x00FF00, 0x0000FF, 0xFFFFFF]], dtype=np.uint32)
    assert pf.pack(arr) == bytes([0x07, 0x38, 0xC0, 0xFF])
    cmap = pf.colour_map()
    assert len(cmap) == 256 and cmap[0x07] == (65535, 0, 0) and cmap[0xC0] == (0, 0, 65535)


@pytest.mark.parametrize(
    "fields",
    [
        (24, 24, 0, 1, 255, 255, 255, 16, 8, 0),  # 24 bpp is not allowed
        (32, 0, 0, 1, 255, 255, 255, 16, 8, 0),  # depth 0
        (32, 24, 0, 1, 0, 255, 255, 16, 8, 0),  # zero max
        (32, 24, 0, 1, 255, 255, 255, 30, 8, 0),  # red beyond 32 bits
        (16, 16, 0, 0, 0, 0, 0, 0, 0, 0),  # colour map at 16 bpp
    ],
)
def test_formats_the_spec_forbids_are_refused(fields: tuple[int, ...]) -> None:
    with pytest.raises(ProtocolError):
        PixelFormat.from_bytes(struct.pack(">BBBBHHHBBB3x", *fields))


def test_compact_pixel_bytes() -> None:
    assert SERVER_PIXEL_FORMAT.compact_bytes() == slice(0, 3)
    assert SERVER_PIXEL_FORMAT.tight_tpixel()
    be = PixelFormat(32, 24, True, True, 255, 255, 255, 16, 8, 0)
    assert be.compact_bytes() == slice(1, 4)
    high = PixelFormat(32, 24, False, True, 255, 255, 255, 24, 16, 8)
    assert high.compact_bytes() == slice(1, 4)
    assert PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0).compact_bytes() is None
    assert PixelFormat(32, 30, False, True, 1023, 1023, 1023, 20, 10, 0).compact_bytes() is None
    # Colour in bits 8..23 fits both the low and the high three bytes: the first three wire
    # bytes win (TigerVNC ZRLEEncoder, libvncclient HandleZRLE24): for big-endian that is the
    # most significant three, bytes 0..2 on the wire.
    mid_be = PixelFormat(32, 16, True, True, 31, 63, 31, 19, 13, 8)
    assert mid_be.compact_bytes() == slice(0, 3)
    mid_le = PixelFormat(32, 16, False, True, 31, 63, 31, 19, 13, 8)
    assert mid_le.compact_bytes() == slice(0, 3)
    # The colour bytes really are the ones kept: pack and compare.
    px = np.array([[0xFFFFFF, 0x123456]], np.uint32)
    for pf in (mid_be, mid_le, be, high, SERVER_PIXEL_FORMAT):
        sl = pf.compact_bytes()
        assert sl is not None
        wire = pf.to_wire(px)
        dropped = np.delete(wire, np.arange(4)[sl], axis=-1)
        assert not dropped.any(), pf
