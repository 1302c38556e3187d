"""What every encoder declares and does (RFB spec section 7.7 "Encodings").

An encoder turns a rectangle of server pixels (a ``(h, w)`` uint32 array of ``0x00RRGGBB``) into
the payload that follows the 12-byte rectangle header, in the viewer's pixel format. Each
encoding is one module with one :class:`Encoder` subclass that declares

* ``encoding``: its number, from :class:`~vncterm.rfb.constants.Encoding`;
* ``suits``: the content classes (``analysis.ContentClass``) it is a good choice for; the
  manager takes the viewer's first listed encoding that suits a rectangle's class;
* ``merge``: how much unchanged area it may send to merge damage into fewer rectangles;
* ``uses_palette``: whether it makes use of a palette analysis;
* optionally ``rects`` (cut a rectangle, or give way to Raw) and ``cells`` (a way of its own
  to send terminal text);
* ``new_state``: its per-connection state (e.g. a dataclass of zlib streams), which the
  manager creates once per viewer and passes back in on every call.

The manager keeps them in one table (``manager.ENCODERS``): a new encoding is a new module and
one line there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from ..geometry import Rect
from ..rfb.connection import EncodedRect
from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from .analysis import U32, Analysis, ContentClass
from .cells import CellPlanes

S = TypeVar("S")


@dataclass
class EncoderOptions:
    """One connection's choices that encoders honour.

    ``compress_level`` and ``quality_level`` come from the viewer's pseudo-encodings
    (-256..-247 and -32..-23, section 7.8), None when not sent; ``allow_lossy`` (JPEG) and
    ``tight_gradient`` (Tight's gradient filter) are the server's settings.
    """

    compress_level: int | None = None
    quality_level: int | None = None
    allow_lossy: bool = False
    tight_gradient: bool = False


@dataclass(frozen=True, slots=True)
class Merge:
    """Damage rectangles are merged into their bounding box while it holds at most ``waste``
    times the pixels nobody asked for (or ``slack`` pixels): see ``manager.coalesce``."""

    waste: float
    slack: int


#: For encodings that send unchanged text at ~2 bytes a cell (Tight, ZRLE): merge generously,
#: fewer and larger rectangles cost fewer headers, palettes and zlib flushes.
MERGE_WIDE = Merge(4.0, 65536)
#: For encodings whose size grows with the pixel count: merge only nearby pieces.
MERGE_NEAR = Merge(0.5, 4096)


class Encoder(ABC, Generic[S]):
    """One RFB encoding; ``S`` is its per-connection state."""

    encoding: ClassVar[Encoding]
    suits: ClassVar[frozenset[ContentClass]] = frozenset()
    merge: ClassVar[Merge] = MERGE_NEAR
    #: False: the payload is the pixels as they are (Raw, Zlib): the manager sends terminal
    #: cells (unless solid) in bounded pieces, without their palette.
    uses_palette: ClassVar[bool] = True

    @abstractmethod
    def new_state(self) -> S:
        """A fresh per-connection state."""

    @abstractmethod
    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: S,
        analysis: Analysis | None = None,
    ) -> bytes:
        """Payload of one rectangle holding ``pixels``; ``analysis`` (its palette) if known."""

    def rects(
        self,
        piece: Rect,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: S,
        analysis: Analysis,
    ) -> list[EncodedRect]:
        """The rectangles that send ``piece`` (``pixels``): one, unless the encoding does
        better by cutting it (Tight) or by giving way to Raw (RRE)."""
        payload = self.encode(pixels, pf, options, state, analysis)
        return [EncodedRect(piece, int(self.encoding), payload)]

    def cells(
        self, planes: CellPlanes, part: Rect, pf: PixelFormat, options: EncoderOptions, state: S
    ) -> list[EncodedRect] | None:
        """The rectangles for a cell-aligned part of a terminal frame (``planes``: its cells,
        two colours each) when the encoding has a way of its own to send text, else None (the
        manager then sends it as any pixels, with the palette taken from the cells)."""
        return None


class StatelessEncoder(Encoder[None]):
    """An encoding that keeps nothing between rectangles (Raw, RRE, Hextile)."""

    def new_state(self) -> None:
        return None
