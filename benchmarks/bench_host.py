#!/usr/bin/env python3
"""Many consoles in one vncterm process (``vncterm --config FILE``): isolation, aggregate
throughput and how fast an added console serves its first frame, each beside its baseline from
the same run. `benchmarks/run.py` runs it too.

    python benchmarks/bench_host.py            # ~1 minute; prints a table, writes out/host.json
    python benchmarks/bench_host.py --flood-mb 20 --samples 300

- Isolation: key-to-pixels on a quiet console of the host (p50/p99) while another console of
  the same process floods (``cat`` of real text, again and again), against the same console
  with no flood.
- Aggregate: N consoles flooding at once (each its own ``cat``; the end is when each terminal
  has parsed its last byte) against one console alone.
- First frame: a console added to the file, SIGHUP, until its port answers with a first
  framebuffer update; against a new ``vncterm`` process for one console (the one-process-per-
  console way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from rfbprobe import COPYRECT, RAW, TIGHT, Probe  # noqa: E402
from run import (  # noqa: E402
    OUT,
    RETURN,
    after_parsed_command,
    free_port,
    key_latency,
    plain_text,
    progress,
    wait_written,
)


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


class Host:
    """``vncterm --config FILE`` with the consoles given as ``name -> shell script``, each on a
    port of its own (chosen here, so that nothing has to be looked up)."""

    def __init__(self, tmp: str, consoles: dict[str, str]) -> None:
        self.tmp = Path(tmp)
        self.file = self.tmp / "vncterm.toml"
        self.ports: dict[str, int] = {}
        self.consoles: dict[str, str] = {}
        self.proc: asyncio.subprocess.Process | None = None
        for name, script in consoles.items():
            self.add(name, script)

    def add(self, name: str, script: str) -> int:
        self.ports[name] = free_port()
        self.consoles[name] = script
        self._write()
        return self.ports[name]

    def _write(self) -> None:
        lines = ["[vncterm]", f"state-dir = {json.dumps(str(self.tmp / 'state'))}", ""]
        for name, script in self.consoles.items():
            lines += [
                f"[console.{name}]",
                f"command = {toml_list(['sh', '-c', script])}",
                f'listen = "127.0.0.1:{self.ports[name]}"',
                "",
            ]
        self.file.write_text("\n".join(lines))

    async def __aenter__(self) -> Host:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vncterm",
            "--config",
            str(self.file),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for port in self.ports.values():
            await wait_port(port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    def reload(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)


async def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.002)


async def first_frame(port: int, since: float, timeout: float = 30.0) -> float:
    """Milliseconds from ``since`` (perf_counter) to the first update of a viewer that connects
    as soon as ``port`` answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe = await Probe.connect(port, [TIGHT, COPYRECT])
            break
        except (OSError, asyncio.IncompleteReadError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.002)
    task = asyncio.ensure_future(probe.run(keep_requesting=False))
    await asyncio.wait_for(probe.got_update.wait(), timeout)
    ms = (time.perf_counter() - since) * 1000
    await probe.close()
    task.cancel()
    return ms


async def isolation(tmp: str, data: Path, samples: int) -> dict[str, dict[str, float]]:
    """Key-to-pixels on a quiet console, without and with a flood on its neighbour."""
    flood = f"read x; while :; do cat {data}; done"
    async with Host(tmp, {"quiet": "PS1='$ ' exec sh -i", "flood": flood}) as host:
        quiet = await key_latency(host.ports["quiet"], samples, [TIGHT, COPYRECT])
        trigger = await Probe.connect(host.ports["flood"], [RAW], request=False)
        watcher = await Probe.connect(host.ports["flood"], [TIGHT, COPYRECT])
        tasks = [asyncio.ensure_future(p.run()) for p in (trigger, watcher)]
        trigger.key(RETURN)
        await asyncio.sleep(0.5)
        flooded = await key_latency(host.ports["quiet"], samples, [TIGHT, COPYRECT])
        for p in (trigger, watcher):
            await p.close()
        for t in tasks:
            t.cancel()
    return {"quiet": quiet, "neighbour_flooding": flooded}


async def aggregate(tmp: str, data: Path, consoles: int) -> dict[str, float]:
    """MB/s of every console's flood together, ``consoles`` at once."""
    stamps = {f"c{i}": (Path(tmp, f"t0-{i}"), Path(tmp, f"t1-{i}")) for i in range(consoles)}
    scripts = {
        name: f"read x; date +%s.%N > {t0}; cat {data}; {after_parsed_command(tmp, t1)}; "
        "exec sleep 1000"
        for name, (t0, t1) in stamps.items()
    }
    async with Host(tmp, scripts) as host:
        triggers = [await Probe.connect(host.ports[n], [RAW], request=False) for n in scripts]
        tasks = [asyncio.ensure_future(p.run()) for p in triggers]
        for p in triggers:
            p.key(RETURN)
        for _, t1 in stamps.values():
            await wait_written(t1)
        for p in triggers:
            await p.close()
        for t in tasks:
            t.cancel()
    start = min(float(t0.read_text()) for t0, _ in stamps.values())
    end = max(float(t1.read_text()) for _, t1 in stamps.values())
    total = data.stat().st_size * consoles
    for t0, t1 in stamps.values():
        t0.unlink()
        t1.unlink()
    return {"consoles": consoles, "seconds": end - start, "mb_per_s": total / (end - start) / 1e6}


async def added_console(tmp: str, runs: int) -> dict[str, list[float]]:
    """First frame of a console added with SIGHUP, and of a new vncterm process."""
    added: list[float] = []
    fresh: list[float] = []
    async with Host(tmp, {"first": "exec sleep 1000"}) as host:
        for i in range(runs):
            port = host.add(f"added{i}", "echo ready; exec sleep 1000")
            t0 = time.perf_counter()
            host.reload()
            added.append(await first_frame(port, t0))
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vncterm",
            "--listen",
            f"127.0.0.1:{port}",
            "--",
            "sh",
            "-c",
            "echo ready; exec sleep 1000",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        fresh.append(await first_frame(port, t0))
        proc.terminate()
        await proc.wait()
    return {"sighup_ms": added, "new_process_ms": fresh}


def rows(r: dict[str, object]) -> list[tuple[str, str, str, str]]:
    """Table rows (figure, this run, baseline from the same run, ratio), for run.py too."""
    iso, agg1, aggn, first = r["isolation"], r["aggregate_1"], r["aggregate_n"], r["first_frame"]
    assert isinstance(iso, dict) and isinstance(agg1, dict) and isinstance(aggn, dict)
    assert isinstance(first, dict)
    q, f = iso["quiet"], iso["neighbour_flooding"]
    added = statistics.median(first["sighup_ms"])
    fresh = statistics.median(first["new_process_ms"])
    return [
        (
            "key-to-pixels p50 / p99, another console of the process flooding",
            f"{f['p50_ms']:.1f} / {f['p99_ms']:.1f} ms",
            f"no flood: {q['p50_ms']:.1f} / {q['p99_ms']:.1f} ms",
            f"{f['p99_ms'] / q['p99_ms']:.1f}x",
        ),
        (
            f"{aggn['consoles']} consoles of one process flooding at once, together",
            f"{aggn['mb_per_s']:.1f} MB/s",
            f"1 console alone: {agg1['mb_per_s']:.1f} MB/s",
            f"{aggn['mb_per_s'] / agg1['mb_per_s']:.2f}x",
        ),
        (
            "a console added by SIGHUP to its first frame (median)",
            f"{added:.0f} ms",
            f"a new vncterm process: {fresh:.0f} ms",
            f"1/{fresh / added:.0f}",
        ),
    ]


async def measure(flood_mb: int, samples: int, consoles: int, runs: int) -> dict[str, object]:
    """Every figure of this file, ``flood_mb`` MB per flood."""
    r: dict[str, object] = {"flood_mb": flood_mb}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "text")
        data.write_bytes(plain_text(flood_mb * 1000 * 1000))
        progress(f"host: {samples} keys on a quiet console, then beside a flooding one")
        r["isolation"] = await isolation(tmp, data, samples)
        progress(f"host: 1 console flooding {flood_mb} MB, then {consoles} at once")
        r["aggregate_1"] = await aggregate(tmp, data, 1)
        r["aggregate_n"] = await aggregate(tmp, data, consoles)
        progress(f"host: first frame of {runs} consoles added by SIGHUP, of {runs} new processes")
        r["first_frame"] = await added_console(tmp, runs)
    return r


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--flood-mb", type=int, default=20, help="MB each flood cats (default 20)")
    p.add_argument("--samples", type=int, default=200, help="keys per latency figure (200)")
    p.add_argument("--consoles", type=int, default=4, help="consoles flooding at once (4)")
    p.add_argument("--runs", type=int, default=5, help="consoles added, processes started (5)")
    args = p.parse_args()
    results = asyncio.run(measure(args.flood_mb, args.samples, args.consoles, args.runs))
    results["date"] = time.strftime("%Y-%m-%d")
    OUT.mkdir(exist_ok=True)
    (OUT / "host.json").write_text(json.dumps(results, indent=2))
    lines = ["| figure | vncterm | baseline (same run) | ratio |", "| --- | --- | --- | --- |"]
    print("\n".join(lines + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(results)]))


if __name__ == "__main__":
    main()
