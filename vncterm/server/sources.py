"""Framebuffer sources: what a viewer is shown (the terminal, or a proxied desktop).

A source owns a framebuffer (uint32 0x00RRGGBB) and reports, on ``refresh()``, what changed since
the previous call: areas that moved (copies, in order; viewers that know CopyRect get them as
CopyRect) and areas to repaint. Encoders and viewers do not care which kind of source it is.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from ..encoders.cells import CellGrid
from ..geometry import Move, Rect
from ..render.renderer import TerminalRenderer
from ..terminal.emulator import Emulator
from ..terminal.view import TerminalView
from .damage import DamageGrid


@dataclass
class Damage:
    """What changed in a source since its last refresh: copies first (in order), then rects."""

    copies: list[Move] = field(default_factory=list)
    rects: list[Rect] = field(default_factory=list)
    _masks: dict[tuple[int, int, int, int], np.ndarray] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __bool__(self) -> bool:
        return bool(self.copies or self.rects)

    def tile_mask(self, grid: DamageGrid) -> np.ndarray:
        """``rects`` as tiles of ``grid``, worked out once per grid geometry (every viewer of
        a source has the same grid)."""
        mask = self._masks.get(grid.geometry)
        if mask is None:
            mask = self._masks[grid.geometry] = grid.mask_of(self.rects)
        return mask


class Snapshot:
    """An immutable copy of a frame that encoders may read off the event loop."""

    def __init__(self, pixels: np.ndarray, generation: int, cells: CellGrid | None = None) -> None:
        self.generation = generation
        self.pixels = pixels
        #: The terminal's cell grid, which the encoders use both as a palette hint and to
        #: encode text by cells (None for sources without cells).
        self.cells = cells

    @property
    def hint(self) -> CellGrid | None:
        """What the encode manager takes as its palette hint."""
        return self.cells


class FramebufferSource(abc.ABC):
    """The interface the server feeds viewers from."""

    name: str = ""
    generation: int = 0

    @property
    @abc.abstractmethod
    def width(self) -> int: ...

    @property
    @abc.abstractmethod
    def height(self) -> int: ...

    @property
    @abc.abstractmethod
    def tile_size(self) -> tuple[int, int]:
        """The damage-tracking granularity (a terminal cell, or a square of pixels)."""

    @abc.abstractmethod
    def refresh(self) -> Damage:
        """Bring the framebuffer up to date; what changed since the last call."""

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """The current frame, copied (shared by every viewer encoding this generation)."""


class TerminalSource(FramebufferSource):
    """The terminal: pyte's screen drawn by the renderer."""

    def __init__(self, emulator: Emulator, renderer: TerminalRenderer, name: str) -> None:
        self.emulator = emulator
        self.renderer = renderer
        #: The scroll position and selection every viewer of the terminal shares.
        self.view = TerminalView(emulator)
        self.name = name
        self.generation = 0
        self._snapshot: Snapshot | None = None

    @property
    def width(self) -> int:
        return self.renderer.width

    @property
    def height(self) -> int:
        return self.renderer.height

    @property
    def tile_size(self) -> tuple[int, int]:
        return self.renderer.cell_w, self.renderer.cell_h

    def refresh(self) -> Damage:
        r = self.renderer
        spans = r.refresh(self.view.screen_for_render(), self.view.cursor_visible())
        copies = r.take_copies()
        if not spans and not copies:
            return Damage()
        self.generation += 1
        return Damage(copies, [r.span_rect(s) for s in spans])

    def drop_snapshot(self) -> None:
        """Forget the last frame copy (the screen changed size: it is of no more use)."""
        self._snapshot = None

    def snapshot(self) -> Snapshot:
        if self._snapshot is None or self._snapshot.generation != self.generation:
            r = self.renderer
            cells = None
            if not r.font.antialias:
                cells = CellGrid(r.cell_w, r.cell_h, r.cell_fg.copy(), r.cell_bg.copy())
            self._snapshot = Snapshot(r.pixels.copy(), self.generation, cells)
        return self._snapshot
