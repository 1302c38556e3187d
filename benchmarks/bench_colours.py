#!/usr/bin/env python3
"""Colour floods through the terminal model and the renderer (no server, no viewer): MB/s.

    PYTHONPATH=TREE python benchmarks/bench_colours.py [--size MB]

Workloads, 80x25, fed in 64 KB chunks with a frame drawn after each (as the server does):
256-colour and 24-bit SGR text; the same with a palette change (OSC 4) on every line; and the
time of one frame after a palette change, at 80x25 and 200x60. Run it with PYTHONPATH set to
each tree to compare (the tree on PYTHONPATH is measured; one without OSC 4 draws nothing
after one).
"""

from __future__ import annotations

import argparse
import random
import time

from vncterm.render.font import CellFont
from vncterm.render.renderer import TerminalRenderer
from vncterm.terminal.emulator import Emulator

CHUNK = 65536


def sgr_flood(size: int) -> bytes:
    """Words in random colours: SGR 38;5 / 48;5, 30-37 with bold, 38;2 (fixed seed)."""
    rnd = random.Random(1)
    out: list[str] = []
    n = 0
    while n < size:
        words = []
        for _ in range(10):
            k = rnd.random()
            if k < 0.4:
                sgr = f"\x1b[38;5;{rnd.randrange(256)};48;5;{rnd.randrange(256)}m"
            elif k < 0.7:
                sgr = f"\x1b[{30 + rnd.randrange(8)};{1 if rnd.random() < 0.3 else 22}m"
            else:
                r, g, b = (rnd.randrange(256) for _ in range(3))
                sgr = f"\x1b[38;2;{r};{g};{b}m"
            words.append(sgr + "word" * rnd.randrange(1, 3))
        line = " ".join(words) + "\x1b[0m\r\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()


def palette_flood(data: bytes) -> bytes:
    """``data`` with a palette entry changed (OSC 4) at the end of every line."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(
        line + b"\x1b]4;%d;#%06x\x1b\\" % (i % 256, i * 2654435761 % 0xFFFFFF)
        for i, line in enumerate(lines)
    )


def rate(data: bytes, render: bool) -> float:
    emu = Emulator(80, 25)
    renderer = TerminalRenderer(CellFont(15), 80, 25) if render else None
    start = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        emu.feed(data[i : i + CHUNK])
        if renderer is not None:
            renderer.refresh(emu.screen, True)
    return len(data) / (time.perf_counter() - start) / 1e6


def frame_after_change(data: bytes, cols: int, rows: int, n: int = 30) -> float:
    """Milliseconds to draw a frame after a palette change, a screen of coloured text shown."""
    emu = Emulator(cols, rows)
    emu.feed(data[: cols * rows * 8])
    renderer = TerminalRenderer(CellFont(15), cols, rows)
    renderer.refresh(emu.screen, True)
    start = time.perf_counter()
    for i in range(n):
        emu.feed(b"\x1b]4;%d;#%06x\x1b\\" % (i % 16, i * 99991))
        renderer.refresh(emu.screen, True)
    return (time.perf_counter() - start) / n * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=2.0, help="MB of coloured text")
    args = ap.parse_args()
    data = sgr_flood(int(args.size * 1e6))
    changes = palette_flood(data)
    print("| workload | parse MB/s | parse + frames MB/s |")
    print("| --- | --- | --- |")
    print(f"| 256-colour and 24-bit SGR | {rate(data, False):.2f} | {rate(data, True):.2f} |")
    print(
        f"| the same, OSC 4 every line | {rate(changes, False):.2f} | {rate(changes, True):.2f} |"
    )
    small, large = frame_after_change(data, 80, 25), frame_after_change(data, 200, 60)
    print(f"\nA frame after a palette change: 80x25 {small:.1f} ms, 200x60 {large:.1f} ms")


if __name__ == "__main__":
    main()
