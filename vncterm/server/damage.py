"""Per-viewer dirty-region tracking on a grid of tiles (terminal cells, for the terminal).

Each viewer keeps its own grid: what changed since *its* last update. Taking the damage inside a
requested region returns rectangles (runs of tiles merged across rows) and clears them.

A region that covers a tile only in part (a request smaller than a tile, like the stream
client's one pixel) cannot clear it: the rest of the tile is still owed. The part that was sent
is remembered per tile instead, until the tile is damaged again, so that the same region is not
"changed" again at once: an incremental request with nothing new in its region is then held,
as RFB wants (section 7.5.3), instead of being answered with the same pixels in a loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..geometry import Rect


class DamageGrid:
    """Damage of a ``width`` x ``height`` framebuffer in ``tile_w`` x ``tile_h`` tiles."""

    def __init__(self, width: int, height: int, tile_w: int, tile_h: int) -> None:
        self.width, self.height = width, height
        self.tile_w, self.tile_h = tile_w, tile_h
        self.mask = np.zeros((-(-height // tile_h), -(-width // tile_w)), dtype=bool)
        #: (row, column) of a damaged tile -> the part of it already sent (at most the tiles
        #: along the edges of the regions asked for; forgotten when the tile is damaged again)
        self._sent: dict[tuple[int, int], Rect] = {}

    def _tiles(self, rect: Rect) -> tuple[int, int, int, int]:
        """Tile index range (r0, r1, c0, c1) touched by a pixel rectangle."""
        r = rect.intersect(Rect(0, 0, self.width, self.height))
        if r.empty:
            return 0, 0, 0, 0
        return (
            r.y // self.tile_h,
            -(-r.bottom // self.tile_h),
            r.x // self.tile_w,
            -(-r.right // self.tile_w),
        )

    def add(self, rect: Rect) -> None:
        r0, r1, c0, c1 = self._tiles(rect)
        self.mask[r0:r1, c0:c1] = True
        self._forget_sent(lambda r, c: r0 <= r < r1 and c0 <= c < c1)

    @property
    def geometry(self) -> tuple[int, int, int, int]:
        """(width, height, tile_w, tile_h): grids of equal geometry can share tile masks."""
        return self.width, self.height, self.tile_w, self.tile_h

    def mask_of(self, rects: list[Rect]) -> np.ndarray:
        """The tiles ``rects`` touch, as a mask for :meth:`add_mask` (of any grid of this
        geometry: one refresh's damage is worked out once for every viewer)."""
        mask = np.zeros_like(self.mask)
        for rect in rects:
            r0, r1, c0, c1 = self._tiles(rect)
            mask[r0:r1, c0:c1] = True
        return mask

    def add_mask(self, mask: np.ndarray) -> None:
        self.mask |= mask
        self._forget_sent(lambda r, c: bool(mask[r, c]))

    def add_all(self) -> None:
        self.mask[:] = True
        self._sent.clear()

    def clear(self) -> None:
        self.mask[:] = False
        self._sent.clear()

    def _forget_sent(self, damaged: Callable[[int, int], bool]) -> None:
        if self._sent:
            for tile in [t for t in self._sent if damaged(*t)]:
                del self._sent[tile]

    def _unsent(self, r0: int, r1: int, c0: int, c1: int, bounds: Rect) -> np.ndarray:
        """The damaged tiles of the range, less those whose part inside ``bounds`` was sent."""
        sub = self.mask[r0:r1, c0:c1]
        if not self._sent:
            return sub
        sub = sub.copy()
        for (r, c), done in self._sent.items():
            if (
                r0 <= r < r1
                and c0 <= c < c1
                and sub[r - r0, c - c0]
                and self._tile(r, c).intersect(bounds).intersect(done)
                == self._tile(r, c).intersect(bounds)
            ):
                sub[r - r0, c - c0] = False
        return sub

    def _tile(self, r: int, c: int) -> Rect:
        return Rect(c * self.tile_w, r * self.tile_h, self.tile_w, self.tile_h)

    def _aligned(self, r: Rect) -> bool:
        tw, th = self.tile_w, self.tile_h
        return (
            r.x % tw == 0
            and r.y % th == 0
            and (r.right % tw == 0 or r.right == self.width)
            and (r.bottom % th == 0 or r.bottom == self.height)
        )

    def move(self, src: Rect, x: int, y: int) -> None:
        """The pixels of ``src`` were copied to (``x``, ``y``): their damage moves with them.

        Tile-aligned moves (terminal scrolls) are exact: the destination's damage becomes the
        source's. Other moves are conservative: shifted damage is added, nothing is cleared.
        """
        self._sent.clear()  # conservative: what was sent of a moved tile is sent again
        full = Rect(0, 0, self.width, self.height)
        src = src.intersect(full)
        dst = Rect(x, y, src.w, src.h)
        if src.empty or dst.intersect(full) != dst:
            self.add(dst.intersect(full))
            return
        if self._aligned(src) and self._aligned(dst):
            sr0, sr1, sc0, sc1 = self._tiles(src)
            dr0, dr1, dc0, dc1 = self._tiles(dst)
            if (sr1 - sr0, sc1 - sc0) == (dr1 - dr0, dc1 - dc0):
                self.mask[dr0:dr1, dc0:dc1] = self.mask[sr0:sr1, sc0:sc1].copy()
                return
        r0, r1, c0, c1 = self._tiles(src)
        tw, th = self.tile_w, self.tile_h
        for r, c in zip(*self.mask[r0:r1, c0:c1].nonzero(), strict=True):
            tile = Rect((c0 + c) * tw, (r0 + r) * th, tw, th).intersect(src)
            self.add(tile.translate(x - src.x, y - src.y))

    def any_in(self, region: Rect) -> bool:
        """True when ``region`` holds damage it has not been sent yet."""
        r0, r1, c0, c1 = self._tiles(region)
        bounds = region.intersect(Rect(0, 0, self.width, self.height))
        return bool(self._unsent(r0, r1, c0, c1, bounds).any())

    def take(self, region: Rect) -> list[Rect]:
        """Damaged rectangles inside ``region`` (clipped to it); clears tiles wholly inside and
        remembers what was sent of those inside only in part."""
        r0, r1, c0, c1 = self._tiles(region)
        tw, th = self.tile_w, self.tile_h
        bounds = region.intersect(Rect(0, 0, self.width, self.height))
        sub = self._unsent(r0, r1, c0, c1, bounds)
        if not sub.any():
            return []
        # runs of damaged tiles in each row, as (start, stop) column pairs
        padded = np.zeros((sub.shape[0], sub.shape[1] + 2), dtype=np.int8)
        padded[:, 1:-1] = sub
        rects: list[Rect] = []
        open_runs: dict[tuple[int, int], int] = {}  # run -> first row where it started
        for row in range(sub.shape[0] + 1):
            if row < sub.shape[0]:
                edges = np.flatnonzero(np.diff(padded[row]))
                runs = set(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
            else:
                runs = set()
            for run in list(open_runs):
                if run not in runs:  # the run ended above this row: emit it
                    start_row = open_runs.pop(run)
                    rects.append(
                        Rect(
                            (c0 + run[0]) * tw,
                            (r0 + start_row) * th,
                            (run[1] - run[0]) * tw,
                            (row - start_row) * th,
                        )
                    )
            for run in runs:
                open_runs.setdefault(run, row)
        # clear tiles wholly inside the region; partly covered ones stay damaged (the part sent
        # is remembered)
        fr0, fc0 = -(-bounds.y // th), -(-bounds.x // tw)
        fr1 = bounds.bottom // th if bounds.bottom < self.height else self.mask.shape[0]
        fc1 = bounds.right // tw if bounds.right < self.width else self.mask.shape[1]
        partial = sub.copy()  # the damaged tiles along the region's unaligned edges
        partial[fr0 - r0 : max(fr0, fr1) - r0, fc0 - c0 : max(fc0, fc1) - c0] = False
        for r, c in zip(*partial.nonzero(), strict=True):
            tile = (r0 + int(r), c0 + int(c))
            self._sent[tile] = self._tile(*tile).intersect(bounds)
        self.mask[fr0:fr1, fc0:fc1] = False
        self._forget_sent(lambda r, c: not self.mask[r, c])
        return [r.intersect(bounds) for r in rects if not r.intersect(bounds).empty]
