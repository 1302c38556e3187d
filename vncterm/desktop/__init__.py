"""vncterm as a VNC client of a guest's desktop (issue 10): decode it into a numpy framebuffer.

``client`` is the sans-I/O RFB client state machine, ``decoders`` one module per encoding,
``connection`` the asyncio driver (connect out, or accept a reverse connection). Imports only
from ``vncterm.rfb`` (pixel format, constants, VNC auth), ``geometry`` and ``errors``.
"""

from .client import DEFAULT_ENCODINGS, DesktopClient, State
from .connection import DesktopConnection, ReverseListener, accept_reverse
from .events import (
    Bell,
    Connected,
    CursorChanged,
    CutText,
    Event,
    FramebufferUpdated,
    NameChanged,
    Resized,
)

__all__ = [
    "DEFAULT_ENCODINGS",
    "Bell",
    "Connected",
    "CursorChanged",
    "CutText",
    "DesktopClient",
    "DesktopConnection",
    "Event",
    "FramebufferUpdated",
    "NameChanged",
    "Resized",
    "ReverseListener",
    "State",
    "accept_reverse",
]
