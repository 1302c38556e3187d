"""Glyph masks from the bundled fonts (freetype-py), one or two cells in size.

Default rendering is hinted monochrome: every pixel of a cell is either the foreground or the
background colour, so a cell holds two colours and rectangles compress to 1 bit per pixel in
Tight (see DESIGN.md, "Pixels and bandwidth"). ``antialias=True`` keeps FreeType's 256 alpha
levels instead.

A character is looked up in DejaVu Sans Mono (in the cell's style: regular, bold, oblique,
bold oblique), then along the fallback chain: WenQuanYi Micro Hei (CJK), GNU Unifont (the rest
of the Basic Multilingual Plane), Unifont Upper (emoji and other supplementary-plane symbols).
A character no font has becomes a visible box. Box drawing and block elements are drawn in
code (``box.py``) so that lines meet.
"""

from __future__ import annotations

import logging
import sys
import threading
import unicodedata
from pathlib import Path
from typing import ClassVar

import freetype
import numpy as np

from . import box

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parent.parent.parent / "fonts"
REGULAR = "DejaVuSansMono.ttf"
BOLD = "DejaVuSansMono-Bold.ttf"
ITALIC = "DejaVuSansMono-Oblique.ttf"
BOLD_ITALIC = "DejaVuSansMono-BoldOblique.ttf"
#: Fallback fonts in the order they are tried: (file, face index in a collection).
#: Glyph masks (and font look-ups) cached per font before the cache starts over: ~11 MB of
#: masks at the default size, whatever a console prints.
MAX_CACHED = 1 << 16
FALLBACKS: tuple[tuple[str, int], ...] = (
    ("WenQuanYiMicroHei.ttc", 0),
    ("Unifont.otf", 0),
    ("UnifontUpper.otf", 0),
)


def find_font(name: str) -> Path:
    """A bundled font file: from the source tree, or installed beside the package."""
    for base in (FONT_DIR, Path(sys.prefix) / "share" / "vncterm" / "fonts"):
        if (base / name).is_file():
            return base / name
    raise FileNotFoundError(f"bundled font {name} not found in {FONT_DIR}")


class CellFont:
    """A monospace font at one pixel size, producing cell-sized alpha masks (uint8 0..255).

    ``CellFont(size, antialias)`` is one object per size, antialiasing and fallback in the
    process: every console drawing at that size shares its faces and glyph cache (DESIGN.md,
    "Many consoles in one process").
    """

    _shared: ClassVar[dict[tuple[type, int, bool, bool], CellFont]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __new__(cls, size: int, antialias: bool = False, fallback: bool = True) -> CellFont:
        key = (cls, size, antialias, fallback)
        with cls._shared_lock:
            font = cls._shared.get(key)
            if font is None:
                font = super().__new__(cls)
                font._load(size, antialias, fallback)
                cls._shared[key] = font
        return font

    def __init__(self, size: int, antialias: bool = False, fallback: bool = True) -> None:
        """Nothing: ``__new__`` loaded the faces, once per process."""

    def _load(self, size: int, antialias: bool, fallback: bool) -> None:
        self.size = size
        self.antialias = antialias
        self._styles: dict[tuple[bool, bool], freetype.Face] = {}
        for key, name in (
            ((False, False), REGULAR),
            ((True, False), BOLD),
            ((False, True), ITALIC),
            ((True, True), BOLD_ITALIC),
        ):
            face = freetype.Face(str(find_font(name)))
            face.set_pixel_sizes(0, size)
            self._styles[key] = face
        self._fallbacks: list[freetype.Face] = []
        if fallback:
            for name, index in FALLBACKS:
                try:
                    face = freetype.Face(str(find_font(name)), index=index)
                except (FileNotFoundError, freetype.FT_Exception) as exc:
                    log.warning("fallback font %s unavailable: %s", name, exc)
                    continue
                face.set_pixel_sizes(0, size)
                self._fallbacks.append(face)
        face = self._styles[False, False]
        self.ascender: int = int(face.size.ascender) >> 6
        descender = -(int(face.size.descender) >> 6)
        self.cell_h = self.ascender + descender
        face.load_char("M", self._flags)
        self.cell_w: int = int(face.glyph.advance.x) >> 6
        # underline: one row (thicker at big sizes) just below the baseline
        self.underline_row = min(self.cell_h - 1, self.ascender + max(1, descender // 3))
        self.underline_h = max(1, size // 14)
        self._masks: dict[tuple[str, bool, bool, int, int], np.ndarray] = {}
        self._faces: dict[tuple[str, bool, bool], freetype.Face | None] = {}
        #: FreeType faces are not thread-safe, and a shared font may serve several event loops
        #: (servers run in threads): rasterising holds this lock.
        self._lock = threading.Lock()

    @property
    def _flags(self) -> int:
        if self.antialias:
            return int(freetype.FT_LOAD_RENDER)
        return int(freetype.FT_LOAD_RENDER | freetype.FT_LOAD_TARGET_MONO)

    def face_for(self, ch: str, bold: bool = False, italic: bool = False) -> freetype.Face | None:
        """The first font of the chain that has ``ch`` (one code point), or None."""
        key = (ch, bold, italic)
        if key in self._faces:
            return self._faces[key]
        if len(self._faces) >= MAX_CACHED:
            self._faces.clear()
        cp = ord(ch)
        found = None
        for face in (self._styles[bold, italic], self._styles[False, False], *self._fallbacks):
            if face.get_char_index(cp):
                found = face
                break
        self._faces[key] = found
        return found

    def has_glyph(self, ch: str, bold: bool = False) -> bool:
        """True if some font of the chain (or the box drawing code) can show ``ch``."""
        return box.handles(ch[0]) or self.face_for(ch[0], bold) is not None

    def mask(
        self, ch: str, bold: bool = False, cells: int = 1, italic: bool = False, phase: int = 0
    ) -> np.ndarray:
        """The glyph of ``ch`` as an alpha mask of ``cell_h`` x ``cells * cell_w`` pixels.

        ``ch`` is a base character followed by any combining marks. ``phase`` (the parity of
        the cell's pixel origin) matters only for shade characters.
        """
        key = (ch, bold, italic, cells, phase)
        cached = self._masks.get(key)
        if cached is None:
            with self._lock:
                cached = self._render(ch, bold, italic, cells, phase)
            if len(self._masks) >= MAX_CACHED:
                self._masks.clear()
            self._masks[key] = cached
        return cached

    def _render(self, ch: str, bold: bool, italic: bool, cells: int, phase: int) -> np.ndarray:
        h, w = self.cell_h, self.cell_w * cells
        if not ch or ch == " ":
            return np.zeros((h, w), dtype=np.uint8)
        if box.handles(ch):
            out = np.zeros((h, w), dtype=np.uint8)
            out[:, : self.cell_w] = box.draw(ch, self.cell_w, h, phase)
            if cells == 2:
                out[:, self.cell_w :] = box.draw(ch, self.cell_w, h, phase ^ (self.cell_w & 1))
            return out
        out = np.zeros((h, w), dtype=np.uint8)
        base = ch[0]
        face = self.face_for(base, bold, italic)
        if face is None:
            if unicodedata.category(base) in ("Zs", "Cf", "Mn", "Me"):
                return out  # spaces and invisible formatting characters: blank
            return self._replacement_box(h, w)
        pen = self._draw_glyph(out, face, base, 0, cells)
        for mark in ch[1:]:  # combining marks drawn over their base
            mface = self.face_for(mark, bold, italic)
            if mface is not None:
                self._draw_glyph(out, mface, mark, pen, cells, mark=True)
        return out

    def _draw_glyph(
        self,
        out: np.ndarray,
        face: freetype.Face,
        ch: str,
        pen: int,
        cells: int,
        mark: bool = False,
    ) -> int:
        """Blit ``ch`` from ``face`` into ``out``; returns the pen position after it."""
        h, w = out.shape
        primary = any(face is f for f in self._styles.values())
        face.load_char(ch, self._flags)
        glyph = face.glyph
        advance = int(glyph.advance.x) >> 6
        bitmap = self._bitmap(glyph.bitmap)
        top = self.ascender - int(glyph.bitmap_top)
        left = int(glyph.bitmap_left)
        if mark:
            # zero-advance marks are positioned from the end of their base
            left += pen if advance == 0 else 0
            self._blit(out, bitmap, top, left)
            return pen
        if not primary:
            gh, gw = bitmap.shape
            if gw > w or gh > h:  # too big for the cell(s): render it smaller
                scale = min(w / max(gw, 1), h / max(gh, 1))
                face.set_pixel_sizes(0, max(1, int(self.size * scale)))
                try:
                    face.load_char(ch, self._flags)
                    bitmap = self._bitmap(face.glyph.bitmap)
                    top = self.ascender - int(face.glyph.bitmap_top)
                finally:
                    face.set_pixel_sizes(0, self.size)
                gh, gw = bitmap.shape
            # other fonts have other widths and heights: centre the ink across the cell(s),
            # keep the baseline unless that would cut the glyph
            left = (w - gw) // 2
            top = min(max(0, top), max(0, h - gh))
        elif cells == 1 and bitmap.shape[1] > w:
            left = 0  # overwide glyph: keep its left part
        self._blit(out, bitmap, top, left)
        return advance

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
            np.maximum(region, glyph[y0 - top : y1 - top, x0 - left : x1 - left], out=region)

    @staticmethod
    def _replacement_box(h: int, w: int) -> np.ndarray:
        """A visible outlined box for characters no bundled font has."""
        out = np.zeros((h, w), dtype=np.uint8)
        y0, y1, x0, x1 = 2, h - 3, 1, w - 2
        if y1 > y0 and x1 > x0:
            out[y0, x0 : x1 + 1] = out[y1, x0 : x1 + 1] = 255
            out[y0 : y1 + 1, x0] = out[y0 : y1 + 1, x1] = 255
        return out
