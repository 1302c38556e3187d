"""Numbers from the RFB spec (rfbproto sections 7.5, 7.6, 7.7, 7.8)."""

from __future__ import annotations

from enum import IntEnum


class ClientMsg(IntEnum):
    """Client-to-server message types (section 7.5)."""

    SET_PIXEL_FORMAT = 0
    SET_ENCODINGS = 2
    FRAMEBUFFER_UPDATE_REQUEST = 3
    KEY_EVENT = 4
    POINTER_EVENT = 5
    CLIENT_CUT_TEXT = 6
    ENABLE_CONTINUOUS_UPDATES = 150
    CLIENT_FENCE = 248
    SET_DESKTOP_SIZE = 251
    QEMU = 255


class ServerMsg(IntEnum):
    """Server-to-client message types (section 7.6)."""

    FRAMEBUFFER_UPDATE = 0
    SET_COLOUR_MAP_ENTRIES = 1
    BELL = 2
    SERVER_CUT_TEXT = 3
    END_OF_CONTINUOUS_UPDATES = 150
    SERVER_FENCE = 248
    QEMU = 255


class SecurityType(IntEnum):
    """Security types (section 7.2.2)."""

    INVALID = 0
    NONE = 1
    VNC_AUTH = 2
    VENCRYPT = 19


class Encoding(IntEnum):
    """Encodings and pseudo-encodings (sections 7.7 and 7.8)."""

    RAW = 0
    COPYRECT = 1
    RRE = 2
    HEXTILE = 5
    ZLIB = 6
    TIGHT = 7
    ZRLE = 16
    JPEG_QUALITY_LOW = -32  # -32..-23 quality levels 0..9
    JPEG_QUALITY_HIGH = -23
    DESKTOP_SIZE = -223
    LAST_RECT = -224
    POINTER_POS = -232
    CURSOR = -239
    X_CURSOR = -240
    COMPRESS_LEVEL_LOW = -256  # -256..-247 compression levels 0..9
    COMPRESS_LEVEL_HIGH = -247
    QEMU_POINTER_MOTION_CHANGE = -257
    QEMU_EXTENDED_KEY_EVENT = -258
    QEMU_AUDIO = -259
    TIGHT_PNG_OR_STREAM = -260  # Tight PNG; also the number the stream-tunnel extension proposed
    DESKTOP_NAME = -307
    EXTENDED_DESKTOP_SIZE = -308
    FENCE = -312
    CONTINUOUS_UPDATES = -313
    CURSOR_WITH_ALPHA = -314
    EXTENDED_CLIPBOARD = -1063131698  # 0xc0a1e5ce as a signed 32-bit number
