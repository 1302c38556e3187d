#!/usr/bin/env python3
"""Parser throughput: vncterm's emulator (fast paths on and off) against stock pyte.

Every workload is fed in 64 KB chunks, as the server does with console reads, with no
renderer: this is the terminal model alone. Prints a Markdown table of MB/s.

    python benchmarks/bench_parse.py                 # 20 MB plain text, colour, CJK, captures
    python benchmarks/bench_parse.py --size 4        # smaller inputs (MB), for a quick look
    python benchmarks/bench_parse.py --only plain --profile   # cProfile the fast path
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))  # captures.py and the recorded captures

import pyte  # noqa: E402
import run as workloads  # noqa: E402  (the suite's workloads: one definition)
from captures import available, load  # noqa: E402
from run import as_pty  # noqa: E402

from vncterm.terminal.emulator import Emulator  # noqa: E402

CHUNK = 65536


def plain_text(size: int) -> bytes:
    return as_pty(workloads.plain_text(size))


def colour_listing(size: int) -> bytes:
    return as_pty(workloads.colour_listing(size))


def cjk_text(size: int) -> bytes:
    return as_pty(workloads.cjk_text(size))


def captures_text() -> bytes:
    """Every recorded 80x25 capture, one after the other (vim, top, htop, ls, gcc)."""
    return b"".join(load(p).data for p in available() if "80x25" in p.name)


def feed_emulator(fast: bool, cols: int, rows: int) -> Callable[[bytes], None]:
    emu = Emulator(cols, rows, fast=fast)

    def feed(data: bytes) -> None:
        for i in range(0, len(data), CHUNK):
            emu.feed(data[i : i + CHUNK])
            emu.take_replies()

    return feed


def feed_pyte(cols: int, rows: int) -> Callable[[bytes], None]:
    screen = pyte.Screen(cols, rows)
    streams = [pyte.ByteStream(screen)]

    def feed(data: bytes) -> None:
        for i in range(0, len(data), CHUNK):
            try:
                streams[0].feed(data[i : i + CHUNK])
            except TypeError:  # pyte 0.8.2 crashes on some sequences (vim's CSI > 4;2 m)
                streams[0] = pyte.ByteStream(screen)

    return feed


def rate(feed: Callable[[bytes], None], data: bytes, budget: float) -> float:
    """MB/s over ``data`` (a prefix of it for slow parsers: at most ~``budget`` seconds)."""
    probe = data[: CHUNK * 4]
    t0 = time.perf_counter()
    feed(probe)
    first = time.perf_counter() - t0
    est = first / len(probe) * len(data)
    if est > budget:
        data = data[len(probe) : len(probe) + max(CHUNK, int(len(data) * budget / est))]
    else:
        data = data[len(probe) :] or probe
    t0 = time.perf_counter()
    feed(data)
    return len(data) / (time.perf_counter() - t0) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=20, help="MB per synthetic workload")
    ap.add_argument(
        "--budget",
        type=float,
        default=8.0,
        help="seconds at most per slow measurement (a prefix is timed)",
    )
    ap.add_argument("--only", help="one workload: plain, colour, cjk, captures")
    ap.add_argument("--profile", action="store_true", help="cProfile the fast path")
    args = ap.parse_args()
    size = int(args.size * 1e6)
    workloads: dict[str, tuple[str, Callable[[], bytes], int, int]] = {
        "plain": (f"plain text ({args.size:g} MB), 80x25", lambda: plain_text(size), 80, 25),
        "plain200": (f"plain text ({args.size:g} MB), 200x60", lambda: plain_text(size), 200, 60),
        "colour": (
            "`ls --color=always -lR /usr/share`, 80x25",
            lambda: colour_listing(size),
            80,
            25,
        ),
        "cjk": ("CJK text, 80x25", lambda: cjk_text(size // 4), 80, 25),
        "captures": ("recorded captures (vim, top, htop, ls, gcc), 80x25", captures_text, 80, 25),
    }
    if args.only:
        workloads = {args.only: workloads[args.only]}
    if args.profile:
        for label, make, cols, rows in workloads.values():
            data = make()
            prof = cProfile.Profile()
            feed = feed_emulator(True, cols, rows)
            prof.runcall(feed, data)
            print(label)
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        return
    print(
        "| workload | bytes | fast MB/s | slow (fast=False) MB/s | stock pyte MB/s |"
        " fast/slow | fast/pyte |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, make, cols, rows in workloads.values():
        data = make()
        fast = rate(feed_emulator(True, cols, rows), data, args.budget)
        slow = rate(feed_emulator(False, cols, rows), data, args.budget)
        ref = rate(feed_pyte(cols, rows), data, args.budget)
        print(
            f"| {label} | {len(data)} | {fast:.2f} | {slow:.2f} | {ref:.2f} | "
            f"{fast / slow:.1f}x | {fast / ref:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
