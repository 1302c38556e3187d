"""What the terminal renderer knows about its frame: a grid of cells, two colours each.

With hinted monochrome glyphs every pixel of a cell is its foreground or its background colour.
The encoders use that instead of analysing pixels: a rectangle's palette comes from the cell
colours, each pixel's colour index is one comparison (``pixel == fg``), and the runs of
equally coloured cells decide where Tight cuts its 1-bit-per-pixel rectangles.

The claim is checked, never trusted: :func:`cell_planes` compares every pixel with its cell's
two colours and returns None when any pixel is neither (e.g. antialiased glyphs, or a renderer
that draws something else), and the caller falls back to pixel analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..geometry import Rect
from .analysis import MANY, MAX_PALETTE, Analysis

U32 = npt.NDArray[np.uint32]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CellGrid:
    """Cell size and the (rows, cols) foreground and background colours (0x00RRGGBB) of a frame.

    Calling it with a rectangle gives the palette hint the encode manager accepts: the sorted
    colours of the cells under the rectangle.
    """

    cell_w: int
    cell_h: int
    fg: U32
    bg: U32

    def __call__(self, rect: Rect) -> U32:
        c0, c1 = rect.x // self.cell_w, -(-rect.right // self.cell_w)
        r0, r1 = rect.y // self.cell_h, -(-rect.bottom // self.cell_h)
        both = np.concatenate((self.fg[r0:r1, c0:c1].ravel(), self.bg[r0:r1, c0:c1].ravel()))
        out: U32 = np.unique(both).astype(np.uint32, copy=False)
        return out

    def area(self) -> Rect:
        """The pixels the cells cover (the top left of the framebuffer)."""
        rows, cols = self.fg.shape
        return Rect(0, 0, cols * self.cell_w, rows * self.cell_h)

    def within(self, shape: tuple[int, ...]) -> bool:
        """True when the cells fit in a framebuffer of ``shape`` (h, w): exactly, or with a
        margin right of and below them (a screen that is not a whole number of cells)."""
        area = self.area()
        return (
            self.bg.shape == self.fg.shape
            and self.cell_w > 0
            and self.cell_h > 0
            and len(shape) == 2
            and area.h <= shape[0]
            and area.w <= shape[1]
        )

    def align(self, rect: Rect) -> Rect:
        """``rect`` grown to whole cells (inside the grid)."""
        cw, ch = self.cell_w, self.cell_h
        x0, y0 = rect.x - rect.x % cw, rect.y - rect.y % ch
        rows, cols = self.fg.shape
        x1 = min(cols * cw, -(-rect.right // cw) * cw)
        y1 = min(rows * ch, -(-rect.bottom // ch) * ch)
        return Rect(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True, slots=True)
class CellPlanes:
    """A cell-aligned region split into its colour planes.

    ``ink`` is (R, ch, W): True where a pixel shows its cell's foreground (and the foreground
    differs from the background); every other pixel shows the background. ``has_ink`` is (R, C):
    cells with at least one foreground pixel. ``fg``/``bg`` are the region's cell colours.
    """

    ink: Bool
    has_ink: Bool
    fg: U32
    bg: U32
    cell_w: int
    cell_h: int

    @property
    def rows(self) -> int:
        return int(self.fg.shape[0])

    @property
    def cols(self) -> int:
        return int(self.fg.shape[1])


def cell_planes(framebuffer: U32, grid: CellGrid, region: Rect) -> CellPlanes | None:
    """The planes of ``region`` (cell-aligned), or None if a pixel is neither of its cell's
    colours. Vectorised over whole pixel rows: ~4 passes over the pixels."""
    cw, ch = grid.cell_w, grid.cell_h
    r0, c0 = region.y // ch, region.x // cw
    rows, cols = region.h // ch, region.w // cw
    fg = grid.fg[r0 : r0 + rows, c0 : c0 + cols]
    bg = grid.bg[r0 : r0 + rows, c0 : c0 + cols]
    px = framebuffer[region.y : region.bottom, region.x : region.right].reshape(rows, ch, region.w)
    fg_w = np.repeat(fg, cw, axis=1)[:, None, :]
    bg_w = np.repeat(bg, cw, axis=1)[:, None, :]
    is_bg = px == bg_w
    ink = px == fg_w
    if not np.logical_or(ink, is_bg).all():
        return None
    ink &= ~is_bg  # a cell whose fg equals its bg shows only background
    inked_cols = np.logical_or.reduce(ink, axis=1)  # (R, W)
    has_ink = np.logical_or.reduce(inked_cols.reshape(rows, cols, cw), axis=2)
    return CellPlanes(ink, has_ink, fg, bg, cw, ch)


def planes_analysis(planes: CellPlanes) -> Analysis:
    """The region's palette and per-pixel indices (an :class:`Analysis`) from its planes:
    colours from the cell table, indices by one ``where`` over the pixels."""
    fg, bg = planes.fg, planes.bg
    colours = np.unique(np.concatenate((fg[planes.has_ink], bg.ravel()))).astype(np.uint32)
    if colours.size > MAX_PALETTE:
        return MANY
    rows, ch, width = planes.ink.shape
    if colours.size == 1:
        return Analysis(colours, np.zeros((rows * ch, width), np.uint8))
    fg_i = np.minimum(np.searchsorted(colours, fg), colours.size - 1).astype(np.uint8)
    bg_i = np.searchsorted(colours, bg).astype(np.uint8)
    cw = planes.cell_w
    idx = np.where(
        planes.ink, np.repeat(fg_i, cw, axis=1)[:, None, :], np.repeat(bg_i, cw, axis=1)[:, None, :]
    )
    return Analysis(colours, idx.reshape(rows * ch, width))
