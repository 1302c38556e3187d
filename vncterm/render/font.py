"""Glyph masks from the bundled fonts (freetype-py), one cell in size.

Default rendering is hinted monochrome: every pixel of a cell is either the foreground or the
background colour, so a cell holds two colours and rectangles compress to 1 bit per pixel in
Tight (see DESIGN.md, "Pixels and bandwidth"). ``antialias=True`` keeps FreeType's 256 alpha
levels instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import freetype
import numpy as np

FONT_DIR = Path(__file__).resolve().parent.parent.parent / "fonts"
REGULAR = "DejaVuSansMono.ttf"
BOLD = "DejaVuSansMono-Bold.ttf"


def find_font(name: str) -> Path:
    """A bundled font file: from the source tree, or installed beside the package."""
    for base in (FONT_DIR, Path(sys.prefix) / "share" / "vncterm" / "fonts"):
        if (base / name).is_file():
            return base / name
    raise FileNotFoundError(f"bundled font {name} not found in {FONT_DIR}")


class CellFont:
    """A monospace font at one pixel size, producing cell-sized alpha masks (uint8 0..255)."""

    def __init__(self, size: int, antialias: bool = False) -> None:
        self.size = size
        self.antialias = antialias
        self._faces = {False: freetype.Face(str(find_font(REGULAR))),
                       True: freetype.Face(str(find_font(BOLD)))}
        for face in self._faces.values():
            face.set_pixel_sizes(0, size)
        face = self._faces[False]
        self.ascender: int = int(face.size.ascender) >> 6
        descender = -(int(face.size.descender) >> 6)
        self.cell_h = self.ascender + descender
        face.load_char("M", self._flags)
        self.cell_w: int = int(face.glyph.advance.x) >> 6
        # underline: one row (thicker at big sizes) just below the baseline
        self.underline_row = min(self.cell_h - 1, self.ascender + max(1, descender // 3))
        self.underline_h = max(1, size // 14)
        self._masks: dict[tuple[str, bool, int], np.ndarray] = {}

    @property
    def _flags(self) -> int:
        if self.antialias:
            return int(freetype.FT_LOAD_RENDER)
        return int(freetype.FT_LOAD_RENDER | freetype.FT_LOAD_TARGET_MONO)

    def has_glyph(self, ch: str, bold: bool = False) -> bool:
        return bool(self._faces[bold].get_char_index(ord(ch[0])))

    def mask(self, ch: str, bold: bool = False, cells: int = 1) -> np.ndarray:
        """The glyph of ``ch`` as an alpha mask of ``cell_h`` x ``cells * cell_w`` pixels."""
        key = (ch, bold, cells)
        cached = self._masks.get(key)
        if cached is None:
            cached = self._masks[key] = self._render(ch, bold, cells)
        return cached

    def _render(self, ch: str, bold: bool, cells: int) -> np.ndarray:
        h, w = self.cell_h, self.cell_w * cells
        out = np.zeros((h, w), dtype=np.uint8)
        if not ch or ch == " ":
            return out
        face = self._faces[bold]
        if not face.get_char_index(ord(ch[0])):
            return self._replacement_box(h, w)
        face.load_char(ch[0], self._flags)
        glyph = self._bitmap(face.glyph.bitmap)
        top = self.ascender - face.glyph.bitmap_top
        left = face.glyph.bitmap_left
        if cells == 1 and glyph.shape[1] > w:  # overwide glyph: centre what fits
            left = 0
        self._blit(out, glyph, top, left)
        for mark in ch[1:]:  # combining marks drawn over their base
            if face.get_char_index(ord(mark)):
                face.load_char(mark, self._flags)
                self._blit(out, self._bitmap(face.glyph.bitmap),
                           self.ascender - face.glyph.bitmap_top, face.glyph.bitmap_left)
        return out

    def _bitmap(self, bitmap: freetype.Bitmap) -> np.ndarray:
        rows, width, pitch = bitmap.rows, bitmap.width, bitmap.pitch
        if rows == 0 or width == 0:
            return np.zeros((0, 0), dtype=np.uint8)
        buf = np.frombuffer(bytes(bitmap.buffer), dtype=np.uint8).reshape(rows, abs(pitch))
        if bitmap.pixel_mode == freetype.FT_PIXEL_MODE_MONO:
            bits = np.unpackbits(buf, axis=1)[:, :width]
            return (bits * 255).astype(np.uint8)
        return buf[:, :width].copy()

    @staticmethod
    def _blit(out: np.ndarray, glyph: np.ndarray, top: int, left: int) -> None:
        h, w = out.shape
        gh, gw = glyph.shape
        y0, x0 = max(0, top), max(0, left)
        y1, x1 = min(h, top + gh), min(w, left + gw)
        if y1 > y0 and x1 > x0:
            region = out[y0:y1, x0:x1]
            np.maximum(region, glyph[y0 - top:y1 - top, x0 - left:x1 - left], out=region)

    @staticmethod
    def _replacement_box(h: int, w: int) -> np.ndarray:
        """A visible outlined box for characters no bundled font has."""
        out = np.zeros((h, w), dtype=np.uint8)
        y0, y1, x0, x1 = 2, h - 3, 1, w - 2
        if y1 > y0 and x1 > x0:
            out[y0, x0:x1 + 1] = out[y1, x0:x1 + 1] = 255
            out[y0:y1 + 1, x0] = out[y0:y1 + 1, x1] = 255
        return out
