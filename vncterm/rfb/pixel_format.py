"""Pixel formats (RFB spec section 7.4 "Pixel Format Data Structure").

The server framebuffer stores one ``uint32`` per pixel as ``0x00RRGGBB``. A viewer may ask for any
true-colour format the spec allows (8, 16 or 32 bits per pixel, either byte order, any shifts and
maxima), or for an 8 bpp colour-map format, which we serve with a fixed BGR233 colour map sent
through SetColourMapEntries (section 7.6.2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import ProtocolError

_PF = struct.Struct(">BBBBHHHBBB3x")
PIXEL_FORMAT_SIZE = _PF.size  # 16


@dataclass(frozen=True, slots=True)
class PixelFormat:
    """The 16-byte PIXEL_FORMAT structure, validated."""

    bits_per_pixel: int
    depth: int
    big_endian: bool
    true_colour: bool
    red_max: int
    green_max: int
    blue_max: int
    red_shift: int
    green_shift: int
    blue_shift: int

    # -- wire form -----------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes) -> PixelFormat:
        """Parse and validate the 16-byte structure; ProtocolError if the spec forbids it."""
        if len(data) != PIXEL_FORMAT_SIZE:
            raise ProtocolError(f"pixel format must be {PIXEL_FORMAT_SIZE} bytes, got {len(data)}")
        bpp, depth, be, tc, rm, gm, bm, rs, gs, bs = _PF.unpack(data)
        pf = cls(bpp, depth, bool(be), bool(tc), rm, gm, bm, rs, gs, bs)
        pf.validate()
        return pf

    def to_bytes(self) -> bytes:
        return _PF.pack(
            self.bits_per_pixel,
            self.depth,
            int(self.big_endian),
            int(self.true_colour),
            self.red_max,
            self.green_max,
            self.blue_max,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
        )

    def validate(self) -> None:
        """Raise ProtocolError for a format we cannot serve (section 7.4)."""
        bpp = self.bits_per_pixel
        if bpp not in (8, 16, 32):
            raise ProtocolError(f"bits-per-pixel must be 8, 16 or 32, got {bpp}")
        if not 1 <= self.depth <= 32:
            raise ProtocolError(f"depth must be 1..32, got {self.depth}")
        if not self.true_colour:
            if bpp != 8:
                raise ProtocolError(f"colour-map formats are served only at 8 bpp, got {bpp}")
            return
        for name, mx, shift in (
            ("red", self.red_max, self.red_shift),
            ("green", self.green_max, self.green_shift),
            ("blue", self.blue_max, self.blue_shift),
        ):
            if mx <= 0:
                raise ProtocolError(f"{name}-max must be positive in a true-colour format")
            if shift + mx.bit_length() > bpp:
                raise ProtocolError(
                    f"{name} channel (max {mx}, shift {shift}) does not fit in {bpp} bits"
                )

    # -- derived facts ---------------------------------------------------------------------------

    @property
    def bytes_per_pixel(self) -> int:
        return self.bits_per_pixel // 8

    @property
    def is_colour_map(self) -> bool:
        return not self.true_colour

    def effective(self) -> PixelFormat:
        """The true-colour format we actually write: colour-map formats map to BGR233 indices."""
        if self.true_colour:
            return self
        return PixelFormat(8, 8, False, True, 7, 7, 3, 0, 3, 6)

    def colour_map(self) -> list[tuple[int, int, int]]:
        """The 256 (r, g, b) U16 entries of the BGR233 map for a colour-map viewer."""
        out = []
        for i in range(256):
            r, g, b = i & 7, (i >> 3) & 7, (i >> 6) & 3
            out.append((r * 65535 // 7, g * 65535 // 7, b * 65535 // 3))
        return out

    @property
    def is_native(self) -> bool:
        """True when pixels are our own 0x00RRGGBB little-endian words (no conversion needed)."""
        return (
            self.true_colour
            and self.bits_per_pixel == 32
            and not self.big_endian
            and (self.red_max, self.green_max, self.blue_max) == (255, 255, 255)
            and (self.red_shift, self.green_shift, self.blue_shift) == (16, 8, 0)
        )

    def compact_bytes(self) -> slice | None:
        """Which wire bytes of a 32 bpp pixel form a 3-byte ZRLE CPIXEL, or None (full PIXEL).

        Section 7.7.7 (ZRLE): a true-colour, 32 bpp format of depth <= 24 whose colour bits all
        fit in the three least (or most) significant bytes sends pixels as those three bytes.
        When both hold (colour within bits 8..23) the first three wire bytes are used: the most
        significant three of a big-endian format, the least significant three of a
        little-endian one, as TigerVNC's ZRLE encoder and libvncclient's decoder both decide.
        (Tight's TPIXEL is a different rule: see :meth:`tight_tpixel`.)
        """
        if not (self.true_colour and self.bits_per_pixel == 32 and self.depth <= 24):
            return None
        colour = (
            (self.red_max << self.red_shift)
            | (self.green_max << self.green_shift)
            | (self.blue_max << self.blue_shift)
        )
        low3 = colour < 1 << 24
        high3 = colour & 0xFF == 0
        if (low3 and not self.big_endian) or (high3 and self.big_endian):
            return slice(0, 3)
        if low3 or high3:
            return slice(1, 4)
        return None

    def tight_tpixel(self) -> bool:
        """Section 7.7.6: Tight's TPIXEL is 3 bytes, R, G, B in that order whatever the shifts,
        for a true-colour 32 bpp format of depth 24 with 8-bit channels; else the PIXEL."""
        return (
            self.true_colour
            and self.bits_per_pixel == 32
            and self.depth == 24
            and (self.red_max, self.green_max, self.blue_max) == (255, 255, 255)
        )

    # -- conversion ------------------------------------------------------------------------------

    def convert(self, rgb: np.ndarray) -> np.ndarray:
        """Map ``0x00RRGGBB`` uint32 pixels to this format's pixel values (uint32)."""
        pf = self.effective()
        rgb = rgb.astype(np.uint32, copy=False)
        if (pf.red_max, pf.green_max, pf.blue_max) == (255, 255, 255):
            r = (rgb >> 16) & 0xFF
            g = (rgb >> 8) & 0xFF
            b = rgb & 0xFF
        else:
            r = (((rgb >> 16) & 0xFF) * pf.red_max + 127) // 255
            g = (((rgb >> 8) & 0xFF) * pf.green_max + 127) // 255
            b = ((rgb & 0xFF) * pf.blue_max + 127) // 255
        return (r << pf.red_shift) | (g << pf.green_shift) | (b << pf.blue_shift)

    def wire_dtype(self) -> np.dtype:
        """The numpy dtype of one pixel on the wire in this format."""
        order = ">" if self.big_endian else "<"
        return np.dtype({8: "u1", 16: f"{order}u2", 32: f"{order}u4"}[self.bits_per_pixel])

    def to_wire(self, rgb: np.ndarray) -> np.ndarray:
        """Pixels as wire bytes: shape ``rgb.shape + (bytes_per_pixel,)``, dtype uint8."""
        if self.is_native:
            values = np.ascontiguousarray(rgb, dtype="<u4")
        else:
            values = np.ascontiguousarray(self.convert(rgb).astype(self.wire_dtype()))
        return values.view(np.uint8).reshape(rgb.shape + (self.bytes_per_pixel,))

    def pack(self, rgb: np.ndarray) -> bytes:
        """Pixels as the wire bytes of a Raw rectangle (row-major)."""
        return self.to_wire(rgb).tobytes()

    def from_wire(self, data: bytes | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Inverse of :meth:`to_wire` for true-colour formats: wire bytes back to 0x00RRGGBB.

        Channels are expanded to 8 bits by ``v * 255 // max`` (used by the desktop proxy and tests).
        """
        pf = self.effective()
        values = np.frombuffer(bytes(data), dtype=pf.wire_dtype()).astype(np.uint32).reshape(shape)

        def chan(shift: int, mx: int) -> np.ndarray:
            v = (values >> shift) & mx
            return v if mx == 255 else (v * 255 + mx // 2) // mx

        r = chan(pf.red_shift, pf.red_max)
        g = chan(pf.green_shift, pf.green_max)
        b = chan(pf.blue_shift, pf.blue_max)
        out: np.ndarray = (r << 16) | (g << 8) | b
        return out


# The format vncterm announces in ServerInit: 32 bpp, depth 24, little-endian, 0x00RRGGBB.
SERVER_PIXEL_FORMAT = PixelFormat(32, 24, False, True, 255, 255, 255, 16, 8, 0)
