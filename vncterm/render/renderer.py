"""Draws a pyte screen into a numpy framebuffer and reports which cells changed.

Each distinct cell look (text, colours, attributes) becomes a cached tile; a frame is composed by
gathering tiles with numpy, a row of cells at a time. Only lines pyte marks dirty, and the
cursor's old and new cells, are examined; cells whose tile did not change are not redrawn or
reported.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyte
from wcwidth import wcwidth

from ..geometry import Rect
from .colours import DEFAULT_BG, DEFAULT_FG, resolve
from .font import CellFont

BOLD, UNDERLINE, STRIKE = 1, 2, 4


@functools.lru_cache(maxsize=1024)
def _fg(colour: str) -> int:
    return int(resolve(colour, DEFAULT_FG))


@functools.lru_cache(maxsize=1024)
def _bg(colour: str) -> int:
    return int(resolve(colour, DEFAULT_BG))


@dataclass(frozen=True, slots=True)
class Span:
    """Cells ``col0`` up to (not including) ``col1`` of ``row`` changed."""

    row: int
    col0: int
    col1: int


class TerminalRenderer:
    """Owns the framebuffer (uint32 0x00RRGGBB) of a ``cols`` x ``rows`` terminal."""

    def __init__(self, font: CellFont, cols: int, rows: int) -> None:
        self.font = font
        self.cell_w, self.cell_h = font.cell_w, font.cell_h
        self._tile_ids: dict[tuple[str, int, int, int, int], int] = {}
        self._atlas = np.zeros((64, self.cell_h, self.cell_w), dtype=np.uint32)
        self._cursor: tuple[int, int] | None = None
        self.resize(cols, rows)

    def resize(self, cols: int, rows: int) -> None:
        """Start over at a new size (everything becomes damaged on the next refresh)."""
        self.cols, self.rows = cols, rows
        self.pixels = np.zeros((rows * self.cell_h, cols * self.cell_w), dtype=np.uint32)
        self._ids = np.full((rows, cols), -1, dtype=np.int32)
        self.cell_fg = np.full((rows, cols), DEFAULT_FG, dtype=np.uint32)
        self.cell_bg = np.full((rows, cols), DEFAULT_BG, dtype=np.uint32)
        self._cursor = None

    @property
    def width(self) -> int:
        return self.cols * self.cell_w

    @property
    def height(self) -> int:
        return self.rows * self.cell_h

    # -- tiles -----------------------------------------------------------------------------------

    def _tile(self, key: tuple[str, int, int, int, int]) -> int:
        tid = self._tile_ids.get(key)
        if tid is not None:
            return tid
        text, fg, bg, flags, half = key
        font = self.font
        if half:
            mask = font.mask(text, bool(flags & BOLD), 2)
            mask = mask[:, :font.cell_w] if half == 1 else mask[:, font.cell_w:]
        else:
            mask = font.mask(text, bool(flags & BOLD), 1)
        if font.antialias:
            a = mask.astype(np.uint32)
            tile = np.zeros(mask.shape, dtype=np.uint32)
            for shift in (16, 8, 0):
                f, b = (fg >> shift) & 0xFF, (bg >> shift) & 0xFF
                tile |= ((f * a + b * (255 - a) + 127) // 255) << shift
        else:
            tile = np.where(mask > 0, np.uint32(fg), np.uint32(bg)).astype(np.uint32)
        if flags & UNDERLINE:
            tile[font.underline_row:font.underline_row + font.underline_h, :] = fg
        if flags & STRIKE:
            mid = font.ascender * 2 // 3
            tile[mid:mid + font.underline_h, :] = fg
        tid = len(self._tile_ids)
        if tid >= self._atlas.shape[0]:
            grown = np.zeros((tid * 2,) + self._atlas.shape[1:], dtype=np.uint32)
            grown[:tid] = self._atlas
            self._atlas = grown
        self._atlas[tid] = tile
        self._tile_ids[key] = tid
        return tid

    # -- frames ----------------------------------------------------------------------------------

    def refresh(self, screen: pyte.Screen, cursor_visible: bool) -> list[Span]:
        """Redraw what changed on ``screen`` since the last call; the changed cell spans."""
        lines = set(screen.dirty)
        screen.dirty.clear()
        cur = None
        if cursor_visible:
            cur = (screen.cursor.y, min(screen.cursor.x, self.cols - 1))
        if cur != self._cursor:
            for pos in (self._cursor, cur):
                if pos is not None:
                    lines.add(pos[0])
            self._cursor = cur
        spans: list[Span] = []
        for y in sorted(lines):
            if 0 <= y < self.rows:
                spans.extend(self._refresh_line(screen, y, cur))
        return spans

    def _refresh_line(
        self, screen: pyte.Screen, y: int, cursor: tuple[int, int] | None
    ) -> list[Span]:
        line = screen.buffer[y]
        cols = self.cols
        ids = np.empty(cols, dtype=np.int32)
        fgs = np.empty(cols, dtype=np.uint32)
        bgs = np.empty(cols, dtype=np.uint32)
        cursor_x = cursor[1] if cursor is not None and cursor[0] == y else -1
        prev_text = ""
        for x in range(cols):
            ch = line[x]
            fg, bg = _fg(ch.fg), _bg(ch.bg)
            if ch.reverse:
                fg, bg = bg, fg
            if x == cursor_x:
                fg, bg = bg, fg
            text = ch.data
            half = 0
            if text == "" and x and wcwidth(prev_text) == 2:
                text, half = prev_text, 2
            elif text and wcwidth(text[0]) == 2:
                half = 1
            flags = (BOLD if ch.bold else 0) | (UNDERLINE if ch.underscore else 0) | (
                STRIKE if ch.strikethrough else 0)
            ids[x] = self._tile((text, fg, bg, flags, half))
            fgs[x], bgs[x] = fg, bg
            prev_text = ch.data
        changed = ids != self._ids[y]
        if not changed.any():
            return []
        self._ids[y] = ids
        self.cell_fg[y] = fgs
        self.cell_bg[y] = bgs
        # runs of changed cells -> one gather per run
        edges = np.flatnonzero(np.diff(np.concatenate(([0], changed.view(np.int8), [0]))))
        spans = []
        ch_, cw = self.cell_h, self.cell_w
        y0 = y * ch_
        for c0, c1 in zip(edges[::2], edges[1::2], strict=True):
            tiles = self._atlas[ids[c0:c1]]  # (n, ch, cw)
            self.pixels[y0:y0 + ch_, c0 * cw:c1 * cw] = tiles.transpose(1, 0, 2).reshape(ch_, -1)
            spans.append(Span(y, int(c0), int(c1)))
        return spans

    def span_rect(self, span: Span) -> Rect:
        """The pixels of a cell span."""
        return Rect(span.col0 * self.cell_w, span.row * self.cell_h,
                    (span.col1 - span.col0) * self.cell_w, self.cell_h)

    def palette_hint(self, rect: Rect) -> np.ndarray | None:
        """A superset of the colours inside ``rect`` (sorted), known from cell colours.

        Exact for monochrome glyphs (each cell holds its foreground and background only);
        None with antialiasing, where blended edges add colours.
        """
        if self.font.antialias:
            return None
        c0, c1 = rect.x // self.cell_w, -(-rect.right // self.cell_w)
        r0, r1 = rect.y // self.cell_h, -(-rect.bottom // self.cell_h)
        fg, bg = self.cell_fg[r0:r1, c0:c1], self.cell_bg[r0:r1, c0:c1]
        both = np.concatenate((fg.ravel(), bg.ravel()))
        return np.unique(both)
