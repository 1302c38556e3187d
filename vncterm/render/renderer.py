"""Draws a pyte screen into a numpy framebuffer and reports which cells changed.

Each distinct cell look (text, colours, attributes, cursor) becomes a cached tile; a frame is
composed by gathering tiles with numpy, a row of cells at a time. Only lines pyte marks dirty,
and the cursor's old and new cells, are examined; cells whose tile did not change are not
redrawn or reported.

Monochrome tiles hold at most two colours, the cell's foreground and background (underline,
strikethrough and underline/bar cursors are drawn in the foreground colour, a block cursor
swaps the two), which ``cell_fg``/``cell_bg`` record for the encoders' palette hint.

An overlay (:meth:`TerminalRenderer.set_overlay`, vncterm's status row) replaces the bottom row
of cells in the framebuffer only: the screen it draws is not touched, and the row is redrawn
from the screen when the overlay goes away.

A renderer nobody looks at holds no pixels: :meth:`TerminalRenderer.release` gives back the
framebuffer, the cell arrays and the tile cache (a console without viewers needs none of them,
see DESIGN.md "Many consoles in one process"), keeping only the geometry; drawing is then a
no-op, and :meth:`TerminalRenderer.acquire` allocates them again for a full redraw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyte
from wcwidth import wcwidth

from ..geometry import Move, Rect
from ..terminal.colours import DEFAULT_BG, DEFAULT_FG, PALETTE_256, resolve
from .box import SHADES
from .font import CellFont

BOLD, UNDERLINE, STRIKE, ITALIC, CURSOR_UNDERLINE, CURSOR_BAR = 1, 2, 4, 8, 16, 32
PHASE_SHIFT = 6  # two bits: parity of a shade cell's pixel origin
#: Cap on the tile cache, in bytes of tiles; past it the cache starts over.
TILE_CACHE_BYTES = 32 << 20
_NORMAL = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")
_BRIGHTEN = {name: "bright" + name for name in _NORMAL}
_BRIGHTEN["yellow"] = "brightyellow"
_SLOW = (-1, 0, 0)  # marks a cell look that needs per-position work (wide, shade)
#: The status row's colours: dark text on amber, unlike any terminal default.
OVERLAY_FG, OVERLAY_BG = 0x1C1C1C, 0xFFC24D

TileKey = tuple[str, int, int, int, int]
#: Cell colour names resolved per palette before the cache starts over.
_RESOLVED_CAP = 4096


def _dim(fg: int, bg: int) -> int:
    """SGR 2 (faint): the foreground halfway to the background."""
    out = 0
    for shift in (16, 8, 0):
        out |= ((((fg >> shift) & 0xFF) + ((bg >> shift) & 0xFF)) // 2) << shift
    return out


#: Scroll detection looks at refreshes touching at least this many rows, and moves no less.
SCROLL_MIN_ROWS = 3


@dataclass(frozen=True, slots=True)
class Span:
    """Cells ``col0`` up to (not including) ``col1`` of ``row`` changed."""

    row: int
    col0: int
    col1: int


class TerminalRenderer:
    """Owns the framebuffer (uint32 0x00RRGGBB) of a ``cols`` x ``rows`` terminal.

    ``bold_is_bright`` (the default, as xterm's boldColors) draws bold text in the 16-colour
    palette's colours 0-7 with their bright counterparts (8-15), in addition to the bold face.

    Cell colours are resolved through the screen's ``colours`` (a ``TermColours``: palette,
    default foreground and background, cursor colour) when it has them; when they change,
    every cell is looked at again and those that look different are redrawn; a new default
    background repaints the margin too and the whole framebuffer is reported
    (:meth:`take_full`).
    """

    def __init__(self, font: CellFont, cols: int, rows: int, bold_is_bright: bool = True) -> None:
        self.font = font
        self.bold_is_bright = bold_is_bright
        self.cell_w, self.cell_h = font.cell_w, font.cell_h
        self._cursor: tuple[int, int, str] | None = None
        #: Detect scrolled rows and move their pixels (reported by ``take_copies``).
        self.detect_scroll = True
        self._copies: list[Move] = []
        self._overlay: str | None = None
        self._overlay_changed = False
        #: False while released (no viewer): no pixels, nothing drawn.
        self.allocated = True
        self._reverse_video = False  # DECSCNM as last drawn
        self._palette: Any = PALETTE_256
        self.default_fg, self.default_bg = DEFAULT_FG, DEFAULT_BG
        self._cursor_colour: int | None = None
        self._colours_seen = 0  # the generation of the screen's colours last drawn
        self._full = False
        self._resolved: tuple[dict[str, int], dict[str, int]] = ({}, {})  # fg, bg
        self._reset_tiles()
        self.resize(cols, rows)

    def _reset_tiles(self, tiles: int = 64) -> None:
        self._tile_ids: dict[TileKey, int] = {}
        self._looks: dict[Any, tuple[int, int, int]] = {}
        self._atlas = np.zeros((tiles, self.cell_h, self.cell_w), dtype=np.uint32)

    def release(self) -> None:
        """Give back the framebuffer, cell arrays and tile cache (the last viewer left); the
        size stays. Nothing is drawn until :meth:`acquire`."""
        self.allocated = False
        self.pixels = np.zeros((0, 0), dtype=np.uint32)
        self._ids = np.zeros((0, 0), dtype=np.int32)
        self.cell_fg = np.zeros((0, 0), dtype=np.uint32)
        self.cell_bg = np.zeros((0, 0), dtype=np.uint32)
        self._cursor = None
        self._copies = []
        self._reset_tiles(0)

    def acquire(self) -> None:
        """Allocate what :meth:`release` gave back, blank: the next refresh must redraw every
        row (the caller marks the screen dirty)."""
        if not self.allocated:
            self.allocated = True
            self.resize(self.cols, self.rows, self.width, self.height)

    @property
    def nbytes(self) -> int:
        """Bytes held by the renderer's arrays (the framebuffer, cells and tile atlas)."""
        arrays = (self.pixels, self._ids, self.cell_fg, self.cell_bg, self._atlas)
        return sum(a.nbytes for a in arrays)

    def resize(self, cols: int, rows: int, width: int = 0, height: int = 0) -> None:
        """Start over at a new size (everything becomes damaged on the next refresh).

        The framebuffer is ``width`` x ``height`` pixels (at least the cells'), the cells at its
        top left and the margin right of and below them in the default background, as xterm
        fills what is left of its window. Every array is allocated anew, so memory taken by a
        larger size is returned; so is the tile cache when it outgrew the new size's cap.
        """
        self.cols, self.rows = cols, rows
        self.width = max(width, cols * self.cell_w)
        self.height = max(height, rows * self.cell_h)
        if not self.allocated:
            return  # the geometry only: acquire() allocates at this size
        if self._atlas.shape[0] == 0:
            self._reset_tiles()
        self.pixels = np.full((self.height, self.width), self.default_bg, dtype=np.uint32)
        self._ids = np.full((rows, cols), -1, dtype=np.int32)
        self.cell_fg = np.full((rows, cols), self.default_fg, dtype=np.uint32)
        self.cell_bg = np.full((rows, cols), self.default_bg, dtype=np.uint32)
        self._cursor = None
        self._copies = []
        if self._atlas.nbytes > 2 * self._tile_cache_cap():  # the atlas grows by doubling
            self._reset_tiles()

    def _set_reverse_video(self, on: bool) -> None:
        """Screen reverse video (DECSCNM) on or off: every cell's look changes (the margin
        outside the cells keeps the normal background)."""
        self._reverse_video = on
        self._looks.clear()
        self._ids[:] = -1

    def _set_colours(self, colours: Any) -> None:
        """Draw with ``colours`` (a ``TermColours``) from now on: every cell's look may have
        changed (tiles are keyed by resolved colours, so only the cells that look different
        are redrawn), and a new default background repaints the margin too."""
        self._colours_seen = colours.generation
        self._palette = tuple(colours.palette)
        self.default_fg, bg = colours.fg, colours.bg
        self._cursor_colour = colours.cursor
        for resolved in self._resolved:
            resolved.clear()
        self._looks.clear()
        if bg != self.default_bg:
            self.default_bg = bg
            cells_w, cells_h = self.cols * self.cell_w, self.rows * self.cell_h
            self.pixels[:, cells_w:] = bg
            self.pixels[cells_h:, :] = bg
            self._full = True

    def take_full(self) -> bool:
        """Whether the whole framebuffer changed since the last call (the colours did)."""
        full, self._full = self._full, False
        return full

    def _rgb(self, colour: str, background: bool) -> int:
        """A cell colour name as 0x00RRGGBB through the current palette."""
        resolved = self._resolved[background]
        rgb = resolved.get(colour)
        if rgb is None:
            if len(resolved) > _RESOLVED_CAP:
                resolved.clear()
            default = self.default_bg if background else self.default_fg
            rgb = resolved[colour] = resolve(colour, default, self._palette)
        return rgb

    def _tile_cache_cap(self) -> int:
        """Bytes of tiles kept before the cache starts over (grows with the screen)."""
        return max(TILE_CACHE_BYTES, 8 * self.cols * self.rows * self.cell_w * self.cell_h)

    # -- tiles -----------------------------------------------------------------------------------

    def _tile(self, key: TileKey) -> int:
        tid = self._tile_ids.get(key)
        if tid is not None:
            return tid
        text, fg, bg, flags, half = key
        font = self.font
        bold, italic = bool(flags & BOLD), bool(flags & ITALIC)
        phase = (flags >> PHASE_SHIFT) & 3
        if half:
            mask = font.mask(text, bold, 2, italic, phase)
            mask = mask[:, : font.cell_w] if half == 1 else mask[:, font.cell_w :]
        else:
            mask = font.mask(text, bold, 1, italic, phase)
        if font.antialias:
            a = mask.astype(np.uint32)
            tile = np.zeros(mask.shape, dtype=np.uint32)
            for shift in (16, 8, 0):
                f, b = (fg >> shift) & 0xFF, (bg >> shift) & 0xFF
                tile |= ((f * a + b * (255 - a) + 127) // 255) << shift
        else:
            tile = np.where(mask > 0, np.uint32(fg), np.uint32(bg)).astype(np.uint32)
        line_h = font.underline_h
        if flags & UNDERLINE:
            tile[font.underline_row : font.underline_row + line_h, :] = fg
        if flags & STRIKE:
            mid = font.ascender * 2 // 3
            tile[mid : mid + line_h, :] = fg
        if flags & CURSOR_UNDERLINE:
            tile[self.cell_h - max(2, self.cell_h // 9) :, :] = fg
        if flags & CURSOR_BAR and half != 2:
            tile[:, : max(2, self.cell_w // 5)] = fg
        tid = len(self._tile_ids)
        if tid >= self._atlas.shape[0]:
            grown = np.zeros((max(64, tid * 2),) + self._atlas.shape[1:], dtype=np.uint32)
            grown[:tid] = self._atlas
            self._atlas = grown
        self._atlas[tid] = tile
        self._tile_ids[key] = tid
        return tid

    def _style(self, ch: Any) -> tuple[str, int, int, int]:
        """(text, fg, bg, flags) of a pyte Char, colours resolved, before any cursor."""
        fg_name = ch.fg
        if ch.bold and self.bold_is_bright and fg_name in _BRIGHTEN:
            fg_name = _BRIGHTEN[fg_name]
        fg, bg = self._rgb(fg_name, False), self._rgb(ch.bg, True)
        if self._reverse_video:  # DECSCNM: the default colours swap places
            fg = self.default_bg if fg_name == "default" else fg
            bg = self.default_fg if ch.bg == "default" else bg
        if ch.reverse:
            fg, bg = bg, fg
        if getattr(ch, "dim", False):
            fg = _dim(fg, bg)
        text = ch.data
        flags = (BOLD if ch.bold else 0) | (ITALIC if ch.italics else 0)
        if getattr(ch, "hidden", False):
            text = " "
        else:
            flags |= (UNDERLINE if ch.underscore else 0) | (STRIKE if ch.strikethrough else 0)
        return text, fg, bg, flags

    # -- frames ----------------------------------------------------------------------------------

    def refresh(
        self, screen: pyte.Screen, cursor_visible: bool, cursor_shape: str | None = None
    ) -> list[Span]:
        """Redraw what changed on ``screen`` since the last call; the changed cell spans.

        The cursor is drawn as ``cursor_shape`` ("block", "underline" or "bar"), by default
        the screen's own (DECSCUSR) when it has one. A screen whose size changed (DECCOLM)
        resizes the framebuffer first. Released, nothing is drawn (and the screen's changes are
        left for the redraw after :meth:`acquire`).
        """
        if not self.allocated:
            return []
        if (screen.columns, screen.lines) != (self.cols, self.rows):
            self.resize(screen.columns, screen.lines)
            screen.dirty.update(range(screen.lines))
        colours = getattr(screen, "colours", None)
        if colours is not None and colours.generation != self._colours_seen:
            self._set_colours(colours)
            screen.dirty.update(range(screen.lines))
        if bool(getattr(screen, "reverse_video", False)) != self._reverse_video:
            self._set_reverse_video(not self._reverse_video)
            screen.dirty.update(range(screen.lines))
        if len(self._tile_ids) * self.cell_w * self.cell_h * 4 > self._tile_cache_cap():
            self._reset_tiles()
            self._ids[:] = -1
            screen.dirty.update(range(self.rows))
        lines = set(screen.dirty)
        screen.dirty.clear()
        cur = None
        if cursor_visible:
            shape = str(cursor_shape or getattr(screen, "cursor_shape", "block"))
            cur = (screen.cursor.y, min(screen.cursor.x, self.cols - 1), shape)
        if cur != self._cursor:
            for pos in (self._cursor, cur):
                if pos is not None:
                    lines.add(pos[0])
            self._cursor = cur
        if self._overlay_changed:
            self._overlay_changed = False
            lines.add(self.rows - 1)
        rows = [y for y in sorted(lines) if 0 <= y < self.rows]
        computed = {y: self._line_ids(screen, y, cur) for y in rows}
        if self._overlay is not None and self.rows - 1 in computed:
            computed[self.rows - 1] = self._overlay_ids(self._overlay, self.cols)
        if self.detect_scroll and len(rows) >= SCROLL_MIN_ROWS:
            self._detect_scroll(computed)
        spans: list[Span] = []
        for y in rows:
            spans.extend(self._paint_line(y, *computed[y]))
        return spans

    def set_overlay(self, text: str | None) -> None:
        """Draw ``text`` over the bottom row from the next refresh on (None: the row shows the
        screen again); the row is reported as changed either way."""
        if text != self._overlay:
            self._overlay = text
            self._overlay_changed = True

    @property
    def overlay(self) -> str | None:
        return self._overlay

    def overlay_pixels(self, text: str, width: int) -> np.ndarray:
        """The status row for ``text`` as pixels ``width`` wide (one cell high), for a picture
        that is not the terminal's (a proxied desktop)."""
        cols = max(1, min(-(-width // self.cell_w), 4096))
        ids = self._overlay_ids(text, cols)[0]
        tiles = self._atlas[ids]  # (cols, cell_h, cell_w)
        row = tiles.transpose(1, 0, 2).reshape(self.cell_h, -1)
        out = np.zeros((self.cell_h, max(0, width)), dtype=np.uint32)
        out[:, : min(width, row.shape[1])] = row[:, :width]
        return out

    def _overlay_ids(self, text: str, cols: int) -> tuple[np.ndarray, list[int], list[int]]:
        """The status row's ``cols`` tiles for ``text``: one line, cut at the last column,
        wide characters on two cells, marks of zero width and controls left out."""
        ids: list[int] = []
        y = self.rows - 1
        fg, bg = OVERLAY_FG, OVERLAY_BG
        for ch in " " + text:
            width = wcwidth(ch)
            if width < 1:
                continue
            if len(ids) + width > cols:
                break
            for half in (1, 2) if width == 2 else (0,):
                flags = self._phase(len(ids), y) if ch in SHADES else 0
                ids.append(self._tile((ch, fg, bg, flags, half)))
        blank = self._tile((" ", fg, bg, 0, 0))
        ids.extend([blank] * (cols - len(ids)))
        return np.array(ids, dtype=np.int32), [fg] * cols, [bg] * cols

    def take_copies(self) -> list[Move]:
        """Moves done since the last call: (source pixels, destination x, y), in order."""
        copies, self._copies = self._copies, []
        return copies

    def _detect_scroll(self, computed: dict[int, tuple[np.ndarray, list[int], list[int]]]) -> None:
        """Find rows that moved up or down as a block (a scroll), move their pixels instead of
        redrawing them, and record the move so viewers get a CopyRect."""
        old = self._ids
        new = old.copy()
        for y, (ids, _, _) in computed.items():
            new[y] = ids
        old_rows = {old[r].tobytes(): r for r in range(self.rows - 1, -1, -1)}
        votes: dict[int, int] = {}
        for y in computed:
            r = old_rows.get(new[y].tobytes())
            if r is not None and r != y:
                votes[r - y] = votes.get(r - y, 0) + 1
        if not votes:
            return
        k = max(votes, key=lambda d: votes[d])
        # the longest run of rows y with new[y] == old[y + k]
        best, start = (0, 0), None
        for y in range(self.rows + 1):
            ok = 0 <= y + k < self.rows and y < self.rows and (new[y] == old[y + k]).all()
            if ok and start is None:
                start = y
            elif not ok and start is not None:
                if y - start > best[1] - best[0]:
                    best = (start, y)
                start = None
        a, b = best
        if b - a < SCROLL_MIN_ROWS:
            return
        ch = self.cell_h
        self.pixels[a * ch : b * ch] = self.pixels[(a + k) * ch : (b + k) * ch].copy()
        self._ids[a:b] = old[a + k : b + k].copy()
        self.cell_fg[a:b] = self.cell_fg[a + k : b + k].copy()
        self.cell_bg[a:b] = self.cell_bg[a + k : b + k].copy()
        cells_w = self.cols * self.cell_w
        self._copies.append(Move(Rect(0, (a + k) * ch, cells_w, (b - a) * ch), 0, a * ch))

    def _line_ids(
        self, screen: pyte.Screen, y: int, cursor: tuple[int, int, str] | None
    ) -> tuple[np.ndarray, list[int], list[int]]:
        """Tile ids and colours of row ``y`` as the screen has it now."""
        line = screen.buffer[y]
        cols = self.cols
        get = line.get
        default = getattr(line, "default", None) or screen.default_char
        looks = self._looks
        cursor_x = cursor[1] if cursor is not None and cursor[0] == y else -1
        ids: list[int] = []
        fgs: list[int] = []
        bgs: list[int] = []
        for x in range(cols):
            ch = get(x, default)
            look = looks.get(ch)
            if look is None:
                look = looks[ch] = self._look(ch)
            if look[0] >= 0 and x != cursor_x:
                ids.append(look[0])
                fgs.append(look[1])
                bgs.append(look[2])
                continue
            tid, fg, bg = self._cell(screen, line, default, x, y, ch, cursor, cursor_x)
            ids.append(tid)
            fgs.append(fg)
            bgs.append(bg)
        return np.array(ids, dtype=np.int32), fgs, bgs

    def _paint_line(self, y: int, new: np.ndarray, fgs: list[int], bgs: list[int]) -> list[Span]:
        """Draw the cells of row ``y`` whose tile changed; the changed spans."""
        changed = new != self._ids[y]
        if not changed.any():
            return []
        self._ids[y] = new
        self.cell_fg[y] = fgs
        self.cell_bg[y] = bgs
        # runs of changed cells -> one gather per run
        edges = np.flatnonzero(np.diff(np.concatenate(([0], changed.view(np.int8), [0]))))
        spans = []
        ch_, cw = self.cell_h, self.cell_w
        y0 = y * ch_
        for c0, c1 in zip(edges[::2], edges[1::2], strict=True):
            tiles = self._atlas[new[c0:c1]]  # (n, ch, cw)
            self.pixels[y0 : y0 + ch_, c0 * cw : c1 * cw] = tiles.transpose(1, 0, 2).reshape(
                ch_, -1
            )
            spans.append(Span(y, int(c0), int(c1)))
        return spans

    def _look(self, ch: Any) -> tuple[int, int, int]:
        """(tile, fg, bg) for a cell look that does not depend on its position, else _SLOW."""
        data = ch.data
        if not data or data in SHADES or wcwidth(data[0]) == 2:
            return _SLOW
        text, fg, bg, flags = self._style(ch)
        return self._tile((text, fg, bg, flags, 0)), fg, bg

    def _cell(
        self,
        screen: pyte.Screen,
        line: Any,
        default: Any,
        x: int,
        y: int,
        ch: Any,
        cursor: tuple[int, int, str] | None,
        cursor_x: int,
    ) -> tuple[int, int, int]:
        """The tile of cell (y, x) the slow way: wide halves, shades, the cursor."""
        text, fg, bg, flags = self._style(ch)
        half = 0
        data = ch.data
        if not data:  # the right half of a wide character, or an orphaned stub
            prev = line.get(x - 1, default).data if x else ""
            if text == "" and prev and wcwidth(prev[0]) == 2:
                text, half = prev, 2
            else:
                text = " "
        elif wcwidth(data[0]) == 2:
            half = 1
        if text in SHADES:
            flags |= self._phase(x, y)
        if cursor is not None and (x == cursor_x or (half == 2 and x - 1 == cursor_x)):
            shape = cursor[2]
            if shape == "underline":
                flags |= CURSOR_UNDERLINE
            elif shape == "bar":
                flags |= CURSOR_BAR
            elif self._cursor_colour is not None:  # OSC 12: a block of the cursor colour
                fg, bg = bg, self._cursor_colour
            else:
                fg, bg = bg, fg
        return self._tile((text, fg, bg, flags, half)), fg, bg

    def _phase(self, x: int, y: int) -> int:
        """The flags of a shade cell's pixel parity at cell (y, x), so patterns line up."""
        return (((x * self.cell_w) & 1) | (((y * self.cell_h) & 1) << 1)) << PHASE_SHIFT

    def span_rect(self, span: Span) -> Rect:
        """The pixels of a cell span."""
        return Rect(
            span.col0 * self.cell_w,
            span.row * self.cell_h,
            (span.col1 - span.col0) * self.cell_w,
            self.cell_h,
        )

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
        if rect.right > self.cols * self.cell_w or rect.bottom > self.rows * self.cell_h:
            both = np.append(both, np.uint32(self.default_bg))  # the margin
        return np.unique(both)
