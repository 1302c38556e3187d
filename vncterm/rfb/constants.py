"""Numbers from the RFB spec (rfbproto sections 7.1 to 7.8): every number the core and the
client sides put on the wire has a name here."""

from __future__ import annotations

import re
from enum import IntEnum

#: ProtocolVersion (section 7.1.1): ``RFB xxx.yyy\n``, 12 bytes, both sides.
PROTOCOL_VERSION = re.compile(rb"RFB (\d{3})\.(\d{3})\n")


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
    """Security types (section 7.2)."""

    INVALID = 0
    NONE = 1
    VNC_AUTH = 2
    VENCRYPT = 19


class SecurityResult(IntEnum):
    """SecurityResult (section 7.1.3)."""

    OK = 0
    FAILED = 1


class VeNCryptSubtype(IntEnum):
    """VeNCrypt 0.2 sub-types (section 7.2.19): the TLS* ones anonymous, the X509* ones with the
    server's certificate; Plain (256) is only ever used inside TLS here."""

    PLAIN = 256
    TLS_NONE = 257
    TLS_VNC = 258
    TLS_PLAIN = 259
    X509_NONE = 260
    X509_VNC = 261
    X509_PLAIN = 262


class FenceFlag(IntEnum):
    """Fence flags (section 7.5.11 / 7.6.6)."""

    BLOCK_BEFORE = 1 << 0
    BLOCK_AFTER = 1 << 1
    SYNC_NEXT = 1 << 2
    REQUEST = 1 << 31


class DesktopSizeReason(IntEnum):
    """ExtendedDesktopSize reason, in the rectangle's x (section 7.8.5)."""

    SERVER = 0
    THIS_CLIENT = 1
    OTHER_CLIENT = 2


class DesktopSizeStatus(IntEnum):
    """ExtendedDesktopSize status, in the rectangle's y (section 7.8.5)."""

    OK = 0
    PROHIBITED = 1
    OUT_OF_RESOURCES = 2
    INVALID_LAYOUT = 3


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
