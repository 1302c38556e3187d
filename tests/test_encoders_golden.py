"""Golden bytes: what the encode manager sends for a fixed script of updates, per encoding.

The round-trip tests prove the output decodes; this one pins the exact bytes, so that a reshaping
of the encoders (or of the manager's choices: merging, solid bands, Tight text layers, cell
margins, JPEG cuts) that changes anything on the wire fails. Frames come from integer hashing
(no random generator whose stream could change between numpy versions). JPEG payloads are
reduced to their control byte (the JPEG bytes are Pillow's). The hashes also depend on zlib-ng's
deflate output: after a zlib-ng upgrade that changes it, check the round-trip tests, then print
the new hashes with ``python tests/test_encoders_golden.py``.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import numpy.typing as npt
import pytest

from vncterm.encoders.base import EncoderOptions
from vncterm.encoders.cells import CellGrid
from vncterm.encoders.manager import EncodeManager, PaletteHint
from vncterm.geometry import Rect
from vncterm.rfb.constants import Encoding
from vncterm.rfb.pixel_format import PixelFormat

pytestmark = pytest.mark.unit

U32 = npt.NDArray[np.uint32]

NOVNC_PF = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)
PF565 = PixelFormat(16, 16, True, True, 31, 63, 31, 11, 5, 0)
PF8 = PixelFormat(8, 8, False, True, 7, 7, 3, 0, 3, 6)

CW, CH, COLS, ROWS = 9, 18, 37, 11
#: The terminal framebuffer is a few pixels larger than its cells (a right and bottom margin).
TERM_W, TERM_H = COLS * CW + 7, ROWS * CH + 5
GEN_W, GEN_H = 300, 200


def mix(values: npt.NDArray[np.uint64], seed: int) -> npt.NDArray[np.uint64]:
    """A deterministic 64-bit hash of each value (splitmix64 finaliser)."""
    x = values.astype(np.uint64) + np.uint64(seed * 0x9E3779B97F4A7C15 % (1 << 64))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = x ^ (x >> np.uint64(31))
    return out


def grid(h: int, w: int, seed: int) -> npt.NDArray[np.uint64]:
    return mix(np.arange(h * w, dtype=np.uint64).reshape(h, w), seed)


def terminal(seed: int) -> tuple[U32, CellGrid]:
    """A terminal frame: cells of a 6-colour palette (runs of equal colours along rows, mostly
    one background), glyph masks, and a margin of another colour right of and below the cells."""
    palette = np.array([0x000000, 0xAAAAAA, 0xFFFF55, 0x5555FF, 0x55FF55, 0xAA0000], np.uint32)
    runs = grid(ROWS, COLS // 4 + 1, seed)
    fg = palette[1 + np.repeat(runs % np.uint64(5), 4, 1)[:, :COLS]]
    cell = grid(ROWS, COLS, seed + 1)
    bg = np.where(cell % np.uint64(8) == 0, palette[(cell >> np.uint64(8)) % np.uint64(6)], 0)
    bg = bg.astype(np.uint32)
    blank = (cell >> np.uint64(20)) % np.uint64(4) == 0
    ink = (grid(ROWS * CH, COLS * CW, seed + 2) % np.uint64(10) < 3).reshape(ROWS, CH, COLS, CW)
    blank[2:5] = True  # three blank rows: the shortest run Tight sends as a fill
    bg[2:5] = 0
    ink &= ~blank[:, None, :, None]
    px = np.where(ink, fg[:, None, :, None], bg[:, None, :, None]).reshape(ROWS * CH, COLS * CW)
    fb = np.full((TERM_H, TERM_W), 0x202020, np.uint32)
    fb[: ROWS * CH, : COLS * CW] = px
    return fb, CellGrid(CW, CH, fg.astype(np.uint32), bg)


def generic(seed: int) -> U32:
    """Any pixels: solid bands, a few colours, blocks, 24-bit noise (photo-like rows)."""
    h = grid(GEN_H, GEN_W, seed)
    fb = np.full((GEN_H, GEN_W), 0x336699, np.uint32)
    fb[12:20] = 0x445566  # a solid band of 8 rows: the shortest cut out on its own
    few = np.array([0x101010, 0xF0F0F0, 0xC00000, 0x00C000, 0x0000C0], np.uint32)
    fb[20:60] = few[(h[20:60] % np.uint64(5)).astype(np.intp)]
    fb[60:70] = 0xFFFFFF
    blocks = grid(GEN_H // 8 + 1, GEN_W // 16 + 1, seed + 1) % np.uint64(300)
    big = np.repeat(np.repeat(blocks, 8, 0), 16, 1)[70:120, :GEN_W]
    fb[70:120] = (big * np.uint64(0x010203)).astype(np.uint32)
    fb[120:170] = (h[120:170] & np.uint64(0xFFFFFF)).astype(np.uint32)
    fb[170:180, 10:290] = few[1]
    fb[182:198] = (h[:16] >> np.uint64(40)).astype(np.uint32)  # 16 rows: the shortest JPEG run
    return fb


Hint = CellGrid | PaletteHint | None


def script() -> list[tuple[U32, list[Rect], Hint]]:
    """A connection's updates: a terminal (full, one line, a scroll as per-row damage), then
    any pixels (full, a few rectangles, rectangles crossing the framebuffer's edge)."""
    fb, cells = terminal(1)
    out: list[tuple[U32, list[Rect], Hint]] = [(fb, [Rect(0, 0, TERM_W, TERM_H)], cells)]
    fb2, cells2 = terminal(2)
    line = fb.copy()
    line[5 * CH : 6 * CH] = fb2[5 * CH : 6 * CH]
    fg = cells.fg.copy()
    bg = cells.bg.copy()
    fg[5], bg[5] = cells2.fg[5], cells2.bg[5]
    out.append(
        (
            line,
            [Rect(3 * CW, 5 * CH, 20 * CW, CH), Rect(30 * CW, 5 * CH, 2 * CW, CH)],
            CellGrid(CW, CH, fg, bg),
        )
    )
    fb2[7 * CH + 3, 2 * CW + 4] = 0x123456  # a pixel that is neither of its cell's colours
    out.append(
        (
            fb2,
            [Rect(0, r * CH, (5 + 3 * r) % COLS * CW + CW, CH) for r in range(ROWS)]
            + [Rect(COLS * CW - 4, 0, 11, TERM_H)],
            cells2,
        )
    )
    gen = generic(3)
    out.append((gen, [Rect(0, 0, GEN_W, GEN_H)], None))
    gen2 = generic(4)
    rects = [Rect(5, 25, 40, 30), Rect(100, 100, 150, 75), Rect(250, 150, 80, 80)]
    out.append((gen2, rects, None))
    extra = np.array([0x101010, 0xF0F0F0, 0xC00000, 0x00C000, 0x0000C0, 0x336699, 0x777777])
    out.append((gen, [Rect(0, 0, GEN_W, 70)], lambda r: np.sort(extra).astype(np.uint32)))
    return out


#: name -> (SetEncodings list, allow_lossy, Tight gradient filter)
CASES: dict[str, tuple[list[int], bool, bool]] = {
    "tight": ([Encoding.TIGHT], False, False),
    "tight-l2-jpeg": ([Encoding.TIGHT, -254, -27], True, False),
    "tight-gradient": ([Encoding.TIGHT, -256], False, True),
    "zrle": ([Encoding.ZRLE], False, False),
    "zrle-l9": ([Encoding.ZRLE, -247], False, False),
    "hextile": ([Encoding.HEXTILE], False, False),
    "zlib": ([Encoding.ZLIB, -251], False, False),
    "zlib-rre": ([Encoding.RAW, Encoding.ZLIB, Encoding.RRE], False, False),
    "rre": ([Encoding.RRE], False, False),
    "raw": ([], False, False),
}


def wire(name: str, pf: PixelFormat) -> bytes:
    """Every rectangle header and payload of the script, for one connection."""
    encodings, lossy, gradient = CASES[name]
    m = EncodeManager(EncoderOptions(allow_lossy=lossy, tight_gradient=gradient))
    m.set_encodings(encodings)
    parts: list[bytes] = []
    for fb, rects, hint in script():
        parts.append(b"update")
        for r in m.encode(fb, rects, pf, hint):
            payload = r.payload
            if r.encoding == Encoding.TIGHT and payload[0] >> 4 == 9:
                payload = payload[:1]  # JPEG: the control byte only
            parts.append(struct.pack(">HHHHi", r.rect.x, r.rect.y, r.rect.w, r.rect.h, r.encoding))
            parts.append(len(payload).to_bytes(4, "big") + payload)
    return b"".join(parts)


def digest(name: str, pf: PixelFormat) -> str:
    return hashlib.sha256(wire(name, pf)).hexdigest()[:32]


PFS = {"novnc": NOVNC_PF, "565": PF565, "bgr233": PF8}

GOLDEN: dict[str, str] = {
    "tight/novnc": "3f35fdf1ce0bd2cec36e361b53fa450f",
    "tight/565": "2d9dbeb3c08d24e6cfec3cf9e6fc084b",
    "tight/bgr233": "04851bf2110475e6d764e641d4904e5e",
    "tight-l2-jpeg/novnc": "3eec427faa55d8edd24f795744c5976d",
    "tight-l2-jpeg/565": "16defae0cb0fe7c30ad867d118997a4d",
    "tight-l2-jpeg/bgr233": "0914952db31a4de57f44f099056b15a5",
    "tight-gradient/novnc": "78719f6ea980a0767c4c3da88393ce6a",
    "tight-gradient/565": "820ccbf51e4c5643db1307b841e3beac",
    "tight-gradient/bgr233": "851cd91c2e7eef419a8714f018400a75",
    "zrle/novnc": "63c7f11984929efabd061d00f9035662",
    "zrle/565": "0681997a96030a06a016ceb30ed5e788",
    "zrle/bgr233": "6d23823d0b6114cc4614c33401cb0d9c",
    "zrle-l9/novnc": "63fcb9e2f2d08c146862f62bde50c0ad",
    "zrle-l9/565": "ec55a285dc4bceb051b346e6326cd710",
    "zrle-l9/bgr233": "3151f45d411459675e355b0152a917ca",
    "hextile/novnc": "f8d3efb918b86c57a1a87243b56b244a",
    "hextile/565": "c1cd3fce8db7e5f1d0ed772f848b8bdc",
    "hextile/bgr233": "426a5e5d3f6f31c924f1e4b6071bf94e",
    "zlib/novnc": "4fac8da79012bbf38f3f361e63756973",
    "zlib/565": "68d0d9b3649046b53daad8a6d1792298",
    "zlib/bgr233": "add97c92f17cd5c20623fbbc0b73af42",
    "zlib-rre/novnc": "4806895b84cfdad2ba6a10027329b22c",
    "zlib-rre/565": "1fd6d9e42c4ac6f1aa478f15f10c5d08",
    "zlib-rre/bgr233": "654a4a61358cea71e571c2af733e11d7",
    "rre/novnc": "e10286ad186064431b4d7ecc03786ce2",
    "rre/565": "b2622c601637165c715c4ba205c53dfe",
    "rre/bgr233": "a0a5b8df561cfc64f900bd3859afb491",
    "raw/novnc": "7cc05865880c82190c7a9a094449a67a",
    "raw/565": "706e0837daf6388003fe32a2fa64cf64",
    "raw/bgr233": "0d45989a1b148e723f2abe767fd19c07",
}


@pytest.mark.parametrize("pf_name", list(PFS))
@pytest.mark.parametrize("name", list(CASES))
def test_wire_bytes_are_unchanged(name: str, pf_name: str) -> None:
    assert digest(name, PFS[pf_name]) == GOLDEN[f"{name}/{pf_name}"]


if __name__ == "__main__":
    for n in CASES:
        for p, f in PFS.items():
            print(f'    "{n}/{p}": "{digest(n, f)}",')
