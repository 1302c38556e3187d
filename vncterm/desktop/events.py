"""What the desktop client reports (sans-I/O events; RFB spec section 7.6 server messages)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..geometry import Move, Rect


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake is over (ServerInit, section 7.3.2); the framebuffer is allocated."""

    width: int
    height: int
    name: str


@dataclass(frozen=True, slots=True)
class FramebufferUpdated:
    """One FramebufferUpdate (section 7.6.1) has been decoded into the framebuffer.

    Contract: applying ``copies`` in order to the previous frame and then repainting every
    rectangle of ``rects`` from the framebuffer gives the new frame. (A CopyRect whose source the
    same update had already repainted is reported as damage at its destination instead.)
    Sent for every update, even one that held only pseudo-encodings (both lists empty).
    """

    rects: list[Rect] = field(default_factory=list)
    copies: list[Move] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Resized:
    """The desktop changed size (DesktopSize / ExtendedDesktopSize, sections 7.8.3-4).

    The framebuffer was reallocated (the overlap kept, the rest black): treat all of it as
    damaged. Comes before the FramebufferUpdated of the same update.
    """

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class NameChanged:
    """DesktopName pseudo-encoding (section 7.8.5)."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class CursorChanged:
    """Cursor pseudo-encoding (section 7.8.2): an (h, w, 4) uint8 RGBA image and its hotspot.

    An empty image (0 x 0) means the desktop hides the cursor.
    """

    image: npt.NDArray[np.uint8]
    hotspot: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Bell:
    """Bell (section 7.6.3)."""


@dataclass(frozen=True, slots=True)
class CutText:
    """The desktop's clipboard text (ServerCutText section 7.6.4, or Extended Clipboard)."""

    text: str


Event = Connected | FramebufferUpdated | Resized | NameChanged | CursorChanged | Bell | CutText
