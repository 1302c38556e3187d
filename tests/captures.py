#!/usr/bin/env python3
"""Recorded terminal sessions: record real programs under a pty, replay them into frames.

A capture is what a program wrote to its terminal, in the chunks ``read()`` returned, with the
time of each chunk: ``tests/captures/<name>-<cols>x<rows>.cap.gz`` (gzip of a JSON header
line, then per chunk U32 milliseconds since start, U32 length, bytes; big-endian). Replaying the
chunks through :class:`~vncterm.terminal.emulator.Emulator` and
:class:`~vncterm.render.renderer.TerminalRenderer` gives the frames, and the damaged rectangles,
that the server would have produced (test fixtures, and the benchmarks' input: the benchmarks
import this module from ``tests/``; tests never import ``benchmarks/``).

Record (needs ls, gcc, vim, top, htop; TERM=xterm-256color):

    python tests/captures.py record            # every scenario, both geometries
    python tests/captures.py record vim        # one scenario
    python tests/captures.py list
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import json
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and str(ROOT) not in sys.path:  # run as a script (``record``)
    sys.path.append(str(ROOT))

from vncterm.geometry import Rect  # noqa: E402

CAPTURE_DIR = Path(__file__).resolve().parent / "captures"
GEOMETRIES = ((80, 25), (200, 60))
_CHUNK = struct.Struct(">II")

_BAD_C = r"""#include <stdio.h>
#include <string.h>

struct point { int x, y; };

static int area(struct point *p) {
    int unused = 3;
    return p->x * p->y
}

int main(int argc, char **argv) {
    char buf[4];
    strcpy(buf, argv[0]);
    printf("%d\n", area(argc));
    return undefined_name + 1;
}
"""


@dataclass(frozen=True)
class Scenario:
    """A program to record: a shell command and keystrokes sent at given times (seconds)."""

    name: str
    command: str
    keys: tuple[tuple[float, bytes], ...] = ()
    timeout: float = 20.0
    files: dict[str, str] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("ls-usr-bin", "ls --color=always -l /usr/bin"),
        Scenario("ls-lR-share", "ls --color=always -lR /usr/share 2>/dev/null | head -n 400"),
        Scenario(
            "gcc-errors",
            "for i in 1 2 3; do gcc -Wall -Wextra -fdiagnostics-color=always -c bad.c "
            "-o /dev/null; done",
            files={"bad.c": _BAD_C},
        ),
        Scenario(
            "vim",
            f"vim -N -u NONE -i NONE -c 'syntax on' -c 'set number' "
            f"{ROOT / 'vncterm' / 'terminal' / 'emulator.py'}",
            keys=(
                (1.5, b"\x06"),
                (2.0, b"\x06"),
                (2.5, b"jjjjjjjj"),
                (3.0, b"ox = 1\x1b"),
                (3.5, b":q!\r"),
            ),
        ),
        Scenario("top", "top -d 0.5", keys=((2.6, b"q"),)),
        Scenario("htop", "htop -d 5", keys=((2.6, b"q"),)),
    )
}


def capture_path(name: str, cols: int, rows: int) -> Path:
    return CAPTURE_DIR / f"{name}-{cols}x{rows}.cap.gz"


# -- recording -------------------------------------------------------------------------------------


def record(sc: Scenario, cols: int, rows: int) -> Path:
    """Run ``sc`` on a new pty of ``cols`` x ``rows`` and store what it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        for fname, text in sc.files.items():
            Path(tmp, fname).write_text(text)
        env = {
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "COLUMNS": str(cols),
            "LINES": str(rows),
            "TZ": "UTC",
        }
        pid, fd = pty.fork()
        if pid == 0:  # child: the program on the pty
            os.chdir(tmp)
            os.execve("/bin/sh", ["sh", "-c", sc.command], env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        start = time.monotonic()
        chunks: list[tuple[int, bytes]] = []
        keys = list(sc.keys)
        while True:
            now = time.monotonic() - start
            while keys and keys[0][0] <= now:
                os.write(fd, keys.pop(0)[1])
            if now > sc.timeout:
                os.kill(pid, signal.SIGKILL)
                break
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the pty
                break
            if not data:
                break
            chunks.append((int(now * 1000), data))
            if b"\x1b[6n" in data:  # programs that ask for the cursor position get an answer
                os.write(fd, b"\x1b[1;1R")
        os.waitpid(pid, 0)
        os.close(fd)
    header = {
        "name": sc.name,
        "command": sc.command,
        "cols": cols,
        "rows": rows,
        "term": "xterm-256color",
    }
    body = b"".join(_CHUNK.pack(ms, len(d)) + d for ms, d in chunks)
    CAPTURE_DIR.mkdir(exist_ok=True)
    path = capture_path(sc.name, cols, rows)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(json.dumps(header).encode() + b"\n" + body)
    return path


# -- replay ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """A recorded session: its header and chunks."""

    name: str
    cols: int
    rows: int
    chunks: tuple[tuple[int, bytes], ...]

    @property
    def data(self) -> bytes:
        return b"".join(d for _, d in self.chunks)


def load(path: Path) -> Capture:
    raw = gzip.decompress(path.read_bytes())
    nl = raw.index(b"\n")
    head = json.loads(raw[:nl])
    pos, chunks = nl + 1, []
    while pos < len(raw):
        ms, n = _CHUNK.unpack_from(raw, pos)
        pos += _CHUNK.size
        chunks.append((ms, raw[pos : pos + n]))
        pos += n
    return Capture(head["name"], head["cols"], head["rows"], tuple(chunks))


def available() -> list[Path]:
    return sorted(CAPTURE_DIR.glob("*.cap.gz"))


@dataclass
class Frame:
    """One frame of a replay: a copy of the pixels, the damaged rects, and the colour hint."""

    pixels: np.ndarray
    rects: list[Rect]
    cell_fg: np.ndarray
    cell_bg: np.ndarray
    cell_w: int
    cell_h: int

    def palette_hint(self, rect: Rect) -> np.ndarray:
        """Sorted fg/bg colours of the cells under ``rect`` (as the server's Snapshot gives)."""
        c0, c1 = rect.x // self.cell_w, -(-rect.right // self.cell_w)
        r0, r1 = rect.y // self.cell_h, -(-rect.bottom // self.cell_h)
        both = np.concatenate(
            (self.cell_fg[r0:r1, c0:c1].ravel(), self.cell_bg[r0:r1, c0:c1].ravel())
        )
        return np.unique(both)

    @property
    def full(self) -> Rect:
        return Rect(0, 0, self.pixels.shape[1], self.pixels.shape[0])

    @property
    def ink(self) -> int:
        """Pixels not of the most common colour (how much there is to see)."""
        _, counts = np.unique(self.pixels, return_counts=True)
        return int(self.pixels.size - counts.max())


class Replayer:
    """An emulator and renderer fed with bytes, producing frames like the server's."""

    def __init__(self, cols: int, rows: int, font_size: int = 15) -> None:
        from vncterm.render.font import CellFont
        from vncterm.render.renderer import TerminalRenderer
        from vncterm.terminal.emulator import Emulator

        self.emu = Emulator(cols, rows)
        self.ren = TerminalRenderer(CellFont(font_size), cols, rows)
        # Scrolls are redrawn, not turned into CopyRects: this measures the encoders (with the
        # server's scroll detection a scroll costs a CopyRect plus the new line's damage).
        if hasattr(self.ren, "detect_scroll"):
            self.ren.detect_scroll = False

    def feed(self, data: bytes) -> Frame | None:
        """Feed ``data``; the new frame and its damage (merged as the server's DamageGrid
        does), or None when nothing visible changed."""
        from vncterm.server.damage import DamageGrid

        emu, ren = self.emu, self.ren
        emu.feed(data)
        emu.take_replies()
        spans = ren.refresh(emu.screen, emu.cursor_visible)
        if not spans:
            return None
        grid = DamageGrid(ren.width, ren.height, ren.cell_w, ren.cell_h)
        for s in spans:
            grid.add(ren.span_rect(s))
        rects = grid.take(Rect(0, 0, ren.width, ren.height))
        return Frame(
            ren.pixels.copy(), rects, ren.cell_fg.copy(), ren.cell_bg.copy(), ren.cell_w, ren.cell_h
        )


def replay(cap: Capture, *, per_chunk: bool = True, font_size: int = 15) -> Iterator[Frame]:
    """Frames of ``cap``: after every chunk (``per_chunk``) or only the final screen."""
    rp = Replayer(cap.cols, cap.rows, font_size)
    chunks = cap.chunks if per_chunk else ((0, cap.data),)
    for _ms, data in chunks:
        frame = rp.feed(data)
        if frame is not None:
            yield frame


def busiest(cap: Capture) -> tuple[Replayer, Frame]:
    """The replayer stopped at the frame with the most ink (vim before it quits, the end of
    a listing), and that frame."""
    inks = [(f.ink, i) for i, f in enumerate(replay(cap))]
    best = max(inks)[1]
    rp = Replayer(cap.cols, cap.rows)
    i = -1
    for _ms, data in cap.chunks:
        frame = rp.feed(data)
        if frame is not None:
            i += 1
            if i == best:
                return rp, frame
    raise ValueError(f"{cap.name}: no frames")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="record scenarios into tests/captures/")
    rec.add_argument("names", nargs="*", help=f"scenarios (default all: {', '.join(SCENARIOS)})")
    sub.add_parser("list", help="list stored captures")
    args = ap.parse_args()
    if args.cmd == "record":
        for name in args.names or list(SCENARIOS):
            for cols, rows in GEOMETRIES:
                p = record(SCENARIOS[name], cols, rows)
                print(f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes")
    else:
        for p in available():
            cap = load(p)
            print(f"{p.name}: {len(cap.chunks)} chunks, {len(cap.data)} bytes")


if __name__ == "__main__":
    main()
