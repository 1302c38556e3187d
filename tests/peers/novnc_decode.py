"""Decode rectangles with noVNC's own decoders, run in Node (see novnc/decode.mjs).

noVNC asks servers for 32 bpp, depth 24, little-endian, red at bit 0, green 8, blue 16; encode
for :data:`NOVNC_PF` and compare the result with the source pixels.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from vncterm.rfb.pixel_format import PixelFormat

HERE = Path(__file__).resolve().parent / "novnc"
NOVNC_PF = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)


class NovncError(AssertionError):
    """noVNC rejected the stream."""


def _fields(item: Any) -> tuple[int, int, int, int, int, bytes]:
    if hasattr(item, "rect"):
        r = item.rect
        return r.x, r.y, r.w, r.h, int(item.encoding), bytes(item.payload)
    x, y, w, h, enc, payload = item
    return x, y, w, h, int(enc), bytes(payload)


def frame_stream(width: int, height: int, rects: Iterable[Any]) -> bytes:
    """The driver's stdin: a header, then each rectangle with its payload length."""
    out = [struct.pack(">HH", width, height)]
    for item in rects:
        x, y, w, h, enc, payload = _fields(item)
        out.append(struct.pack(">HHHHiI", x, y, w, h, enc, len(payload)))
        out.append(payload)
    return b"".join(out)


def decode(width: int, height: int, rects: Iterable[Any], timeout: float = 60.0) -> np.ndarray:
    """Run the rectangles (EncodedRect or (x, y, w, h, encoding, payload)) through noVNC.

    The framebuffer starts black. Returns it as (height, width) uint32 0x00RRGGBB.
    """
    proc = subprocess.run(
        ["node", str(HERE / "decode.mjs")],
        input=frame_stream(width, height, rects),
        capture_output=True,
        cwd=HERE,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise NovncError(proc.stderr.decode(errors="replace").strip())
    rgba = np.frombuffer(proc.stdout, np.uint8)
    if rgba.size != width * height * 4:
        raise NovncError(f"expected {width * height * 4} bytes, got {rgba.size}")
    rgba = rgba.reshape(height, width, 4).astype(np.uint32)
    return (rgba[..., 0] << 16) | (rgba[..., 1] << 8) | rgba[..., 2]
