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
     that suits the class: any of Tight/ZRLE/Hextile/RRE for solid areas, Tight/ZRLE/Hextile/
     Zlib otherwise, RRE only when it beats Raw, Raw (always allowed) as the last resort.
     Tight JPEG only with ``EncoderState.allow_lossy``, for photo-like rows (``_tight_lossy``).

Pseudo-encodings -256..-247 set the compression level and -32..-23 the JPEG quality
(section 7.8). The manager is not thread-safe but may run in a worker thread: the server calls
``encode`` for one viewer at a time, and all state lives in this object.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from ..geometry import Rect
from ..rfb.connection import EncodedRect
from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from . import tight_text
from .analysis import MANY, U32, Analysis, ContentClass, analyse
from .base import EncoderState
from .cells import CellGrid, cell_planes, planes_analysis
from .hextile import HextileEncoder
from .raw import RawEncoder
from .rre import RreEncoder
from .tight import MAX_WIDTH, TightEncoder, photo_rows
from .zlib_enc import ZlibEncoder
from .zrle import ZrleEncoder

#: Returns a superset of the colours (sorted uint32 array) inside a rectangle, or None.
PaletteHint = Callable[[Rect], "np.ndarray | None"]

SUB_RECT_MAX_AREA = 65536
SUB_RECT_MAX_WIDTH = MAX_WIDTH
#: Solid bands shorter than this many rows stay inside their neighbours' rectangles.
SOLID_BAND_MIN_ROWS = 8
#: Height of the bands a few-colour Tight piece is cut into (no cell grid known).
TIGHT_BAND = 16
#: JPEG (when allowed) only for runs of at least this many photo-like rows.
JPEG_MIN_ROWS = 16

_SOLID_CAPABLE = (Encoding.TIGHT, Encoding.ZRLE, Encoding.HEXTILE, Encoding.RRE)
_GENERAL = (Encoding.TIGHT, Encoding.ZRLE, Encoding.HEXTILE, Encoding.ZLIB)
IMPLEMENTED = frozenset(
    {Encoding.RAW, Encoding.RRE, Encoding.HEXTILE, Encoding.ZLIB, Encoding.TIGHT, Encoding.ZRLE}
)


#: Damage rectangles are merged into their bounding box while it holds at most this share of
#: pixels nobody asked for (or ``MERGE_SLACK`` pixels): fewer, larger rectangles cost fewer
#: headers, palettes and zlib flushes, and far less Python per rectangle. Tight and ZRLE send
#: unchanged text at ~2 bytes a cell, so they merge generously; encodings whose size grows
#: with the pixel count (Hextile, Zlib, RRE, Raw) merge only nearby pieces.
MERGE_WASTE = 4.0
MERGE_SLACK = 65536
MERGE_WASTE_RAW = 0.5
MERGE_SLACK_RAW = 4096


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
    rects: Sequence[Rect], waste: float = MERGE_WASTE, slack: int = MERGE_SLACK
) -> list[Rect]:
    """Merge rectangles into bounding boxes that waste little: first the runs of one row of
    cells (equal y and height), then the rows, top to bottom.

    The damage of a scrolled screen arrives as one rectangle per changed run of cells in each
    row; sending their bounding box instead is smaller on the wire and much cheaper to encode.
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
    """Chooses and runs encoders for one viewer; holds that viewer's encoder state."""

    def __init__(self, state: EncoderState | None = None, *, gradient: bool = False) -> None:
        self.state = state or EncoderState()
        self.raw = RawEncoder()
        self.rre = RreEncoder()
        self.hextile = HextileEncoder()
        self.zlib = ZlibEncoder()
        self.tight = TightEncoder(gradient=gradient)
        self.zrle = ZrleEncoder()
        self.preferred: list[int] = [Encoding.RAW]
        #: The viewer announced LastRect (-224). The manager always knows its rectangle count
        #: up front, so it never needs it; kept for the server's information.
        self.last_rect = False

    def set_encodings(self, encodings: Sequence[int]) -> None:
        """Record the viewer's SetEncodings list (section 7.5.2), in its order of preference."""
        self.preferred = []
        for e in encodings:
            if e in IMPLEMENTED and e not in self.preferred:
                self.preferred.append(e)
        self.state.compress_level = None
        self.state.quality_level = None
        self.last_rect = False
        for e in encodings:
            if Encoding.COMPRESS_LEVEL_LOW <= e <= Encoding.COMPRESS_LEVEL_HIGH:
                self.state.compress_level = e - Encoding.COMPRESS_LEVEL_LOW
            elif Encoding.JPEG_QUALITY_LOW <= e <= Encoding.JPEG_QUALITY_HIGH:
                self.state.quality_level = e - Encoding.JPEG_QUALITY_LOW
            elif e == Encoding.LAST_RECT:
                self.last_rect = True

    def choose(self, content: ContentClass) -> int:
        """The encoding for a rectangle of this class (RRE may still lose to Raw later)."""
        suitable = _SOLID_CAPABLE if content is ContentClass.SOLID else _GENERAL
        for e in self.preferred:
            if e in suitable:
                return e
        for e in self.preferred:
            if e == Encoding.ZLIB or e == Encoding.RRE:
                return e
        return Encoding.RAW

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
        if self.choose(ContentClass.BITMAP) in (Encoding.TIGHT, Encoding.ZRLE):
            regions = coalesce([r for r in clipped if not r.empty])
        else:
            regions = coalesce(
                [r for r in clipped if not r.empty], MERGE_WASTE_RAW, MERGE_SLACK_RAW
            )
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
            enc = self.choose(ContentClass.BITMAP)
            if enc == Encoding.TIGHT:
                for layer in tight_text.plan(planes, part):
                    payload = self.tight.encode_layer(layer, pf, self.state)
                    out.append(EncodedRect(layer.rect, int(Encoding.TIGHT), payload))
                continue
            an = planes_analysis(planes)
            if an.content_class is ContentClass.SOLID:
                out.extend(self._encode_piece(framebuffer, part, pf, an))
            elif enc in (Encoding.ZRLE, Encoding.HEXTILE, Encoding.RRE):
                out.extend(self._encode_piece(framebuffer, part, pf, an))
            else:  # Zlib, Raw: bounded pieces
                for piece in self._split(part):
                    sub = Analysis(None, None)
                    out.extend(self._encode_piece(framebuffer, piece, pf, sub))
        return out

    # -- internals -------------------------------------------------------------------------------

    def _encode_piece(
        self, framebuffer: np.ndarray, piece: Rect, pf: PixelFormat, an: Analysis
    ) -> list[EncodedRect]:
        pixels: U32 = framebuffer[piece.y : piece.bottom, piece.x : piece.right]
        enc = self.choose(an.content_class)
        state = self.state
        if enc == Encoding.TIGHT:
            if (
                an.content_class is ContentClass.FULL
                and state.allow_lossy
                and state.quality_level is not None
            ):
                return self._tight_lossy(pixels, piece, pf)
            if an.content_class is ContentClass.INDEXED:
                n = an.ncolours
                if n is not None and n <= 64:
                    return self._tight_two_colour(pixels, piece, pf, an)
            payload = self.tight.encode(pixels, pf, state, an)
        elif enc == Encoding.ZRLE:
            payload = self.zrle.encode(pixels, pf, state, an)
        elif enc == Encoding.HEXTILE:
            payload = self.hextile.encode(pixels, pf, state, an)
        elif enc == Encoding.ZLIB:
            payload = self.zlib.encode(pixels, pf, state, an)
        elif enc == Encoding.RRE:
            payload = self.rre.encode(pixels, pf, state, an)
            if len(payload) >= piece.area * pf.effective().bytes_per_pixel:
                enc, payload = Encoding.RAW, self.raw.encode(pixels, pf, state)
        else:
            payload = self.raw.encode(pixels, pf, state)
        return [EncodedRect(piece, int(enc), payload)]

    def _tight_lossy(self, pixels: U32, piece: Rect, pf: PixelFormat) -> list[EncodedRect]:
        """A full-colour piece when JPEG is allowed: runs of at least ``JPEG_MIN_ROWS``
        photo-like rows go as JPEG (section 7.7.6), everything else losslessly."""
        photo = photo_rows(pixels)
        if pf.effective().bits_per_pixel < 16:
            photo[:] = False
        edges = np.flatnonzero(np.diff(np.concatenate(([0], photo.view(np.int8), [0]))))
        runs = [
            (a, b)
            for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
            if b - a >= JPEG_MIN_ROWS
        ]
        out: list[EncodedRect] = []
        y = 0
        for a, b in [*runs, (piece.h, piece.h)]:
            if a > y:  # rows that are not photo-like: analysed and sent losslessly
                rest = pixels[y:a]
                sub = Rect(piece.x, piece.y + y, piece.w, a - y)
                payload = self.tight.encode(rest, pf, self.state, analyse(rest), lossy=False)
                out.append(EncodedRect(sub, int(Encoding.TIGHT), payload))
            if b > a:
                sub = Rect(piece.x, piece.y + a, piece.w, b - a)
                payload = self.tight.encode(pixels[a:b], pf, self.state, MANY)
                out.append(EncodedRect(sub, int(Encoding.TIGHT), payload))
            y = b
        return out

    def _tight_two_colour(
        self, pixels: U32, piece: Rect, pf: PixelFormat, an: Analysis
    ) -> list[EncodedRect]:
        """Tight for a few-colour piece: cut each 16-row band into runs of columns holding at
        most two colours, so most of a text screen goes at 1 bit per pixel (section 7.7.6)."""
        assert an.colours is not None and an.indices is not None
        colours, indices = an.colours, an.indices
        h, w = indices.shape
        out: list[EncodedRect] = []
        bits = np.left_shift(np.uint64(1), indices.astype(np.uint64))
        bg_bit = np.uint64(1) << np.uint64(int(np.argmax(np.bincount(indices.reshape(-1)))))
        for y0 in range(0, h, TIGHT_BAND):
            y1 = min(h, y0 + TIGHT_BAND)
            # Colours other than the background in each column; cut where that set changes
            # (but keep neighbouring columns of 2+ such colours together).
            masks = np.bitwise_or.reduce(bits[y0:y1], axis=0) & ~bg_bit
            nz = np.flatnonzero(masks)
            vals = masks[nz]
            change = np.flatnonzero(vals[1:] != vals[:-1]) + 1
            heavy = np.bitwise_count(vals) > 1
            change = change[~(heavy[change] & heavy[change - 1])]
            cuts = [0, *nz[change].tolist(), w]
            segments = list(itertools.pairwise(cuts))
            for x0, x1 in segments:
                sub = indices[y0:y1, x0:x1]
                used = np.bincount(sub.reshape(-1), minlength=colours.size) > 0
                sub_colours = colours[used]
                lut = (np.cumsum(used) - 1).astype(np.uint8)
                sub_an = Analysis(sub_colours, lut[sub])
                rect = Rect(piece.x + x0, piece.y + y0, x1 - x0, y1 - y0)
                payload = self.tight.encode(pixels[y0:y1, x0:x1], pf, self.state, sub_an)
                out.append(EncodedRect(rect, int(Encoding.TIGHT), payload))
        return out

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
