#!/usr/bin/env python3
"""Encoder benchmark: bytes and milliseconds per full terminal frame, per encoding and geometry.

Frames are synthesised like a terminal's: coloured text (an ``ls --color -l`` listing, a
status bar in reverse video) in 8x16 cells, glyphs from fonts/DejaVuSansMono.ttf drawn without
antialiasing, so each cell holds 2-4 colours. Run:  python benchmarks/bench_encoders.py [--zlib]
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vncterm.encoders import zstream  # noqa: E402
from vncterm.encoders.manager import EncodeManager  # noqa: E402
from vncterm.geometry import Rect  # noqa: E402
from vncterm.rfb.constants import Encoding  # noqa: E402
from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT  # noqa: E402

CELL_W, CELL_H = 8, 16
FONT = ROOT / "fonts" / "DejaVuSansMono.ttf"
BLACK, GREY, WHITE = (0, 0, 0), (204, 204, 204), (255, 255, 255)
BLUE, GREEN, CYAN = (85, 85, 255), (85, 255, 85), (85, 255, 255)
YELLOW = (255, 255, 85)


Span = tuple[str, tuple[int, int, int], tuple[int, int, int]]


def listing(cols: int, rows: int, seed: int = 0) -> list[list[Span]]:
    """Lines of (text, fg, bg) spans looking like ``ls --color -l`` plus a status bar."""
    rng = np.random.default_rng(seed)
    names = ["bin", "boot", "dev", "etc", "home", "lib", "media", "mnt", "opt", "proc", "root",
             "run", "sbin", "srv", "sys", "tmp", "usr", "var", "build.sh", "README.md",
             "setup.py", "vmlinuz", "initrd.img", "notes.txt", "archive.tar.gz", "link"]
    lines = []
    lines.append([("$ ls --color -l /", GREEN, BLACK)])
    lines.append([(f"total {int(rng.integers(50, 90))}", GREY, BLACK)])
    for i in range(rows - 3):
        name = names[i % len(names)] + ("" if i < len(names) else str(i))
        kind = rng.integers(0, 4)
        perm, colour = [("drwxr-xr-x", BLUE), ("-rwxr-xr-x", GREEN), ("lrwxrwxrwx", CYAN),
                        ("-rw-r--r--", GREY)][int(kind)]
        size = int(rng.integers(1, 99999))
        links, day = int(rng.integers(1, 30)), int(rng.integers(1, 28))
        minute = int(rng.integers(0, 60))
        meta = f"{perm} {links:2d} root root {size:8d} Jan {day:2d} 12:{minute:02d} "
        spans = [(meta, GREY, BLACK), (name, colour, BLACK)]
        if kind == 2:
            spans.append((" -> usr/" + name, GREY, BLACK))
        extra = cols - sum(len(s[0]) for s in spans)
        if extra > 20 and i % 3 == 0:
            spans.append(("  # " + "lorem ipsum dolor sit amet " * 8, YELLOW, BLACK))
        lines.append(spans)
    lines.append([(" NORMAL ", BLACK, GREEN), (" bench.txt  [+] ".ljust(cols - 20), WHITE, BLUE),
                  ("utf-8 | 1:1 ", BLACK, YELLOW)])
    return lines


def render(cols: int, rows: int, seed: int = 0) -> np.ndarray:
    """A (rows*16, cols*8) uint32 0x00RRGGBB frame of the listing, monochrome glyphs."""
    img = Image.new("RGB", (cols * CELL_W, rows * CELL_H), BLACK)
    draw = ImageDraw.Draw(img)
    draw.fontmode = "1"  # no antialiasing: each cell keeps its 2 colours
    font = ImageFont.truetype(str(FONT), 13)
    for row, spans in enumerate(listing(cols, rows, seed)[:rows]):
        col = 0
        for text, fg, bg in spans:
            for ch in text:
                if col >= cols:
                    break
                x, y = col * CELL_W, row * CELL_H
                draw.rectangle((x, y, x + CELL_W - 1, y + CELL_H - 1), fill=bg)
                if ch != " ":
                    draw.text((x, y + 1), ch, fill=fg, font=font)
                col += 1
    a = np.asarray(img, dtype=np.uint32)
    return (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times = []
    result: object = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    # The minimum: this 2-core machine is shared, and the median mostly measures the neighbours.
    return min(times) * 1000, result


def bench_frames(repeat: int) -> None:
    pf = SERVER_PIXEL_FORMAT
    encodings = [Encoding.TIGHT, Encoding.ZRLE, Encoding.HEXTILE, Encoding.ZLIB, Encoding.RRE,
                 Encoding.RAW]
    print(f"{'geometry':>9} {'encoding':>8} {'hint':>4} {'bytes':>8} {'ratio':>6} {'ms':>7}"
          f" {'incr bytes':>10} {'incr ms':>7}")
    for cols, rows in ((80, 25), (200, 60)):
        fb = render(cols, rows)
        h, w = fb.shape
        colours = np.unique(fb)
        raw_bytes = w * h * 4 + 16
        line = Rect(0, 5 * CELL_H, w, CELL_H)
        fb2 = fb.copy()
        fb2[line.y:line.bottom] = np.roll(fb[line.y:line.bottom], CELL_W * 3, axis=1)
        for enc in encodings:
            for use_hint in (False, True):
                hint = (lambda r, c=colours: c) if use_hint else None

                def full(enc: int = enc, hint: object = hint, fb: np.ndarray = fb, w: int = w,
                         h: int = h) -> int:
                    m = EncodeManager()
                    m.set_encodings([enc])
                    rects = m.encode(fb, [Rect(0, 0, w, h)], pf, hint)  # type: ignore[arg-type]
                    return 4 + sum(12 + len(r.payload) for r in rects)

                ms, nbytes = timed(full, repeat)
                m = EncodeManager()
                m.set_encodings([enc])
                m.encode(fb, [Rect(0, 0, w, h)], pf)

                def incr(m: EncodeManager = m, hint: object = hint, fb2: np.ndarray = fb2,
                         line: Rect = line) -> int:
                    rects = m.encode(fb2, [line], pf, hint)  # type: ignore[arg-type]
                    return 4 + sum(12 + len(r.payload) for r in rects)

                ims, ibytes = timed(incr, repeat)
                name = Encoding(enc).name.lower()
                print(f"{cols}x{rows:<6} {name:>8} {'yes' if use_hint else 'no':>4}"
                      f" {nbytes:8d} {raw_bytes / nbytes:6.1f} {ms:7.2f} {ibytes:10d} {ims:7.2f}")
        print(f"  ({w}x{h} px, {colours.size} colours; Raw full frame {raw_bytes} bytes)")


def bench_zlib(repeat: int) -> None:
    """Tight and ZRLE full frames with stdlib zlib vs zlib-ng at several levels."""
    import zlib_ng.zlib_ng as zng

    pf = SERVER_PIXEL_FORMAT
    print(f"{'geometry':>9} {'encoding':>8} {'library':>8} {'level':>5} {'bytes':>7} {'ms':>7}")
    for cols, rows in ((80, 25), (200, 60)):
        fb = render(cols, rows)
        h, w = fb.shape
        for enc in (Encoding.TIGHT, Encoding.ZRLE, Encoding.ZLIB):
            for lib_name, lib in (("stdlib", zlib), ("zlib-ng", zng)):
                zstream._zlib = lib  # type: ignore[assignment]
                for level in (1, 2, 6, 9):
                    def full(enc: int = enc, level: int = level, fb: np.ndarray = fb,
                             w: int = w, h: int = h) -> int:
                        m = EncodeManager()
                        m.set_encodings([enc, -256 + level])
                        rects = m.encode(fb, [Rect(0, 0, w, h)], pf)
                        return 4 + sum(12 + len(r.payload) for r in rects)

                    ms, nbytes = timed(full, repeat)
                    print(f"{cols}x{rows:<6} {enc.name.lower():>8} {lib_name:>8} {level:5d}"
                          f" {nbytes:7d} {ms:7.2f}")
        zstream._zlib = zng


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zlib", action="store_true", help="compare zlib libraries and levels")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--save", help="write the 80x25 frame as a PNG here and exit")
    args = ap.parse_args()
    if args.save:
        a = render(80, 25)
        rgb = np.stack([(a >> 16) & 255, (a >> 8) & 255, a & 255], -1).astype(np.uint8)
        Image.fromarray(rgb).save(args.save)
        return
    if args.zlib:
        bench_zlib(args.repeat)
    else:
        bench_frames(args.repeat)


if __name__ == "__main__":
    main()
