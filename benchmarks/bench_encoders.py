#!/usr/bin/env python3
"""Encoder benchmark on recorded terminal sessions: bytes and milliseconds per update.

Input: the captures in ``tests/captures/`` (real programs recorded under a pty by
``tests/captures.py``), replayed through the Emulator and the TerminalRenderer with the
default rendering (DejaVu Sans Mono 15 px, hinted monochrome, 9x18 cells). For each capture the
frame with the most ink is the *full* frame; then two typical incremental updates are made by
feeding the terminal more bytes, on a connection whose zlib streams have seen the full frame:

* ``line``:   one line rewritten in colour (the damage of one cell row),
* ``scroll``: a new line at the bottom scrolls the screen (every row redrawn, as the server sends
  it: the damage rectangles merged by ``server/damage.py``, no CopyRect).

Each is encoded ``--repeat`` times (a fresh connection each time); the tables give the median
and the minimum milliseconds (a 2-core machine shared with others: the minimum is the cost, the
median what a loaded machine sees), bytes on the wire (12-byte rectangle headers included, the
4-byte update header too) and the ratio to Raw. Compression levels: ``def`` is no
compression-level pseudo-encoding (our default), 2 is what noVNC and TigerVNC send by default.

    python benchmarks/bench_encoders.py                    # ls-usr-bin, both geometries
    python benchmarks/bench_encoders.py --markdown         # the README table
    python benchmarks/bench_encoders.py --all              # every capture
    python benchmarks/bench_encoders.py --zlib             # zlib libraries and levels
    python benchmarks/bench_encoders.py --gil              # event-loop stall while encoding
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# VNCTERM_SRC: benchmark another source tree (e.g. the previous encoders) on the same captures.
sys.path.insert(0, os.environ.get("VNCTERM_SRC", str(ROOT)))
sys.path.insert(1, str(HERE))
sys.path.insert(2, str(ROOT / "tests"))  # captures.py and the recorded captures

import captures  # noqa: E402

from vncterm.encoders import zstream  # noqa: E402
from vncterm.encoders.manager import EncodeManager  # noqa: E402
from vncterm.geometry import Rect  # noqa: E402
from vncterm.rfb.constants import Encoding  # noqa: E402
from vncterm.rfb.pixel_format import PixelFormat  # noqa: E402

#: What noVNC asks for (32 bpp, depth 24, little-endian, red at bit 0): TPIXEL/CPIXEL 3 bytes.
NOVNC_PF = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)
ENCODINGS = [
    Encoding.TIGHT,
    Encoding.ZRLE,
    Encoding.HEXTILE,
    Encoding.ZLIB,
    Encoding.RRE,
    Encoding.RAW,
]
LEVELS: list[int | None] = [None, 2]


@dataclass
class Case:
    """A capture's full frame and two incremental updates that follow it."""

    name: str
    cols: int
    rows: int
    full: captures.Frame
    line: captures.Frame
    scroll: captures.Frame


def make_case(path: Path) -> Case:
    cap = captures.load(path)
    rp, full = captures.busiest(cap)
    line = rp.feed(
        b"\x1b7\x1b[6;1H\x1b[1;33mbuild\x1b[m: \x1b[32mok\x1b[m  12 files, "
        b"0 warnings, 3.2 s\x1b[K\x1b8"
    )
    scroll = rp.feed(
        f"\x1b[{cap.rows};1H\r\n".encode() + b"\x1b[34mdrwxr-xr-x\x1b[m 2 root "
        b"root 4096 Jan  1 12:00 \x1b[1;34mnew-directory\x1b[m"
    )
    assert line is not None and scroll is not None
    return Case(cap.name, cap.cols, cap.rows, full, line, scroll)


def wire_bytes(rects: Sequence[object]) -> int:
    return 4 + sum(12 + len(r.payload) for r in rects)  # type: ignore[attr-defined]


try:
    from vncterm.encoders.cells import CellGrid
except ImportError:  # an older tree (VNCTERM_SRC) without the cell path
    CellGrid = None  # type: ignore[assignment,misc]
#: Pass the renderer's cell grid to the manager (--no-cells: only the palette hint).
USE_CELLS = True


def run_encode(m: EncodeManager, frame: captures.Frame, rects: list[Rect]) -> list[object]:
    """What the server does: encode with the palette hint (and the cell grid, if supported)."""
    if USE_CELLS and CellGrid is not None:
        grid = CellGrid(frame.cell_w, frame.cell_h, frame.cell_fg, frame.cell_bg)
        return list(m.encode(frame.pixels, rects, NOVNC_PF, frame.palette_hint, cells=grid))
    return list(m.encode(frame.pixels, rects, NOVNC_PF, frame.palette_hint))


def manager(enc: int, level: int | None) -> EncodeManager:
    m = EncodeManager()
    m.set_encodings([int(enc)] + ([] if level is None else [-256 + level]))
    return m


@dataclass
class Result:
    nbytes: int
    med: float
    best: float
    nrects: int


def measure(
    enc: int,
    level: int | None,
    warm: captures.Frame | None,
    frame: captures.Frame,
    rects: list[Rect],
    repeat: int,
) -> Result:
    """Encode ``rects`` of ``frame`` ``repeat`` times, each on a connection that has sent
    ``warm`` (if given) first."""
    times: list[float] = []
    nbytes = nrects = 0
    for _ in range(repeat):
        m = manager(enc, level)
        if warm is not None:
            run_encode(m, warm, [warm.full])
        t = time.perf_counter()
        out = run_encode(m, frame, rects)
        times.append((time.perf_counter() - t) * 1000)
        nbytes, nrects = wire_bytes(out), len(out)
    return Result(nbytes, statistics.median(times), min(times), nrects)


def bench(cases: list[Case], levels: Sequence[int | None], repeat: int, markdown: bool) -> None:
    load0 = os.getloadavg()
    header = (
        "capture",
        "geometry",
        "encoding",
        "level",
        "full bytes",
        "ratio",
        "full ms",
        "line bytes",
        "line ms",
        "scroll bytes",
        "scroll ms",
    )
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---:" if i > 3 else "---" for i in range(len(header))) + "|")
    else:
        print(
            f"{'capture':<12} {'geometry':>8} {'encoding':>8} {'lvl':>3} {'full B':>8}"
            f" {'ratio':>6} {'ms med/min':>12} {'line B':>7} {'ms med/min':>11}"
            f" {'scroll B':>8} {'ms med/min':>12}"
        )
    for case in cases:
        raw_full = wire_bytes([]) + 12 + case.full.pixels.size * 4
        for enc in ENCODINGS:
            for level in (
                levels if enc not in (Encoding.RAW, Encoding.HEXTILE, Encoding.RRE) else [None]
            ):
                f = measure(enc, level, None, case.full, [case.full.full], repeat)
                ln = measure(enc, level, case.full, case.line, case.line.rects, repeat)
                sc = measure(enc, level, case.full, case.scroll, case.scroll.rects, repeat)
                geo = f"{case.cols}x{case.rows}"
                lvl = "def" if level is None else str(level)
                if enc in (Encoding.RAW, Encoding.HEXTILE, Encoding.RRE):
                    lvl = "-"
                name = Encoding(enc).name.lower()
                ratio = raw_full / f.nbytes
                if markdown:
                    print(
                        f"| {case.name} | {geo} | {name} | {lvl} | {f.nbytes} | {ratio:.0f} |"
                        f" {f.med:.2f} / {f.best:.2f} | {ln.nbytes} | {ln.med:.2f} /"
                        f" {ln.best:.2f} | {sc.nbytes} | {sc.med:.2f} / {sc.best:.2f} |"
                    )
                else:
                    print(
                        f"{case.name:<12} {geo:>8} {name:>8} {lvl:>3} {f.nbytes:8d}"
                        f" {ratio:6.0f} {f.med:6.2f}/{f.best:<5.2f} {ln.nbytes:7d}"
                        f" {ln.med:5.2f}/{ln.best:<5.2f} {sc.nbytes:8d}"
                        f" {sc.med:6.2f}/{sc.best:<5.2f}"
                    )
        print(
            ("" if not markdown else "\n") + f"  {case.name} {case.cols}x{case.rows}: "
            f"{case.full.pixels.shape[1]}x{case.full.pixels.shape[0]} px, "
            f"{np.unique(case.full.pixels).size} colours, Raw {raw_full} bytes; line update "
            f"{len(case.line.rects)} rect(s), scroll {len(case.scroll.rects)} rect(s)"
            + ("\n" if markdown else ""),
            flush=True,
        )
    load1 = os.getloadavg()
    print(
        f"load average {load0[0]:.2f} -> {load1[0]:.2f} ({os.cpu_count()} CPUs); "
        f"repeat {repeat}; ms = median / minimum"
    )


def bench_zlib(cases: list[Case], repeat: int) -> None:
    """Full frames in Tight, ZRLE and Zlib with stdlib zlib vs zlib-ng at several levels."""
    import zlib_ng.zlib_ng as zng

    print(
        f"{'capture':<12} {'geometry':>8} {'encoding':>8} {'library':>8} {'level':>5}"
        f" {'bytes':>7} {'ms med/min':>12}"
    )
    for case in cases:
        for enc in (Encoding.TIGHT, Encoding.ZRLE, Encoding.ZLIB):
            for lib_name, lib in (("stdlib", zlib), ("zlib-ng", zng)):
                zstream._zlib = lib  # type: ignore[assignment]
                for level in (1, 2, 3, 6, 9):
                    r = measure(enc, level, None, case.full, [case.full.full], repeat)
                    print(
                        f"{case.name:<12} {case.cols}x{case.rows:<4} {enc.name.lower():>8}"
                        f" {lib_name:>8} {level:5d} {r.nbytes:7d} {r.med:6.2f}/{r.best:<5.2f}"
                    )
            zstream._zlib = zng


def bench_gil(cases: list[Case], repeat: int) -> None:
    """How long the event loop would stall: a thread ticks every 0.2 ms while another encodes a
    full frame; the longest gap between ticks is the time the encoder held the GIL."""
    print(
        f"{'capture':<12} {'geometry':>8} {'encoding':>8} {'encode ms':>9}"
        f" {'longest GIL hold ms':>19}"
    )
    for case in cases:
        for enc in (Encoding.TIGHT, Encoding.ZRLE, Encoding.HEXTILE, Encoding.ZLIB):
            gaps: list[float] = []
            spans: list[float] = []
            for _ in range(repeat):
                stop = threading.Event()
                worst = [0.0]

                def tick(stop: threading.Event = stop, worst: list[float] = worst) -> None:
                    last = time.perf_counter()
                    while not stop.is_set():
                        time.sleep(0.0002)
                        now = time.perf_counter()
                        worst[0] = max(worst[0], now - last)
                        last = now

                t = threading.Thread(target=tick)
                t.start()
                time.sleep(0.005)
                m = manager(enc, None)
                t0 = time.perf_counter()
                run_encode(m, case.full, [case.full.full])
                spans.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.002)
                stop.set()
                t.join()
                gaps.append(worst[0] * 1000)
            print(
                f"{case.name:<12} {case.cols}x{case.rows:<4} {enc.name.lower():>8}"
                f" {statistics.median(spans):9.2f} {statistics.median(gaps):19.2f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="every capture, not only ls-usr-bin")
    ap.add_argument("--capture", action="append", help="capture name(s) (e.g. vim, top)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--zlib", action="store_true", help="compare zlib libraries and levels")
    ap.add_argument("--gil", action="store_true", help="measure event-loop stalls")
    ap.add_argument(
        "--levels",
        default="def,2",
        help="compression levels to measure, 'def' = none sent (default: def,2)",
    )
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument(
        "--no-cells",
        action="store_true",
        help="give the manager only the palette hint, not the cell grid",
    )
    ap.add_argument("--encodings", help="comma-separated subset, e.g. tight,zrle")
    args = ap.parse_args()
    global USE_CELLS
    USE_CELLS = not args.no_cells
    if args.encodings:
        ENCODINGS[:] = [Encoding[e.upper()] for e in args.encodings.split(",")]
    names = args.capture or ([] if args.all else ["ls-usr-bin"])
    paths = [p for p in captures.available() if not names or p.name.rsplit("-", 1)[0] in names]
    if not paths:
        sys.exit("no captures: run tests/captures.py record")
    paths.sort(key=lambda p: (p.name.rsplit("-", 1)[0], "200x60" in p.name))
    cases = [make_case(p) for p in paths]
    levels: Callable[[str], int | None] = lambda s: None if s == "def" else int(s)  # noqa: E731
    if args.zlib:
        bench_zlib(cases, args.repeat)
    elif args.gil:
        bench_gil(cases, args.repeat)
    else:
        bench(cases, [levels(s) for s in args.levels.split(",")], args.repeat, args.markdown)


if __name__ == "__main__":
    main()
