"""Per-viewer choice of encoding for each rectangle (after TigerVNC's EncodeManager).

The server hands the manager the damaged rectangles of a frame; CopyRects are decided by the
caller (they come from the source's scroll hints). The manager first merges the damage into few
regions (``coalesce``: a scrolled screen's per-row spans become one region). Then:

* With a :class:`~.cells.CellGrid` (a terminal frame, two colours per cell, verified against the
  pixels) each region is cut only into columns at most 2048 wide. Tight sends it as a few 1 bpp
  layers (``tight_text``); the other encodings get the palette and per-pixel indices from the
  cells instead of a pixel analysis; ZRLE packs all its tiles in one vectorised pass.
* Otherwise (any pixels) the manager
  1. cuts out solid bands (full-width runs of rows of one colour, e.g. blank terminal lines),
  2. splits the rest into bounded sub-rectangles (at most 2048 wide and 65536 pixels; heights
     rounded to 16),
  3. classifies each piece by colour count (solid, bitmap, indexed, full colour; see
     ``analysis``), using the palette hint when given, and
  4. encodes it with the viewer's most preferred encoding (SetEncodings order, section 7.5.2)
     that suits the class (each encoder's ``suits``: Tight/ZRLE/Hextile anything, RRE solid
     areas, Zlib the rest), else with any other encoding the viewer listed, Raw (always
     allowed) as the last resort. An encoder may cut its piece further or give way to Raw
     (``Encoder.rects``: Tight's JPEG and two-colour cuts, RRE only when it beats Raw).

The encoders are the table :data:`ENCODERS`; each viewer's manager holds one state per encoder
(its zlib streams), made when the viewer connects. Pseudo-encodings -256..-247 set the
compression level and -32..-23 the JPEG quality (section 7.8). The manager is not thread-safe
but may run in a worker thread: the server calls ``encode`` for one viewer at a time, and all
state lives in this object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic

import numpy as np

from ..geometry import Rect
from ..rfb.connection import EncodedRect
from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from .analysis import MANY, Analysis, ContentClass, analyse
from .base import MERGE_WIDE, Encoder, EncoderOptions, S
from .cells import CellGrid, cell_planes, planes_analysis
from .hextile import HextileEncoder
from .raw import RawEncoder
from .rre import RreEncoder
from .tight import MAX_WIDTH, TightEncoder
from .zlib_enc import ZlibEncoder
from .zrle import ZrleEncoder

#: Every encoding the manager sends, by number. A new encoding: its module and one line here.
ENCODERS: dict[Encoding, Encoder[Any]] = {
    e.encoding: e
    for e in (
        RawEncoder(),
        RreEncoder(),
        HextileEncoder(),
        ZlibEncoder(),
        TightEncoder(),
        ZrleEncoder(),
    )
}
#: Sent when the viewer listed nothing else (every viewer decodes it).
LAST_RESORT = Encoding.RAW

#: Returns a superset of the colours (sorted uint32 array) inside a rectangle, or None.
PaletteHint = Callable[[Rect], "np.ndarray | None"]

SUB_RECT_MAX_AREA = 65536
SUB_RECT_MAX_WIDTH = MAX_WIDTH
#: Solid bands shorter than this many rows stay inside their neighbours' rectangles.
SOLID_BAND_MIN_ROWS = 8


@dataclass(frozen=True, slots=True)
class Slot(Generic[S]):
    """An encoder with one connection's state for it."""

    encoder: Encoder[S]
    state: S


def _merge(boxes: list[tuple[Rect, int]], waste: float, slack: int) -> list[tuple[Rect, int]]:
    """Greedy merge of (box, useful pixels) pairs, in the given order."""
    out: list[tuple[Rect, int]] = []
    for r, useful in boxes:
        if out:
            box, have = out[-1]
            merged = box.union(r)
            total = have + useful
            if merged.area - total <= max(waste * total, slack):
                out[-1] = (merged, total)
                continue
        out.append((r, useful))
    return out


def coalesce(
    rects: Sequence[Rect], waste: float = MERGE_WIDE.waste, slack: int = MERGE_WIDE.slack
) -> list[Rect]:
    """Merge rectangles into bounding boxes that waste little: first the runs of one row of
    cells (equal y and height), then the rows, top to bottom.

    The damage of a scrolled screen arrives as one rectangle per changed run of cells in each
    row; sending their bounding box instead is smaller on the wire and much cheaper to encode
    (fewer headers, palettes and zlib flushes, far less Python per rectangle). How much unasked
    area a box may hold is the encoding's ``merge``.
    """
    if len(rects) <= 1:
        return list(rects)
    rows: dict[tuple[int, int], list[Rect]] = {}
    for r in rects:
        rows.setdefault((r.y, r.h), []).append(r)
    boxes: list[tuple[Rect, int]] = []
    for key in sorted(rows):
        boxes.extend(
            _merge([(r, r.area) for r in sorted(rows[key], key=lambda r: r.x)], waste, slack)
        )
    return [box for box, _ in _merge(boxes, waste, slack)]


class EncodeManager:
    """Chooses and runs encoders for one viewer; holds that viewer's encoder states."""

    def __init__(self, options: EncoderOptions | None = None) -> None:
        self.options = options or EncoderOptions()
        self._slots: dict[Encoding, Slot[Any]] = {
            number: Slot(enc, enc.new_state()) for number, enc in ENCODERS.items()
        }
        self.preferred: list[Encoding] = [LAST_RESORT]

    def set_encodings(self, encodings: Sequence[int]) -> None:
        """Record the viewer's SetEncodings list (section 7.5.2), in its order of preference."""
        self.preferred = []
        for e in encodings:
            if e in ENCODERS and e not in self.preferred:
                self.preferred.append(Encoding(e))
        self.options.compress_level = None
        self.options.quality_level = None
        for e in encodings:
            if Encoding.COMPRESS_LEVEL_LOW <= e <= Encoding.COMPRESS_LEVEL_HIGH:
                self.options.compress_level = e - Encoding.COMPRESS_LEVEL_LOW
            elif Encoding.JPEG_QUALITY_LOW <= e <= Encoding.JPEG_QUALITY_HIGH:
                self.options.quality_level = e - Encoding.JPEG_QUALITY_LOW

    def choose(self, content: ContentClass) -> Encoding:
        """The encoding for a rectangle of this class: the viewer's first that suits it, else
        its first other than the last resort (the encoder may still give way to Raw)."""
        for e in self.preferred:
            if content in ENCODERS[e].suits:
                return e
        for e in self.preferred:
            if e != LAST_RESORT:
                return e
        return LAST_RESORT

    def _slot(self, content: ContentClass) -> Slot[Any]:
        return self._slots[self.choose(content)]

    def encode(
        self,
        framebuffer: np.ndarray,
        rects: Sequence[Rect],
        pf: PixelFormat,
        palette_hint: PaletteHint | CellGrid | None = None,
        *,
        cells: CellGrid | None = None,
    ) -> list[EncodedRect]:
        """Encode ``rects`` of ``framebuffer`` (uint32 0x00RRGGBB, shape (H, W)) for this viewer.

        ``cells`` (or a :class:`CellGrid` given as ``palette_hint``) describes a terminal
        frame: every cell's pixels are its foreground or background colour. It makes the
        palette analysis nearly free and lets Tight send text as a few 1 bpp layers; it is
        verified against the pixels, and ignored where it does not hold.
        """
        fb_h, fb_w = framebuffer.shape
        bounds = Rect(0, 0, fb_w, fb_h)
        if cells is None and isinstance(palette_hint, CellGrid):
            cells = palette_hint
        if cells is not None and not cells.within(framebuffer.shape):
            cells = None
        hint_fn: PaletteHint | None = cells if cells is not None else palette_hint
        clipped = [r.intersect(bounds) for r in rects]
        merge = self._slot(ContentClass.BITMAP).encoder.merge
        regions = coalesce([r for r in clipped if not r.empty], merge.waste, merge.slack)
        out: list[EncodedRect] = []
        for rect in regions:
            if cells is not None:
                out.extend(self._encode_terminal(framebuffer, rect, pf, cells))
                continue
            out.extend(self._encode_generic(framebuffer, rect, pf, hint_fn))
        return out

    def _encode_terminal(
        self, framebuffer: np.ndarray, rect: Rect, pf: PixelFormat, cells: CellGrid
    ) -> list[EncodedRect]:
        """A rectangle of a terminal frame: its cells by cells where they hold, the margin
        outside the cells (a screen that is not a whole number of cells) as any pixels."""
        grid = cells.area()
        out: list[EncodedRect] = []
        inside = rect.intersect(grid)
        if not inside.empty:
            done = self._encode_cells(framebuffer, cells.align(inside), pf, cells)
            out.extend(
                done if done is not None else self._encode_generic(framebuffer, inside, pf, cells)
            )
        margins = (
            Rect(grid.right, rect.y, rect.right - grid.right, rect.h),
            Rect(
                rect.x, grid.bottom, min(rect.right, grid.right) - rect.x, rect.bottom - grid.bottom
            ),
        )
        for margin in margins:
            margin = margin.intersect(rect)
            if not margin.empty:
                out.extend(self._encode_generic(framebuffer, margin, pf, None))
        return out

    def _encode_generic(
        self, framebuffer: np.ndarray, rect: Rect, pf: PixelFormat, hint_fn: PaletteHint | None
    ) -> list[EncodedRect]:
        """Any pixels: solid bands, bounded pieces, pixel analysis (with the hint if any)."""
        out: list[EncodedRect] = []
        for band, solid in self._bands(framebuffer, rect):
            if solid is not None:
                for piece in band.split(SUB_RECT_MAX_WIDTH, band.h):
                    colours = np.array([solid], np.uint32)
                    an = Analysis(colours, np.zeros((piece.h, piece.w), np.uint8))
                    out.extend(self._encode_piece(framebuffer, piece, pf, an))
                continue
            for piece in self._split(band):
                hint = hint_fn(piece) if hint_fn is not None else None
                pixels = framebuffer[piece.y : piece.bottom, piece.x : piece.right]
                an = analyse(pixels, hint=hint)
                out.extend(self._encode_piece(framebuffer, piece, pf, an))
        return out

    def _encode_cells(
        self, framebuffer: np.ndarray, region: Rect, pf: PixelFormat, cells: CellGrid
    ) -> list[EncodedRect] | None:
        """A cell-aligned region of a terminal frame, or None if its pixels are not 2 colours
        per cell. Cut into columns at most 2048 pixels wide (Tight's limit); no area limit."""
        cw = cells.cell_w
        step = max(1, SUB_RECT_MAX_WIDTH // cw) * cw
        out: list[EncodedRect] = []
        for x in range(region.x, region.right, step):
            part = Rect(x, region.y, min(step, region.right - x), region.h)
            planes = cell_planes(framebuffer, cells, part)
            if planes is None:
                return (
                    None
                    if not out
                    else out
                    + self._encode_generic(
                        framebuffer, Rect(x, region.y, region.right - x, region.h), pf, cells
                    )
                )
            slot = self._slot(ContentClass.BITMAP)
            own = slot.encoder.cells(planes, part, pf, self.options, slot.state)
            if own is not None:
                out.extend(own)
                continue
            an = planes_analysis(planes)
            if an.content_class is ContentClass.SOLID or slot.encoder.uses_palette:
                out.extend(self._encode_piece(framebuffer, part, pf, an))
                continue
            for piece in self._split(part):  # pixels as they are: bounded pieces
                out.extend(self._encode_piece(framebuffer, piece, pf, MANY))
        return out

    # -- internals -------------------------------------------------------------------------------

    def _encode_piece(
        self, framebuffer: np.ndarray, piece: Rect, pf: PixelFormat, an: Analysis
    ) -> list[EncodedRect]:
        pixels = framebuffer[piece.y : piece.bottom, piece.x : piece.right]
        slot = self._slot(an.content_class)
        return slot.encoder.rects(piece, pixels, pf, self.options, slot.state, an)

    @staticmethod
    def _split(rect: Rect) -> list[Rect]:
        """Bounded sub-rectangles: width <= 2048, area <= 65536, height a multiple of 16."""
        sw = min(rect.w, SUB_RECT_MAX_WIDTH)
        sh = max(1, SUB_RECT_MAX_AREA // sw)
        if sh >= 16:
            sh -= sh % 16
        return rect.split(sw, sh)

    @staticmethod
    def _bands(framebuffer: np.ndarray, rect: Rect) -> list[tuple[Rect, int | None]]:
        """Cut ``rect`` into horizontal bands, solid ones (with their colour) and the rest."""
        px = framebuffer[rect.y : rect.bottom, rect.x : rect.right]
        first = px[:, 0]
        solid_row = (px == first[:, None]).all(axis=1)
        if rect.h < SOLID_BAND_MIN_ROWS or not solid_row.any():
            return [(rect, None)]
        # Runs of solid rows with the same colour.
        same = np.empty(rect.h, np.bool_)
        same[0] = False
        same[1:] = solid_row[1:] & solid_row[:-1] & (first[1:] == first[:-1])
        bands: list[tuple[Rect, int | None]] = []
        pending = rect.y  # first row not yet assigned to a band
        starts = np.flatnonzero(solid_row & ~same).tolist()
        ends = np.flatnonzero(solid_row & ~np.append(same[1:], False)).tolist()
        for s, e in zip(starts, ends, strict=True):
            if e - s + 1 < SOLID_BAND_MIN_ROWS:
                continue
            y0, y1 = rect.y + s, rect.y + e + 1
            if y0 > pending:
                bands.append((Rect(rect.x, pending, rect.w, y0 - pending), None))
            bands.append((Rect(rect.x, y0, rect.w, y1 - y0), int(first[s])))
            pending = y1
        if pending < rect.bottom:
            bands.append((Rect(rect.x, pending, rect.w, rect.bottom - pending), None))
        return bands
