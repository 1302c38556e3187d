#!/usr/bin/env python3
"""A proxied desktop: frames per second and key-to-pixels latency through vncterm, beside the
same figures straight to the desktop (TigerVNC's Xvnc), in the same run.

    python benchmarks/bench_proxy.py            # needs Xvnc, xterm (tigervnc-standalone-server)
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from peers.xvnc import XvncServer  # noqa: E402
from rfbprobe import COPYRECT, TIGHT, Probe  # noqa: E402
from run import Vncterm, key_latency, progress  # noqa: E402


async def fps(port: int, seconds: float = 4.0) -> float:
    probe = await Probe.connect(port, [TIGHT, COPYRECT])
    task = asyncio.ensure_future(probe.run())
    await asyncio.wait_for(probe.got_update.wait(), 20)
    start, n0 = time.time(), probe.updates
    await asyncio.sleep(seconds)
    rate = (probe.updates - n0) / (time.time() - start)
    await probe.close()
    task.cancel()
    return rate


async def main() -> None:
    rows = []
    with XvncServer((640, 400)) as x:
        progress("frames per second: a desktop redrawing constantly")
        x.spawn(
            "xterm", "-geometry", "80x24+0+0", "-e", "sh", "-c", "while :; do date +%s.%N; done"
        )
        await asyncio.sleep(1.5)
        async with Vncterm("sleep 600", extra=["--desktop", f"127.0.0.1:{x.port}"]) as vt:
            await asyncio.sleep(1.5)
            direct, proxied = await fps(x.port), await fps(vt.port)
        rows.append(
            (
                "frames/s, busy desktop",
                f"{proxied:.1f}",
                f"{direct:.1f}",
                f"{proxied / direct:.2f}x",
            )
        )
    with XvncServer((640, 400)) as x:
        progress("key-to-pixels latency: typing into an xterm running cat")
        x.spawn("xterm", "-geometry", "80x24+0+0", "-e", "cat")
        await asyncio.sleep(1.5)
        async with Vncterm("sleep 600", extra=["--desktop", f"127.0.0.1:{x.port}"]) as vt:
            await asyncio.sleep(1.5)
            direct_lat = await key_latency(x.port, 100, [TIGHT, COPYRECT], pointer=(200, 100))
            proxied_lat = await key_latency(vt.port, 100, [TIGHT, COPYRECT], pointer=(200, 100))
            d50, d99 = direct_lat["p50_ms"], direct_lat["p99_ms"]
            p50, p99 = proxied_lat["p50_ms"], proxied_lat["p99_ms"]
        rows.append(("key-to-pixels p50", f"{p50:.2f} ms", f"{d50:.2f} ms", f"{p50 / d50:.2f}x"))
        rows.append(("key-to-pixels p99", f"{p99:.2f} ms", f"{d99:.2f} ms", f"{p99 / d99:.2f}x"))
    lines = ["| figure | through vncterm | straight to Xvnc | ratio |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "proxy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
