"""Scripted desktop (RFB server) byte streams for the desktop client tests.

``build_session`` returns what a desktop would send over one connection - handshake, then
updates in every encoding the client decodes (made by vncterm's own encoders), CopyRects,
pseudo-encodings, Bell and clipboard messages - together with the framebuffer the client must
end with, so tests can compare exactly.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from encoder_cases import make_frame

from vncterm.desktop.clipboard import CLIP_CAPS, CLIP_NOTIFY, CLIP_PROVIDE, CLIP_REQUEST, CLIP_TEXT
from vncterm.encoders.base import Encoder, EncoderOptions
from vncterm.encoders.hextile import HextileEncoder
from vncterm.encoders.raw import RawEncoder
from vncterm.encoders.tight import TightEncoder
from vncterm.encoders.zrle import ZrleEncoder
from vncterm.geometry import Rect
from vncterm.rfb.constants import Encoding
from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT as PF

U32 = struct.Struct(">I")


def handshake(
    version: bytes = b"003.008",
    security: int = 1,
    name: bytes = b"guest desktop",
    size: tuple[int, int] = (96, 64),
    challenge: bytes = bytes(range(16)),
) -> bytes:
    """ProtocolVersion .. ServerInit as a desktop sends it (sections 7.1 to 7.3)."""
    out = b"RFB " + version + b"\n"
    if version in (b"003.003", b"003.005"):
        out += U32.pack(security)
    else:
        out += bytes((1, security))
    if security == 2:
        out += challenge
    if security == 2 or version == b"003.008":
        out += U32.pack(0)
    pf = PF.to_bytes()
    return out + struct.pack(">HH", *size) + pf + U32.pack(len(name)) + name


def rect_header(r: Rect, enc: int) -> bytes:
    return struct.pack(">HHHHi", r.x, r.y, r.w, r.h, enc)


def update(*rects: bytes, count: int | None = None) -> bytes:
    return struct.pack(">BxH", 0, len(rects) if count is None else count) + b"".join(rects)


def cut_text(payload: bytes, extended: bool = False) -> bytes:
    if extended:
        return struct.pack(">Bxxxi", 3, -len(payload)) + payload
    return struct.pack(">BxxxI", 3, len(payload)) + payload


def provide(text: str) -> bytes:
    body = text.replace("\n", "\r\n").encode() + b"\0"
    return U32.pack(CLIP_PROVIDE | CLIP_TEXT) + zlib.compress(U32.pack(len(body)) + body)


@dataclass
class Session:
    data: bytes
    final: np.ndarray
    texts: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def build_session(seed: int = 0, width: int = 96, height: int = 64) -> Session:
    """A whole connection: handshake and a dozen messages covering every decoder."""
    rng = np.random.default_rng(seed)
    fb = np.zeros((height, width), np.uint32)
    options = EncoderOptions(tight_gradient=True)
    encoders: list[Encoder[Any]] = [RawEncoder(), HextileEncoder(), ZrleEncoder(), TightEncoder()]
    states = {e.encoding: (e, e.new_state()) for e in encoders}
    out = [handshake(size=(width, height))]

    def painted(enc: int, r: Rect, ncolours: int, structure: str) -> bytes:
        frame = make_frame(int(rng.integers(1 << 30)), r.w, r.h, ncolours, structure)
        fb[r.y : r.bottom, r.x : r.right] = frame
        encoder, state = states[Encoding(enc)]
        return rect_header(r, enc) + encoder.encode(frame, PF, options, state)

    # full frame in four encodings, one quarter each
    hw, hh = width // 2, height // 2
    out.append(
        update(
            painted(Encoding.RAW, Rect(0, 0, hw, hh), 0, "noise"),
            painted(Encoding.HEXTILE, Rect(hw, 0, width - hw, hh), 5, "cells"),
            painted(Encoding.ZRLE, Rect(0, hh, hw, height - hh), 200, "blocks"),
            painted(Encoding.TIGHT, Rect(hw, hh, width - hw, height - hh), 0, "noise"),
        )
    )
    # cursor, name, bell
    cursor = struct.pack("<4I", 0xFF0000, 0xFF00, 0xFF, 0xFFFFFF) + bytes((0b10000000, 0b01000000))
    out.append(
        update(
            rect_header(Rect(1, 0, 2, 2), Encoding.CURSOR) + cursor,
            rect_header(Rect(0, 0, 0, 0), Encoding.DESKTOP_NAME)
            + U32.pack(len("Bureau ✓".encode()))
            + "Bureau ✓".encode(),
        )
    )
    out.append(b"\x02")
    # a CopyRect, then a raw rect over its source, then a copy from that damage
    src = Rect(4, 4, 20, 10)
    copy1 = rect_header(Rect(30, 20, 20, 10), Encoding.COPYRECT) + struct.pack(">HH", 4, 4)
    fb[20:30, 30:50] = fb[4:14, 4:24].copy()
    raw = painted(Encoding.RAW, src, 3, "rows")
    copy2 = rect_header(Rect(60, 40, 10, 10), Encoding.COPYRECT) + struct.pack(">HH", 8, 6)
    fb[40:50, 60:70] = fb[6:16, 8:18].copy()
    out.append(update(copy1, raw, copy2))
    # Tight and ZRLE again (streams carry on), LastRect ending an update of unknown length
    out.append(
        update(
            painted(Encoding.TIGHT, Rect(10, 10, 50, 30), 2, "cells"),
            painted(Encoding.ZRLE, Rect(0, 0, width, 8), 0, "noise"),
            painted(Encoding.TIGHT, Rect(5, 30, 40, 20), 40, "blocks"),
            rect_header(Rect(0, 0, 0, 0), Encoding.LAST_RECT),
            count=0xFFFF,
        )
    )
    # clipboard: Latin-1, then extended caps / notify / provide
    out.append(cut_text("café".encode("latin-1")))
    out.append(
        cut_text(
            U32.pack(CLIP_CAPS | CLIP_REQUEST | CLIP_NOTIFY | CLIP_PROVIDE | CLIP_TEXT)
            + U32.pack(1 << 20),
            extended=True,
        )
    )
    out.append(cut_text(U32.pack(CLIP_NOTIFY | CLIP_TEXT), extended=True))
    out.append(cut_text(provide("ünïcode\nline 2"), extended=True))
    # a resize (ExtendedDesktopSize), then paint the new area
    nw, nh = width + 16, height - 8
    screen = struct.pack(">IHHHHI", 1, 0, 0, nw, nh, 0)
    out.append(
        update(
            rect_header(Rect(0, 0, nw, nh), Encoding.EXTENDED_DESKTOP_SIZE)
            + bytes((1, 0, 0, 0))
            + screen
        )
    )
    new = np.zeros((nh, nw), np.uint32)
    new[:, :width] = fb[:nh]
    fb = new
    out.append(update(painted(Encoding.HEXTILE, Rect(width, 0, 16, nh), 1, "rows")))
    # plain DesktopSize back to the original size
    out.append(update(rect_header(Rect(0, 0, width, height), Encoding.DESKTOP_SIZE)))
    new = np.zeros((height, width), np.uint32)
    new[:nh] = fb[:, :width]
    fb = new
    out.append(update(painted(Encoding.ZRLE, Rect(0, nh, width, height - nh), 2, "noise")))
    return Session(b"".join(out), fb, texts=["café", "ünïcode\nline 2"], names=["Bureau ✓"])
