"""The desktop client's decoders (vncterm/desktop/decoders) against vncterm's own encoders and
hand-built payloads: every encoding round-trips exactly (JPEG within a tolerance), zlib state
carries across rectangles, and malformed payloads raise ProtocolError.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from encoder_cases import PALETTE_SIZES, STRUCTURES, make_frame
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vncterm.desktop.decoders import (
    TightState,
    ZrleState,
    decode_copyrect,
    decode_cursor,
    decode_hextile,
    decode_raw,
    decode_tight,
    decode_zrle,
    feed,
)
from vncterm.desktop.decoders.base import Reader
from vncterm.desktop.decoders.tight import ungradient
from vncterm.encoders.base import Encoder, EncoderOptions
from vncterm.encoders.hextile import HextileEncoder
from vncterm.encoders.raw import RawEncoder
from vncterm.encoders.tight import TightEncoder, compact_length
from vncterm.encoders.zrle import ZrleEncoder
from vncterm.errors import ProtocolError
from vncterm.geometry import Rect
from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT as PF

pytestmark = pytest.mark.unit

FB_W, FB_H = 200, 150
Decode = Callable[[Rect, np.ndarray], Reader[None]]


def connection(enc: Encoder[Any], options: EncoderOptions) -> Callable[[np.ndarray], bytes]:
    """``enc`` on one connection: its state made once and kept from rectangle to rectangle."""
    state = enc.new_state()
    return lambda px: enc.encode(px, PF, options, state)


def decoder_for(name: str) -> tuple[Callable[[np.ndarray], bytes], Decode]:
    """An (encode, decode) pair sharing per-connection state on both sides."""
    zrle, tight = ZrleState(), TightState()
    options = EncoderOptions(tight_gradient=name == "tight-gradient")
    if name == "raw":
        return connection(RawEncoder(), options), decode_raw
    if name == "hextile":
        return connection(HextileEncoder(), options), decode_hextile
    if name == "zrle":
        return connection(ZrleEncoder(), options), lambda r, fb: decode_zrle(r, fb, zrle)
    return connection(TightEncoder(), options), lambda r, fb: decode_tight(r, fb, tight)


@pytest.mark.parametrize("name", ["raw", "hextile", "zrle", "tight", "tight-gradient"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_round_trip_through_vncterm_encoders(name: str, data: st.DataObject) -> None:
    encode, decode = decoder_for(name)
    fb = np.zeros((FB_H, FB_W), np.uint32)
    for _ in range(data.draw(st.integers(1, 4))):  # several rectangles: zlib streams carry over
        w, h = data.draw(st.integers(1, FB_W)), data.draw(st.integers(1, FB_H))
        x, y = data.draw(st.integers(0, FB_W - w)), data.draw(st.integers(0, FB_H - h))
        frame = make_frame(
            data.draw(st.integers(0, 1 << 30)),
            w,
            h,
            data.draw(st.sampled_from(PALETTE_SIZES)),
            data.draw(st.sampled_from(STRUCTURES)),
        )
        payload = encode(frame)
        before = fb.copy()
        _, used = feed(decode(Rect(x, y, w, h), fb), payload)
        assert used == len(payload)
        np.testing.assert_array_equal(fb[y : y + h, x : x + w], frame)
        outside = np.ones(fb.shape, bool)
        outside[y : y + h, x : x + w] = False
        np.testing.assert_array_equal(fb[outside], before[outside])


def reference_ungradient(res: np.ndarray) -> np.ndarray:
    """The gradient filter undone pixel by pixel, as the spec words it (section 7.7.6)."""
    h, w, c = res.shape
    out = np.zeros((h, w, c), np.int32)
    for y in range(h):
        for x in range(w):
            for ch in range(c):
                left = out[y, x - 1, ch] if x else 0
                up = out[y - 1, x, ch] if y else 0
                ul = out[y - 1, x - 1, ch] if x and y else 0
                pred = min(max(left + up - ul, 0), 255)
                out[y, x, ch] = (int(res[y, x, ch]) + pred) & 0xFF
    return out.astype(np.uint8)


@settings(max_examples=40, deadline=None)
@given(w=st.integers(1, 23), h=st.integers(1, 17), seed=st.integers(0, 1 << 30))
def test_ungradient_matches_the_spec_pixel_by_pixel(w: int, h: int, seed: int) -> None:
    res = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(ungradient(res), reference_ungradient(res))


def test_hextile_many_overlapping_subrects_paint_in_order() -> None:
    """More subrectangles than the slice loop handles: the vectorised path keeps their order."""
    rng = np.random.default_rng(3)
    for n in (5, 40, 255):
        subs = []
        expect = np.full((16, 16), 0x010203, np.uint32)
        for _ in range(n):
            x, y = rng.integers(0, 16, 2)
            w, h = rng.integers(1, 17 - x), rng.integers(1, 17 - y)
            colour = int(rng.integers(0, 1 << 24))
            expect[y : y + h, x : x + w] = colour
            subs.append(struct.pack("<IBB", colour, x << 4 | y, (w - 1) << 4 | (h - 1)))
        payload = bytes((2 | 8 | 16,)) + struct.pack("<I", 0x010203) + bytes((n,)) + b"".join(subs)
        fb = np.zeros((16, 16), np.uint32)
        feed(decode_hextile(Rect(0, 0, 16, 16), fb), payload)
        np.testing.assert_array_equal(fb, expect)


def test_hextile_background_and_foreground_carry_over() -> None:
    fb = np.zeros((16, 40), np.uint32)
    payload = (
        bytes((2 | 4 | 8,))
        + struct.pack("<II", 0x111111, 0x222222)
        + b"\x01\x00\x00"
        + bytes((8,))
        + b"\x01\x11\x00"  # same bg/fg; subrect 1,1 1x1
        + bytes((0,))
    )  # same bg, no subrects
    feed(decode_hextile(Rect(0, 0, 40, 16), fb), payload)
    assert fb[0, 0] == 0x222222 and fb[0, 1] == 0x111111
    assert fb[1, 17] == 0x222222 and fb[0, 16] == 0x111111
    assert (fb[:, 32:] == 0x111111).all()


def zrle_payload(state_obj: zlib._Compress, tiles: bytes) -> bytes:
    body = state_obj.compress(tiles) + state_obj.flush(zlib.Z_SYNC_FLUSH)
    return struct.pack(">I", len(body)) + body


def cpixel(rgb: int) -> bytes:
    return struct.pack("<I", rgb)[:3]


def test_zrle_every_subencoding_by_hand() -> None:
    """Raw, solid, packed palette (1, 2, 4 bits), plain RLE and palette RLE, in one stream."""
    z = zlib.compressobj()
    state = ZrleState()
    fb = np.zeros((64, 64 * 7), np.uint32)
    rng = np.random.default_rng(1)
    expect = np.zeros_like(fb)
    tiles = []
    raw = rng.integers(0, 1 << 24, (64, 64), dtype=np.uint32)
    tiles.append(b"\x00" + b"".join(cpixel(int(v)) for v in raw.ravel()))
    expect[:, :64] = raw
    tiles.append(b"\x01" + cpixel(0xABCDEF))
    expect[:, 64:128] = 0xABCDEF
    for t, size in enumerate((2, 4, 16)):
        pal = rng.choice(1 << 24, size, replace=False).astype(np.uint32)
        idx = rng.integers(0, size, (64, 64))
        bits = 1 if size == 2 else 2 if size == 4 else 4
        packed = np.packbits(
            ((idx[..., None] >> np.arange(bits - 1, -1, -1)) & 1).reshape(64, 64 * bits), axis=1
        )
        tiles.append(bytes((size,)) + b"".join(cpixel(int(c)) for c in pal) + packed.tobytes())
        expect[:, 128 + 64 * t : 192 + 64 * t] = pal[idx]
    # plain RLE: runs of 1, 255, 256, 600 and the rest
    lengths = [1, 255, 256, 600]
    lengths.append(4096 - sum(lengths))
    colours = [0x10, 0x20, 0x30, 0x40, 0x50]
    enc = b"\x80"
    for c, n in zip(colours, lengths, strict=True):
        enc += cpixel(c) + b"\xff" * ((n - 1) // 255) + bytes(((n - 1) % 255,))
    tiles.append(enc)
    expect[:, 320:384] = np.repeat(np.array(colours, np.uint32), lengths).reshape(64, 64)
    # palette RLE: palette of 3, single pixels and runs
    pal3 = [0x111111, 0x222222, 0x333333]
    seq = [(0, 1), (1, 300), (2, 1), (0, 3000)]
    seq.append((1, 4096 - sum(n for _, n in seq)))
    enc = bytes((128 + 3,)) + b"".join(cpixel(c) for c in pal3)
    for i, n in seq:
        enc += (
            bytes((i,))
            if n == 1
            else (bytes((i | 128,)) + b"\xff" * ((n - 1) // 255) + bytes(((n - 1) % 255,)))
        )
    tiles.append(enc)
    expect[:, 384:] = np.repeat(
        np.array([pal3[i] for i, _ in seq], np.uint32), [n for _, n in seq]
    ).reshape(64, 64)
    feed(decode_zrle(Rect(0, 0, 64 * 7, 64), fb, state), zrle_payload(z, b"".join(tiles)))
    np.testing.assert_array_equal(fb, expect)
    # the same stream goes on for the next rectangle
    feed(decode_zrle(Rect(5, 5, 3, 2), fb, state), zrle_payload(z, b"\x01" + cpixel(0x123456)))
    assert (fb[5:7, 5:8] == 0x123456).all()


@pytest.mark.parametrize(
    ("tiles", "message"),
    [
        (b"\x11", "not defined"),  # subencoding 17
        (b"\x81", "not defined"),  # subencoding 129
        (b"\x02" + cpixel(1) + cpixel(2), "ended"),  # packed data missing
        (b"\x80" + cpixel(1) + b"\x10", "beyond its tile"),  # run of 17 in a 4x4 tile
        (b"\x83" + cpixel(1) * 3 + b"\x05", "beyond the palette"),
        (b"\x01" + cpixel(1) + b"\x00", "beyond its tiles"),
        (b"\x00" + cpixel(1) * 17, "beyond its tiles"),
    ],
)
def test_zrle_malformed_tiles(tiles: bytes, message: str) -> None:
    fb = np.zeros((4, 4), np.uint32)
    with pytest.raises(ProtocolError, match=message):
        feed(
            decode_zrle(Rect(0, 0, 4, 4), fb, ZrleState()), zrle_payload(zlib.compressobj(), tiles)
        )


def test_zrle_caps_inflated_size_and_length() -> None:
    fb = np.zeros((4, 4), np.uint32)
    bomb = zlib.compress(b"\x01" * 100_000)
    with pytest.raises(ProtocolError, match="beyond what its rectangle"):
        feed(decode_zrle(Rect(0, 0, 4, 4), fb, ZrleState()), struct.pack(">I", len(bomb)) + bomb)
    with pytest.raises(ProtocolError, match="too large"):
        feed(decode_zrle(Rect(0, 0, 4, 4), fb, ZrleState()), struct.pack(">I", 1 << 31))
    with pytest.raises(ProtocolError, match="corrupt"):
        feed(decode_zrle(Rect(0, 0, 4, 4), fb, ZrleState()), b"\0\0\0\x04abcd")


def tight_rect(ctl: int, body: bytes) -> bytes:
    return bytes((ctl,)) + body


def test_tight_fill_palette_and_small_uncompressed() -> None:
    fb = np.zeros((10, 10), np.uint32)
    state = TightState()
    feed(decode_tight(Rect(0, 0, 10, 10), fb, state), b"\x80\x12\x34\x56")
    assert (fb == 0x123456).all()
    # two colours, 3x2 pixels: 2 bytes of bits, under 12 -> uncompressed
    feed(
        decode_tight(Rect(1, 1, 3, 2), fb, state),
        b"\x40\x01\x01" + b"\xff\x00\x00" + b"\x00\x00\xff" + bytes((0b10100000, 0b01000000)),
    )
    np.testing.assert_array_equal(
        fb[1:3, 1:4], [[0xFF, 0xFF0000, 0xFF], [0xFF0000, 0xFF, 0xFF0000]]
    )
    # one colour through the palette filter (1 bit per pixel like two)
    feed(decode_tight(Rect(0, 0, 2, 2), fb, state), b"\x40\x01\x00" + b"\x01\x02\x03" + b"\0\0")
    assert (fb[:2, :2] == 0x010203).all()


def test_tight_resets_streams_on_request() -> None:
    fb = np.zeros((8, 8), np.uint32)
    state = TightState()
    data = bytes(range(64))  # 64 palette indices, colours 0..63
    palette = b"".join(bytes((i, i, i)) for i in range(64))
    for _ in range(2):  # a fresh compressor each time: only works if the reset bit is honoured
        z = zlib.compressobj()
        body = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
        payload = tight_rect(
            0x40 | 0x20 | 0x04, b"\x01\x3f" + palette + compact_length(len(body)) + body
        )
        feed(decode_tight(Rect(0, 0, 8, 8), fb, state), payload)
        assert fb[7, 7] == 0x3F3F3F
    z = zlib.compressobj()
    body = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(ProtocolError):  # no reset bit: stream 2 does not expect a new header
        feed(
            decode_tight(Rect(0, 0, 8, 8), fb, state),
            tight_rect(0x60, b"\x01\x3f" + palette + compact_length(len(body)) + body),
        )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xa0", "PNG"),
        (b"\xb0", "undefined"),
        (b"\x40\x05", "filter 5"),
        (
            b"\x40\x01\x02"
            + b"\x00" * 9
            + compact_length(len(zlib.compress(b"\x03" * 16)))
            + zlib.compress(b"\x03" * 16),
            "beyond the palette",
        ),
        (b"\x00" + compact_length(5) + b"hello", "corrupt"),
        (b"\x00" + compact_length(3_000_000), "compressed bytes"),
    ],
)
def test_tight_malformed(payload: bytes, message: str) -> None:
    fb = np.zeros((4, 4), np.uint32)
    with pytest.raises(ProtocolError, match=message):
        feed(decode_tight(Rect(0, 0, 4, 4), fb, TightState()), payload)


def jpeg_bytes(rgb: np.ndarray, quality: int = 95) -> bytes:
    arr = np.stack([(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr, "RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def test_tight_jpeg_decodes_within_tolerance_and_checks_size() -> None:
    y, x = np.mgrid[0:48, 0:64].astype(np.uint32)
    img = (x * 4 << 16) | (y * 5 << 8) | 0x80
    data = jpeg_bytes(img)
    fb = np.zeros((60, 80), np.uint32)
    feed(
        decode_tight(Rect(8, 4, 64, 48), fb, TightState()),
        b"\x90" + compact_length(len(data)) + data,
    )
    got = fb[4:52, 8:72]
    for shift in (16, 8, 0):
        diff = np.abs(((got >> shift) & 255).astype(int) - ((img >> shift) & 255).astype(int))
        assert diff.max() <= 12
    with pytest.raises(ProtocolError, match="not 32x48"):
        feed(
            decode_tight(Rect(0, 0, 32, 48), fb, TightState()),
            b"\x90" + compact_length(len(data)) + data,
        )
    with pytest.raises(ProtocolError, match="JPEG does not decode"):
        feed(decode_tight(Rect(0, 0, 4, 4), fb, TightState()), b"\x90\x05hello")


def test_copyrect_overlapping_and_bounds() -> None:
    fb = np.arange(100, dtype=np.uint32).reshape(10, 10)
    expect = fb.copy()
    expect[1:6, 2:7] = fb[0:5, 1:6].copy()
    src, _ = feed(decode_copyrect(Rect(2, 1, 5, 5), fb), struct.pack(">HH", 1, 0))
    assert src == Rect(1, 0, 5, 5)
    np.testing.assert_array_equal(fb, expect)
    with pytest.raises(ProtocolError, match="source"):
        feed(decode_copyrect(Rect(0, 0, 5, 5), fb), struct.pack(">HH", 6, 0))
    with pytest.raises(ProtocolError, match="outside"):
        feed(decode_copyrect(Rect(8, 0, 5, 5), fb), struct.pack(">HH", 0, 0))


def test_rectangles_outside_the_framebuffer_are_refused() -> None:
    fb = np.zeros((10, 10), np.uint32)
    for make in (
        lambda r: decode_raw(r, fb),
        lambda r: decode_hextile(r, fb),
        lambda r: decode_zrle(r, fb, ZrleState()),
        lambda r: decode_tight(r, fb, TightState()),
    ):
        with pytest.raises(ProtocolError, match="outside"):
            feed(make(Rect(5, 5, 6, 1)), b"")
        with pytest.raises(ProtocolError, match="outside"):
            feed(make(Rect(0, 65535, 1, 1)), b"")


def test_cursor_image_mask_and_hotspot() -> None:
    pixels = struct.pack("<3I", 0xFF0000, 0x00FF00, 0x0000FF) * 2
    mask = bytes((0b10100000, 0b01000000))
    (image, hotspot), used = feed(decode_cursor(Rect(1, 1, 3, 2)), pixels + mask)
    assert used == len(pixels) + 2 and hotspot == (1, 1)
    assert image.shape == (2, 3, 4)
    assert image[0, 0].tolist() == [255, 0, 0, 255] and image[0, 1, 3] == 0
    assert image[1, 1].tolist() == [0, 255, 0, 255] and image[1, 2, 3] == 0
    (empty, _), used = feed(decode_cursor(Rect(0, 0, 0, 0)), b"")
    assert empty.shape == (0, 0, 4) and used == 0
    with pytest.raises(ProtocolError, match="larger"):
        feed(decode_cursor(Rect(0, 0, 5000, 5000)), b"")
