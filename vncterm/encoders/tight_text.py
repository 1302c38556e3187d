"""Tight for terminal text: a few large 1-bit-per-pixel layers instead of many small rectangles.

Tight's cheapest form is the palette filter with two colours, one bit per pixel (RFB spec
section 7.7.6). A line of coloured text holds several colour pairs, and cutting it into one
two-colour rectangle per run of cells costs ~30 bytes of headers, palette and zlib flush per
run. Rectangles of one update are drawn in order and may overlap, so instead we send

1. **base layers**: per band of consecutive cell rows sharing their most common background
   and foreground, one rectangle as wide as the region, 1 bit per pixel, in which every cell
   of another colour pair is left blank (all background), and
2. **overlays**: the runs of cells of other colour pairs (including the blank cells that follow
   them, so that runs in successive rows line up and merge into one taller rectangle), each a
   two-colour rectangle at 1 bit per pixel, or a fill when it has no ink.

For an ``ls -l`` screen that is one base layer (grey on black) and an overlay per block of
equally coloured file names. Everything per cell is vectorised over the (rows, cols) grid; the
only Python loops are over the resulting rectangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..geometry import Rect
from .cells import CellPlanes

I64 = npt.NDArray[np.int64]

#: Stand-in for "no foreground" (a row or run without ink); real colours are 24-bit.
_WILD = -1
#: Runs of at least this many blank rows leave the base layer and become a fill.
BLANK_ROWS_MIN = 3


@dataclass(frozen=True, slots=True)
class Layer:
    """One Tight rectangle of the plan: a fill (``fg`` None) or two colours at 1 bpp."""

    rect: Rect
    bg: int
    fg: int | None
    bits: bytes  # packed rows, MSB first, each row padded to a byte; empty for a fill


def _row_mode(values: I64, weights: npt.NDArray[np.bool_] | None) -> tuple[I64, I64]:
    """Per row, the most common value (among ``weights`` True) and how often it occurs."""
    rows, cols = values.shape
    uniq, inv = np.unique(values, return_inverse=True)
    k = uniq.size
    keys = (np.arange(rows)[:, None] * k + inv.reshape(rows, cols)).ravel()
    w = None if weights is None else weights.ravel().astype(np.float64)
    counts = np.bincount(keys, weights=w, minlength=rows * k).reshape(rows, k)
    best = counts.argmax(axis=1)
    return uniq[best].astype(np.int64), counts[np.arange(rows), best].astype(np.int64)


def _fill_wild(values: I64) -> I64:
    """Rows without a value (_WILD) take the previous row's, leading ones the first real one."""
    have = values != _WILD
    if not have.any():
        return values
    idx = np.where(have, np.arange(values.size), -1)
    np.maximum.accumulate(idx, out=idx)
    idx[idx < 0] = int(np.flatnonzero(have)[0])
    out: I64 = values[idx]
    return out


def plan(planes: CellPlanes, origin: Rect) -> list[Layer]:
    """The layers that paint the region ``origin`` (cell-aligned, as ``planes`` describes)."""
    rows, cols = planes.rows, planes.cols
    cw, ch = planes.cell_w, planes.cell_h
    fg = planes.fg.astype(np.int64)
    bg = planes.bg.astype(np.int64)
    has_ink = planes.has_ink

    # The base colour pair of each row.
    bg_r, _ = _row_mode(bg, None)
    on_bg = bg == bg_r[:, None]
    fg_r, n_fg = _row_mode(fg, has_ink & on_bg)
    fg_r = _fill_wild(np.where(n_fg > 0, fg_r, _WILD))
    base = on_bg & (~has_ink | (fg == fg_r[:, None]))
    exc = ~base
    base_ink = has_ink & base

    # Bands of rows: equal base pair; long runs of blank rows (only background) become fills.
    blank = ~base_ink.any(axis=1) & ~exc.any(axis=1)
    if blank.any():
        edges = np.flatnonzero(np.diff(np.concatenate(([0], blank.view(np.int8), [0]))))
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            if b - a < BLANK_ROWS_MIN:
                blank[a:b] = False
    band_fg = np.where(blank, _WILD - 1, fg_r)
    change = np.ones(rows, np.bool_)
    change[1:] = (bg_r[1:] != bg_r[:-1]) | (band_fg[1:] != band_fg[:-1])
    starts = np.flatnonzero(change).tolist()
    ends = [*starts[1:], rows]

    x0, y0 = origin.x, origin.y
    width = cols * cw
    layers: list[Layer] = []
    packed: npt.NDArray[np.uint8] | None = None
    row_has_base_ink = base_ink.any(axis=1)
    for a, b in zip(starts, ends, strict=True):
        rect = Rect(x0, y0 + a * ch, width, (b - a) * ch)
        if blank[a] or not row_has_base_ink[a:b].any():
            layers.append(Layer(rect, int(bg_r[a]), None, b""))
            continue
        if packed is None:
            base_w = np.repeat(base, cw, axis=1)[:, None, :]
            packed = np.packbits(planes.ink & base_w, axis=2)
        layers.append(Layer(rect, int(bg_r[a]), int(fg_r[a]), packed[a:b].tobytes()))

    if not exc.any():
        return layers

    # Overlays: runs of cells with equal (bg, foreground carried over blank cells).
    col = np.arange(cols)
    last_ink = np.where(has_ink, col, -1)
    np.maximum.accumulate(last_ink, axis=1, out=last_ink)
    carried = np.take_along_axis(fg, np.maximum(last_ink, 0), axis=1)
    fill_fg = np.where(last_ink >= 0, carried, _WILD)
    new_seg = np.ones((rows, cols), np.bool_)
    new_seg[:, 1:] = (bg[:, 1:] != bg[:, :-1]) | (fill_fg[:, 1:] != fill_fg[:, :-1])
    seg_start = np.flatnonzero(new_seg)
    seg_end = np.append(seg_start[1:], rows * cols)
    seg_exc = np.logical_or.reduceat(exc.ravel(), seg_start)
    seg_ink = np.logical_or.reduceat(has_ink.ravel(), seg_start)
    keep = seg_exc
    s0, s1, s_ink = seg_start[keep], seg_end[keep], seg_ink[keep]
    s_row, s_c0 = np.divmod(s0, cols)
    s_c1 = s_c0 + (s1 - s0)
    s_bg = bg.ravel()[s0]
    s_fg = np.where(s_ink, fill_fg.ravel()[s0], _WILD)
    # Merge equal runs of successive rows into taller rectangles.
    order = np.lexsort((s_row, s_fg, s_bg, s_c1, s_c0))
    s_row, s_c0, s_c1, s_bg, s_fg = (a[order] for a in (s_row, s_c0, s_c1, s_bg, s_fg))
    n = s_row.size
    first = np.ones(n, np.bool_)
    first[1:] = (
        (s_c0[1:] != s_c0[:-1])
        | (s_c1[1:] != s_c1[:-1])
        | (s_bg[1:] != s_bg[:-1])
        | (s_fg[1:] != s_fg[:-1])
        | (s_row[1:] != s_row[:-1] + 1)
    )
    g0 = np.flatnonzero(first)
    g1 = np.append(g0[1:], n)
    ink = planes.ink
    for i, j in zip(g0.tolist(), g1.tolist(), strict=True):
        ra, rb = int(s_row[i]), int(s_row[j - 1]) + 1
        c0, c1 = int(s_c0[i]), int(s_c1[i])
        rect = Rect(x0 + c0 * cw, y0 + ra * ch, (c1 - c0) * cw, (rb - ra) * ch)
        colour = int(s_fg[i])
        if colour == _WILD:
            layers.append(Layer(rect, int(s_bg[i]), None, b""))
        else:
            bits = np.packbits(ink[ra:rb, :, c0 * cw : c1 * cw], axis=2).tobytes()
            layers.append(Layer(rect, int(s_bg[i]), colour, bits))
    return layers
