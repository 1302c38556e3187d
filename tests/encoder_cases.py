"""Shared generators for the encoder tests: frames with controlled colour counts and structure."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from vncterm.encoders.manager import EncodeManager
from vncterm.geometry import Rect
from vncterm.rfb.connection import EncodedRect
from vncterm.rfb.constants import Encoding
from vncterm.rfb.pixel_format import PixelFormat

DATA_ENCODINGS = [
    Encoding.TIGHT,
    Encoding.ZRLE,
    Encoding.HEXTILE,
    Encoding.ZLIB,
    Encoding.RRE,
    Encoding.RAW,
]

#: Palette sizes covering every class: solid, bitmap, 3-16, 17-256 (incl. 256 exactly), >256.
PALETTE_SIZES = [1, 2, 3, 4, 5, 16, 17, 127, 128, 255, 256, 257, 1000, 0]  # 0: fully random
STRUCTURES = ["noise", "blocks", "cells", "rows"]


def make_frame(seed: int, width: int, height: int, ncolours: int, structure: str) -> np.ndarray:
    """A (height, width) uint32 frame with (at most) ``ncolours`` colours laid out by structure.

    noise: independent pixels; blocks: random-sized runs (RLE paths); cells: 8x16 cells with 2-4
    colours each (a terminal); rows: horizontal stripes (solid bands and tiles).
    """
    rng = np.random.default_rng(seed)
    if ncolours == 0:
        return rng.integers(0, 1 << 24, (height, width), dtype=np.uint32)
    palette = rng.choice(1 << 24, size=ncolours, replace=False).astype(np.uint32)
    if structure == "noise":
        idx = rng.integers(0, ncolours, (height, width))
    elif structure == "blocks":
        bw, bh = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        small = rng.integers(0, ncolours, (height // bh + 1, width // bw + 1))
        idx = np.repeat(np.repeat(small, bh, 0), bw, 1)[:height, :width]
    elif structure == "cells":
        cy, cx = height // 16 + 1, width // 8 + 1
        bg = rng.integers(0, ncolours, (cy, cx))
        fg = rng.integers(0, ncolours, (cy, cx))
        glyph = rng.random((height, width)) < 0.3
        big_bg = np.repeat(np.repeat(bg, 16, 0), 8, 1)[:height, :width]
        big_fg = np.repeat(np.repeat(fg, 16, 0), 8, 1)[:height, :width]
        idx = np.where(glyph, big_fg, big_bg)
    else:
        rows = rng.integers(0, ncolours, height)
        idx = np.repeat(rows[:, None], width, 1)
        if width > 2:
            idx[:, rng.integers(0, width)] = rng.integers(0, ncolours, height)
    out: np.ndarray = palette[idx]
    return out


@st.composite
def frames(draw: st.DrawFn, max_w: int = 300, max_h: int = 200) -> np.ndarray:
    """A random frame: size (odd widths included), palette size and structure."""
    w = draw(st.integers(1, max_w))
    h = draw(st.integers(1, max_h))
    n = draw(st.sampled_from(PALETTE_SIZES))
    structure = draw(st.sampled_from(STRUCTURES))
    seed = draw(st.integers(0, 2**32 - 1))
    return make_frame(seed, w, h, n, structure)


@st.composite
def rects_in(draw: st.DrawFn, width: int, height: int, max_count: int = 6) -> list[Rect]:
    """A few random rectangles inside a width x height framebuffer."""
    out = []
    for _ in range(draw(st.integers(1, max_count))):
        x = draw(st.integers(0, width - 1))
        y = draw(st.integers(0, height - 1))
        w = draw(st.integers(1, width - x))
        h = draw(st.integers(1, height - y))
        out.append(Rect(x, y, w, h))
    return out


def encode_updates(
    manager: EncodeManager,
    frames_and_rects: list[tuple[np.ndarray, list[Rect]]],
    pf: PixelFormat,
) -> list[list[EncodedRect]]:
    """Encode a sequence of (framebuffer, damaged rects) with one manager (one connection)."""
    return [manager.encode(fb, rects, pf) for fb, rects in frames_and_rects]


def paint(fb: np.ndarray, rects: list[Rect], src: np.ndarray) -> np.ndarray:
    """``fb`` with each of ``rects`` replaced by the same area of ``src``."""
    out = fb.copy()
    for r in rects:
        out[r.y : r.bottom, r.x : r.right] = src[r.y : r.bottom, r.x : r.right]
    return out
