#!/usr/bin/env python3
"""Generates ``vncterm/terminal/xcms_curves.py``: the device curves of an X screen without colour
characterisation, measured on a real xterm under Xvnc.

    python3 tools/measure_xcms_curves.py [-o OUT]    # needs xterm and Xvnc (tests/peers/xvnc.py)

xterm reads ``rgbi:`` specs through Xlib, which turns intensities into device values with the
screen's curves. This starts xterm under Xvnc running itself (``--inside``), which finds for
each channel and 8-bit level the smallest intensity xterm gives that level for (bisection:
``OSC 4 ; 0 ; rgbi:...`` then ``OSC 4 ; 0 ; ?``, all levels and channels at once per step),
checks the answer at both ends of every interval, and writes the thresholds as the corners of
their piecewise-linear run (levels where the spacing changes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import termios
import time
import tty
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "vncterm" / "terminal" / "xcms_curves.py"
STEPS = 36
_REPLY = re.compile(rb"\x1b\]4;0;rgb:([0-9a-f]{4})/([0-9a-f]{4})/([0-9a-f]{4})\x1b\\")


def _ask(fd: int, triples: list[tuple[float, float, float]]) -> list[tuple[int, ...]]:
    """xterm's 8-bit levels for each (r, g, b) intensity triple."""
    out: list[tuple[int, ...]] = []
    for i in range(0, len(triples), 64):
        chunk = triples[i : i + 64]
        ask = "".join(
            f"\x1b]4;0;rgbi:{r:.15f}/{g:.15f}/{b:.15f}\x1b\\\x1b]4;0;?\x1b\\" for r, g, b in chunk
        )
        os.write(sys.stdout.fileno(), ask.encode())
        got = b""
        while len(_REPLY.findall(got)) < len(chunk):
            if not select.select([fd], [], [], 10)[0]:
                raise SystemExit("xterm stopped answering")
            got += os.read(fd, 65536)
        out += [tuple(int(x[:2], 16) for x in m) for m in _REPLY.findall(got)]
    return out


def inside(out: str) -> None:
    """Run in xterm: bisect every threshold; write {"thresholds": [[...] * 3]} to ``out``."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        lo = [[0.0] * 256 for _ in range(3)]
        hi = [[1.0] * 256 for _ in range(3)]
        for _ in range(STEPS):
            mid = [[(lo[c][k] + hi[c][k]) / 2 for k in range(256)] for c in range(3)]
            levels = _ask(fd, [(mid[0][k], mid[1][k], mid[2][k]) for k in range(1, 256)])
            for k in range(1, 256):
                for c in range(3):
                    (hi if levels[k - 1][c] >= k else lo)[c][k] = mid[c][k]
        at_hi = _ask(fd, [(hi[0][k], hi[1][k], hi[2][k]) for k in range(1, 256)])
        at_lo = _ask(fd, [(lo[0][k], lo[1][k], lo[2][k]) for k in range(1, 256)])
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    bad = [
        (c, k)
        for k in range(1, 256)
        for c in range(3)
        if not (at_hi[k - 1][c] >= k > at_lo[k - 1][c])
    ]
    result = {"thresholds": [[(lo[c][k] + hi[c][k]) / 2 for k in range(256)] for c in range(3)]}
    result["bad"] = bad  # type: ignore[assignment]
    Path(out).write_text(json.dumps(result))


def corners(thresholds: list[float], tolerance: float = 4e-11) -> list[tuple[int, float]]:
    """(level, threshold) where the thresholds' piecewise-linear run bends, levels 1-255."""
    out = []
    start = 1
    while start < 255:
        end = start + 1
        while end < 255:
            a, b = thresholds[start], thresholds[end + 1]
            span = end + 1 - start
            if any(
                abs(a + (b - a) * (m - start) / span - thresholds[m]) > tolerance
                for m in range(start, end + 2)
            ):
                break
            end += 1
        out.append((start, thresholds[start]))
        start = end
    out.append((255, thresholds[255]))
    return out


def measure() -> list[list[float]]:
    sys.path.insert(0, str(ROOT / "tests"))
    from peers.xvnc import XvncServer

    with tempfile.TemporaryDirectory() as tmp, XvncServer(geometry=(1024, 768)) as x:
        out = Path(tmp) / "thresholds.json"
        cmd = [sys.executable, __file__, "--inside", str(out)]
        proc = subprocess.Popen(["xterm", "-geometry", "80x24", "-e", *cmd], env=x.env())
        try:
            deadline = time.monotonic() + 300
            while not out.exists():
                if time.monotonic() > deadline:
                    raise SystemExit("no thresholds from xterm")
                time.sleep(0.2)
            time.sleep(0.2)
            result = json.loads(out.read_text())
        finally:
            proc.kill()
            proc.wait()
    if result["bad"]:
        raise SystemExit(f"thresholds not confirmed: {result['bad'][:10]}")
    return list(result["thresholds"])


def render(thresholds: list[list[float]]) -> str:
    lines = [
        '"""The device curves of an X screen without colour characterisation, as xterm 379 under',
        "Xvnc gives them: for each channel (red, green, blue), (level, intensity) where the",
        "smallest intensity giving each 8-bit level bends; between two corners it is linear in",
        "the level. Generated by ``tools/measure_xcms_curves.py``: do not edit.",
        '"""',
        "",
        "CORNERS: tuple[tuple[tuple[int, float], ...], ...] = (",
    ]
    for channel in thresholds:
        lines.append("    (")
        for level, t in corners(channel):
            lines.append(f"        ({level}, {t:.12g}),")
        lines.append("    ),")
    lines.append(")")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    ap.add_argument("--inside", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        inside(args.inside)
        return
    args.out.write_text(render(measure()))


if __name__ == "__main__":
    main()
