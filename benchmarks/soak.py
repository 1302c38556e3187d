"""Soak: many viewers while the console floods; some viewers never read.

    python benchmarks/soak.py                      # 50 viewers (10 never read), 60 s
    python benchmarks/soak.py --viewers 10 --stuck 3 --duration 5 --stuck-timeout 1

vncterm runs as a subprocess (``--log`` to a file, ``--stuck-timeout``) on a console that floods
for ``--duration`` seconds (coloured lines at full speed, the pty in raw mode so the log must hold
exactly the bytes written) and then exits. Reading viewers keep asking for incremental updates
(Raw, 8 bpp) and time every frame; the others send requests but never read, so their send
buffers fill and the server has to drop them. Reported: frames per reading viewer and the longest
gap between two of its frames, when each stuck viewer was dropped, the server's RSS over time,
and whether the console log matches what the flood wrote (length and SHA-256).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: 8 bpp true colour BGR233: a quarter of the bytes of 32 bpp.
BGR233 = struct.pack(">BBBBHHHBBB3x", 8, 8, 0, 1, 7, 7, 3, 0, 3, 6)

FLOOD = r"""
import hashlib, os, sys, time, tty
tty.setraw(1)
deadline = time.monotonic() + float(sys.argv[1])
h = hashlib.sha256(); total = 0; i = 0
while time.monotonic() < deadline:
    chunk = "".join(f"\x1b[3{(i + k) % 8}m{i + k:09d} " + "=" * 50 + f" {k}\x1b[0m\r\n"
                    for k in range(20)).encode()
    i += 20
    os.write(1, chunk)
    h.update(chunk); total += len(chunk)
with open(sys.argv[2], "w") as f:
    f.write(f"{total} {h.hexdigest()}\n")
"""


@dataclass
class ViewerStats:
    frames: list[float] = field(default_factory=list)
    bytes_read: int = 0
    dropped_at: float | None = None
    error: str | None = None


async def handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, small: bool = True
) -> tuple[int, int]:
    """None security, shared; 8 bpp Raw when ``small`` (else the server's 32 bpp)."""
    assert await reader.readexactly(12) == b"RFB 003.008\n"
    writer.write(b"RFB 003.008\n")
    n = (await reader.readexactly(1))[0]
    types = await reader.readexactly(n)
    assert 1 in types, types
    writer.write(b"\x01")
    assert await reader.readexactly(4) == bytes(4)
    writer.write(b"\x01")
    w, h = struct.unpack(">HH", await reader.readexactly(4))
    await reader.readexactly(16)
    (name_len,) = struct.unpack(">I", await reader.readexactly(4))
    await reader.readexactly(name_len)
    if small:
        writer.write(b"\x00\x00\x00\x00" + BGR233)
    writer.write(struct.pack(">BxHi", 2, 1, 0))
    return w, h


async def reading_viewer(port: int, stats: ViewerStats, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    try:
        w, h = await handshake(reader, writer)
        request = struct.pack(">BBHHHH", 3, 1, 0, 0, w, h)
        writer.write(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
        while not stop.is_set():
            kind = (await reader.readexactly(1))[0]
            if kind == 0:
                (count,) = struct.unpack(">xH", await reader.readexactly(3))
                for _ in range(count):
                    _, _, rw, rh, enc = struct.unpack(">HHHHi", await reader.readexactly(12))
                    if enc == 0:
                        await reader.readexactly(rw * rh)
                        stats.bytes_read += rw * rh
                stats.frames.append(time.monotonic())
                writer.write(request)
            elif kind == 2:
                pass
            elif kind == 3:
                (n,) = struct.unpack(">xxxI", await reader.readexactly(7))
                await reader.readexactly(n)
            else:
                raise AssertionError(f"unexpected message {kind}")
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        if not stop.is_set():
            stats.error = f"{type(e).__name__}: {e}"
    finally:
        writer.close()


async def stuck_viewer(port: int, stats: ViewerStats, stop: asyncio.Event, t0: float) -> None:
    """Handshakes, then keeps requesting full 32 bpp updates and never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        w, h = await handshake(reader, writer, small=False)
        while not stop.is_set():
            writer.write(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
            await writer.drain()
            await asyncio.sleep(0.05)
            if writer.is_closing() or reader.at_eof():
                break
            if writer.transport.get_extra_info("socket") is None:
                break
        if not stop.is_set():
            stats.dropped_at = time.monotonic() - t0
    except (ConnectionError, OSError):
        stats.dropped_at = time.monotonic() - t0
    finally:
        writer.close()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def soak(
    viewers: int, stuck: int, duration: float, stuck_timeout: float, workdir: Path
) -> dict[str, Any]:
    flood = workdir / "flood.py"
    flood.write_text(FLOOD)
    log_path, truth = workdir / "console.log", workdir / "flood.sum"
    cmd = [
        sys.executable,
        "-m",
        "vncterm",
        "-v",
        "--listen",
        "127.0.0.1:0",
        "--log",
        str(log_path),
        "--stuck-timeout",
        str(stuck_timeout),
        "--max-viewers",
        str(viewers + 5),
        "--",
        sys.executable,
        str(flood),
        str(duration),
        str(truth),
    ]
    stderr_path = workdir / "server.err"
    err = open(stderr_path, "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = 0
        deadline = time.monotonic() + 20
        while not port:
            m = re.search(rb"listening on \('127\.0\.0\.1', (\d+)\)", stderr_path.read_bytes())
            if m:
                port = int(m.group(1))
            elif time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("vncterm did not start:\n" + stderr_path.read_text())
            await asyncio.sleep(0.05)
        t0 = time.monotonic()
        stop = asyncio.Event()
        readers = [ViewerStats() for _ in range(viewers - stuck)]
        stuck_stats = [ViewerStats() for _ in range(stuck)]
        tasks = [asyncio.create_task(reading_viewer(port, s, stop)) for s in readers]
        tasks += [asyncio.create_task(stuck_viewer(port, s, stop, t0)) for s in stuck_stats]
        rss: list[tuple[float, int]] = []
        while proc.poll() is None and time.monotonic() - t0 < duration:
            with contextlib.suppress(OSError):
                rss.append((time.monotonic() - t0, rss_kib(proc.pid)))
            await asyncio.sleep(0.5)
        flood_end = time.monotonic()
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        err.close()
    total, digest = truth.read_text().split()
    logged = log_path.read_bytes()
    gaps, firsts = [], []
    for s in readers:
        times = [t for t in s.frames if t <= flood_end] or [flood_end]
        firsts.append(times[0] - t0)
        times.append(flood_end)
        gaps.append(max((b - a, a - t0) for a, b in itertools.pairwise(times)))
    server_log = stderr_path.read_text(errors="replace")
    warmup = [kib for t, kib in rss if t < min(5.0, duration / 3)] or [0]
    return {
        "viewers": viewers,
        "stuck": stuck,
        "duration_s": duration,
        "stuck_timeout_s": stuck_timeout,
        "exit_status": status,
        "frames_per_reader": {
            "min": min(len(s.frames) for s in readers),
            "max": max(len(s.frames) for s in readers),
            "mean": sum(len(s.frames) for s in readers) / len(readers),
        },
        "reader_first_frame_s": round(max(firsts), 3),
        "reader_max_gap_s": round(max(gaps)[0], 3),
        "reader_max_gap_at_s": round(max(gaps)[1], 2),
        "reader_gaps_over_1s": sum(g > 1.0 for g, _ in gaps),
        "reader_errors": [s.error for s in readers if s.error],
        "reader_mib": round(sum(s.bytes_read for s in readers) / 2**20, 1),
        "stuck_dropped_at_s": [
            None if s.dropped_at is None else round(s.dropped_at, 2) for s in stuck_stats
        ],
        "server_drops_logged": server_log.count("send buffer"),
        "rss_mib": {
            "after_warmup": round(max(warmup) / 1024, 1),
            "max": round(max(k for _, k in rss) / 1024, 1) if rss else None,
            "last": round(rss[-1][1] / 1024, 1) if rss else None,
        },
        "log_bytes": len(logged),
        "flood_bytes": int(total),
        "log_matches": len(logged) == int(total) and hashlib.sha256(logged).hexdigest() == digest,
        "flood_mib_per_s": round(int(total) / 2**20 / duration, 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--viewers", type=int, default=50)
    p.add_argument("--stuck", type=int, default=10, help="viewers that never read")
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--stuck-timeout", type=float, default=10.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="vncterm-soak-") as d:
        result = asyncio.run(
            soak(args.viewers, args.stuck, args.duration, args.stuck_timeout, Path(d))
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
