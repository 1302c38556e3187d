"""Content analysis shared by the encoders and the encode manager.

A rectangle is classed by how many colours it holds (the classes TigerVNC's EncodeManager uses):
solid (1), bitmap (2), indexed (3..256) or full colour (more). Terminal cells hold 2 to 4
colours, so nearly every rectangle of a terminal frame is bitmap or indexed.

Counting colours with ``np.unique`` sorts every pixel (~10 ms for an 80x25 frame); instead we
hash each pixel into 65536 buckets, and when every bucket holds one colour the bucket
representatives are the palette. A palette hint from the renderer (a superset of the colours)
replaces the hashing. Everything here is vectorised; nothing loops per pixel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
U8 = npt.NDArray[np.uint8]
IntArr = npt.NDArray[np.intp]

_HASH_BITS = 16
_HASH_MUL = np.uint32(0x9E3779B1)
_HASH_SHIFT = np.uint32(32 - _HASH_BITS)

#: The largest palette any encoder uses (Tight's palette filter).
MAX_PALETTE = 256


class ContentClass(enum.Enum):
    """The classes a rectangle falls in, by colour count."""

    SOLID = "solid"
    BITMAP = "bitmap"
    INDEXED = "indexed"
    FULL = "full"


#: Every class: what an encoding that suits any content declares.
ALL_CLASSES = frozenset(ContentClass)


@dataclass(frozen=True, slots=True)
class Analysis:
    """Colours of a rectangle: the sorted palette and each pixel's index, or None if too many."""

    colours: U32 | None
    indices: U8 | None

    @property
    def ncolours(self) -> int | None:
        """Number of distinct colours, None when more than the limit analysed for."""
        return None if self.colours is None else int(self.colours.size)

    @property
    def content_class(self) -> ContentClass:
        n = self.ncolours
        if n is None:
            return ContentClass.FULL
        if n <= 1:
            return ContentClass.SOLID
        if n == 2:
            return ContentClass.BITMAP
        return ContentClass.INDEXED


MANY = Analysis(None, None)


def analyse(pixels: U32, max_colours: int = MAX_PALETTE, hint: U32 | None = None) -> Analysis:
    """Find the palette of ``pixels`` ((h, w) uint32) if it has at most ``max_colours`` colours.

    ``hint`` is a sorted superset of the colours present (e.g. from the terminal renderer).
    """
    max_colours = min(max_colours, MAX_PALETTE)
    flat = np.ascontiguousarray(pixels, dtype=np.uint32).reshape(-1)
    if flat.size == 0:
        return Analysis(np.zeros(0, np.uint32), np.zeros(pixels.shape, np.uint8))
    first = flat[0]
    if hint is not None and hint.size == 1:
        return Analysis(hint.astype(np.uint32), np.zeros(pixels.shape, np.uint8))
    if hint is not None and _PEEL_LIMIT < hint.size <= MAX_PALETTE:  # peeling beats it below
        hint = np.ascontiguousarray(hint, dtype=np.uint32)
        idx = np.searchsorted(hint, flat)
        np.minimum(idx, hint.size - 1, out=idx)
        if np.array_equal(hint[idx], flat):  # the hint really is a superset
            used = np.bincount(idx, minlength=hint.size) > 0
            if used.all():
                colours, local = hint, idx
            else:
                lut = np.cumsum(used) - 1
                colours, local = hint[used], lut[idx]
            if colours.size > max_colours:
                return MANY
            return Analysis(colours, local.astype(np.uint8).reshape(pixels.shape))
    if not (flat != first).any():
        return Analysis(np.array([first], np.uint32), np.zeros(pixels.shape, np.uint8))
    few = _peel(flat, min(max_colours, _PEEL_LIMIT))
    if few is not None:
        return Analysis(few, small_palette_indices(flat, few).reshape(pixels.shape))
    h = (flat * _HASH_MUL) >> _HASH_SHIFT
    counts = np.bincount(h, minlength=1 << _HASH_BITS)
    buckets = np.flatnonzero(counts)
    if buckets.size > max_colours:
        return MANY
    rep = np.zeros(1 << _HASH_BITS, np.uint32)
    rep[h] = flat
    if np.array_equal(rep[h], flat):
        colours = rep[buckets]
        order = np.argsort(colours)
        lut = np.zeros(1 << _HASH_BITS, np.uint8)
        lut[buckets[order]] = np.arange(buckets.size, dtype=np.uint8)
        return Analysis(colours[order], lut[h].reshape(pixels.shape))
    # A hash collision: fall back to sorting (rare for small palettes).
    colours, inverse = np.unique(flat, return_inverse=True)
    if colours.size > max_colours:
        return MANY
    return Analysis(colours.astype(np.uint32), inverse.astype(np.uint8).reshape(pixels.shape))


_PEEL_LIMIT = 16
_SMALL_MULS = [np.uint32(m) for m in (0x9E3779B1, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F, 0x165667B1)]


def _peel(flat: U32, limit: int) -> U32 | None:
    """The sorted colours of ``flat`` if at most ``limit``, found by removing one colour at a
    time (fast when one colour dominates, as a terminal background does)."""
    rest = flat
    found: list[int] = []
    while rest.size:
        if len(found) == limit:
            return None
        c = rest[0]
        found.append(int(c))
        rest = rest[rest != c]
    return np.array(sorted(found), np.uint32)


def small_palette_indices(flat: U32, colours: U32) -> U8:
    """Index of each pixel in ``colours`` (sorted, containing every pixel value, <= 256)."""
    n = colours.size
    if n == 1:
        return np.zeros(flat.shape, np.uint8)
    if n == 2:
        mono: U8 = (flat == colours[1]).view(np.uint8)
        return mono
    bits = 8 if n <= 16 else 12
    shift = np.uint32(32 - bits)
    for mul in _SMALL_MULS:
        slots = (colours * mul) >> shift
        if np.unique(slots).size == n:
            lut = np.zeros(1 << bits, np.uint8)
            lut[slots] = np.arange(n, dtype=np.uint8)
            out: U8 = lut[(flat * mul) >> shift]
            return out
    return np.searchsorted(colours, flat).astype(np.uint8)


# -- tiles -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TileLayout:
    """A rectangle cut into tiles (row-major tiles, row-major pixels inside each tile).

    ``perm`` reorders a flattened rectangle into tile order; ``tid`` gives each tile-ordered
    pixel its tile number; ``start``/``size``/``tw``/``th`` describe each tile.
    """

    perm: IntArr
    tid: IntArr
    start: IntArr
    size: IntArr
    tx: IntArr
    ty: IntArr
    tw: IntArr
    th: IntArr
    row_start: npt.NDArray[np.bool_]
    tid32: npt.NDArray[np.int32]

    @property
    def count(self) -> int:
        return int(self.size.size)


@lru_cache(maxsize=32)
def tile_layout(width: int, height: int, tile: int) -> TileLayout:
    """The (cached) tile layout of a ``width`` x ``height`` rectangle with square tiles."""
    grid = np.arange(width * height, dtype=np.intp).reshape(height, width)
    parts: list[IntArr] = []
    tx: list[int] = []
    ty: list[int] = []
    tw: list[int] = []
    th: list[int] = []
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            block = grid[y : y + tile, x : x + tile]
            parts.append(block.reshape(-1))
            tx.append(x)
            ty.append(y)
            th.append(block.shape[0])
            tw.append(block.shape[1])
    perm = np.concatenate(parts) if parts else np.zeros(0, np.intp)
    tw_a = np.array(tw, np.intp)
    th_a = np.array(th, np.intp)
    size = tw_a * th_a
    start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.intp)
    tid = np.repeat(np.arange(size.size, dtype=np.intp), size)
    pos = np.arange(perm.size, dtype=np.intp) - start[tid] if perm.size else perm
    row_start = (pos % tw_a[tid]) == 0 if perm.size else np.zeros(0, np.bool_)
    tid32 = tid.astype(np.int32)
    for a in (perm, tid, start, size, tw_a, th_a, row_start, tid32):
        a.setflags(write=False)
    return TileLayout(
        perm,
        tid,
        start,
        size,
        np.array(tx, np.intp),
        np.array(ty, np.intp),
        tw_a,
        th_a,
        row_start,
        tid32,
    )


@dataclass(frozen=True, slots=True)
class TileColours:
    """Per-tile palettes of a rectangle in tile order.

    ``table`` concatenates each tile's sorted palette (tile k's at ``pal_start[k]``, ``ncol[k]``
    entries, with pixel counts in ``counts``); ``local`` is each tile-ordered pixel's index in its
    tile's palette; ``key`` is a value equal between two pixels exactly when their colours are.
    """

    table: U32
    counts: IntArr
    ncol: IntArr
    pal_start: IntArr
    local: npt.NDArray[np.signedinteger[Any]]
    key: npt.NDArray[np.uint32] | U8


def tile_colours(pixels: U32, layout: TileLayout, analysis: Analysis | None) -> TileColours:
    """Per-tile palettes, cheap when the whole rectangle has a small palette."""
    t = layout.count
    if analysis is not None and analysis.colours is not None and analysis.indices is not None:
        colours = analysis.colours
        p = max(1, colours.size)
        key8 = analysis.indices.reshape(-1)[layout.perm]
        keys: npt.NDArray[np.signedinteger[Any]]  # (tile, colour) of each pixel
        if t * p < 1 << 31:
            keys = layout.tid32 * np.int32(p) + key8
        else:
            keys = layout.tid * p + key8
        cnt = np.bincount(keys, minlength=t * p).reshape(t, p)
        present = cnt > 0
        ncol = present.sum(axis=1)
        lut = (np.cumsum(present, axis=1) - 1).astype(np.int16 if p <= 256 else np.int32)
        local = lut.reshape(-1)[keys]
        tiles_of, colour_of = np.nonzero(present)
        table = colours[colour_of]
        counts = cnt[tiles_of, colour_of]
        key: npt.NDArray[np.uint32] | U8 = key8
    else:
        vals = np.ascontiguousarray(pixels, dtype=np.uint32).reshape(-1)[layout.perm]
        wide = (layout.tid.astype(np.uint64) << np.uint64(32)) | vals.astype(np.uint64)
        uniq, inverse, ucount = np.unique(wide, return_inverse=True, return_counts=True)
        ncol = np.bincount((uniq >> np.uint64(32)).astype(np.intp), minlength=t)
        table = (uniq & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        counts = ucount
        starts = np.concatenate(([0], np.cumsum(ncol)[:-1])).astype(np.intp)
        local = inverse.reshape(-1).astype(np.intp) - starts[layout.tid]
        key = vals
    pal_start = np.concatenate(([0], np.cumsum(ncol)[:-1])).astype(np.intp)
    return TileColours(table, counts.astype(np.intp), ncol.astype(np.intp), pal_start, local, key)


def run_starts(key: npt.NDArray[np.uint32] | U8, breaks: npt.NDArray[np.bool_]) -> IntArr:
    """Start offsets of runs of equal ``key`` values, with forced breaks where ``breaks``."""
    n = key.size
    brk = np.empty(n, np.bool_)
    if n == 0:
        return np.zeros(0, np.intp)
    brk[0] = True
    np.not_equal(key[1:], key[:-1], out=brk[1:])
    brk |= breaks
    return np.flatnonzero(brk)


def tile_start_mask(layout: TileLayout) -> npt.NDArray[np.bool_]:
    """True at the first pixel of every tile (tile order)."""
    mask = np.zeros(layout.perm.size, np.bool_)
    mask[layout.start] = True
    return mask
