"""One decoder per encoding the desktop client asks for (RFB spec sections 7.7 and 7.8).

Each decoder is a generator over exact byte counts (see :mod:`.base`), paints into the numpy
framebuffer it is given and keeps per-connection state only in the object passed in.
"""

from .base import Reader, feed
from .copyrect import decode_copyrect
from .cursor import decode_cursor
from .desktop_name import decode_name
from .desktop_size import ExtendedSize, Screen, decode_extended_desktop_size
from .hextile import decode_hextile
from .raw import decode_raw
from .tight import TightState, decode_tight
from .zrle import ZrleState, decode_zrle

__all__ = [
    "ExtendedSize",
    "Reader",
    "Screen",
    "TightState",
    "ZrleState",
    "decode_copyrect",
    "decode_cursor",
    "decode_extended_desktop_size",
    "decode_hextile",
    "decode_name",
    "decode_raw",
    "decode_tight",
    "decode_zrle",
    "feed",
]
