"""Rectangles in framebuffer pixel coordinates, and moves of their pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle: ``x``, ``y`` of the top-left corner, ``w`` x ``h`` pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return 0 if self.empty else self.w * self.h

    def intersect(self, other: Rect) -> Rect:
        """The overlap of two rectangles (possibly empty)."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def union(self, other: Rect) -> Rect:
        """The bounding box of two rectangles (an empty one is ignored)."""
        if self.empty:
            return other
        if other.empty:
            return self
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.right, other.right), max(self.bottom, other.bottom)
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def translate(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def split(self, max_w: int, max_h: int) -> list[Rect]:
        """Tile this rectangle into pieces at most ``max_w`` x ``max_h``."""
        out: list[Rect] = []
        for y in range(self.y, self.bottom, max_h):
            for x in range(self.x, self.right, max_w):
                out.append(Rect(x, y, min(max_w, self.right - x), min(max_h, self.bottom - y)))
        return out


class Move(NamedTuple):
    """The pixels of ``src`` now also sit with their top-left corner at (``x``, ``y``): a
    scroll found by the renderer, a CopyRect from a proxied desktop, a CopyRect to a viewer."""

    src: Rect
    x: int
    y: int

    @property
    def dst(self) -> Rect:
        return Rect(self.x, self.y, self.src.w, self.src.h)
