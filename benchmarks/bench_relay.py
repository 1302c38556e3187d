#!/usr/bin/env python3
"""The pty relay, one tree against another: the plain-text flood with one viewer (run.py's
figure), runs interleaved A, B, A, B... so that the machine's drift hits both alike, and the
memory (PSS) of the relay process(es) for 1 and for 50 pty consoles.

    python benchmarks/bench_relay.py --tree /work/main --tree . --runs 5 --mb 20

Each tree is put on PYTHONPATH of the vncterm it runs. Prints the median and the range of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from rfbprobe import COPYRECT, TIGHT  # noqa: E402
from run import flood, plain_text  # noqa: E402

#: Run with a tree on PYTHONPATH: starts N pty consoles (``sleep``) in one event loop and
#: prints the PSS in KiB of every relay process it has (children running ptyrelay.py).
PSS = """\
import asyncio, json, os, sys
from pathlib import Path
from vncterm.console.spawn import SpawnConsole

def relays():
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) != me:
                continue
            if b"ptyrelay.py" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    yield int(line.split()[1])
        except (OSError, ValueError):
            pass

async def main(n):
    consoles = [SpawnConsole(["sleep", "60"], 80, 25) for _ in range(n)]
    for c in consoles:
        await c.start(lambda data: None, lambda status: None)
    await asyncio.sleep(1.0)
    pss = list(relays())
    for c in consoles:
        c.close()
    print(json.dumps(pss))

asyncio.run(main(int(sys.argv[1])))
"""

#: Run with a tree on PYTHONPATH: ``cat`` of the file argv[1] on a pty console whose output is
#: only counted (no terminal); prints MB/s and the CPU seconds of the reaped children (the relay
#: and cat).
READ_ONLY = """\
import asyncio, os, sys, time
from vncterm.console.spawn import SpawnConsole

async def main(path):
    size = os.path.getsize(path)
    got = [0]
    console = SpawnConsole(["cat", path], 80, 25)
    t0 = time.perf_counter()
    await console.start(lambda data: got.__setitem__(0, got[0] + len(data)), lambda s: None)
    await console.wait_closed()
    secs = time.perf_counter() - t0
    console.close()
    assert got[0] >= size, got
    t = os.times()
    print(size / secs / 1e6, t.children_user + t.children_system)

asyncio.run(main(sys.argv[1]))
"""


def use_tree(tree: str) -> None:
    """Make the next vncterm started come from ``tree`` (``python -m`` puts the working
    folder first on sys.path, before PYTHONPATH)."""
    os.environ["PYTHONPATH"] = tree
    os.chdir(tree)
    where = subprocess.run(
        [sys.executable, "-c", "import vncterm; print(vncterm.__file__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(tree + "/"), f"vncterm comes from {where}, not {tree}"


def relay_pss(tree: str, consoles: int) -> list[int]:
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run(
        [sys.executable, "-c", PSS, str(consoles)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=tree,
    ).stdout
    return list(json.loads(out))


def read_only(tree: str, path: Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run(
        [sys.executable, "-c", READ_ONLY, str(path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=tree,
    ).stdout.split()
    return float(out[0]), float(out[1])


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} (range {min(values):.2f}-{max(values):.2f},"
        f" runs {', '.join(f'{v:.2f}' for v in values)})"
    )


async def floods(trees: list[str], runs: int, mb: int) -> dict[str, list[float]]:
    data = plain_text(mb * 1000 * 1000)
    rates: dict[str, list[float]] = {tree: [] for tree in trees}
    for i in range(runs):
        for tree in trees:
            use_tree(tree)
            rate = (await flood(data, 1, [TIGHT, COPYRECT]))["mb_per_s"]
            rates[tree].append(rate)
            print(f"run {i + 1} {tree}: {rate:.2f} MB/s", flush=True)
    os.chdir(HERE)
    return rates


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tree", action="append", required=True, help="a vncterm source tree")
    p.add_argument("--runs", type=int, default=5, help="flood runs per tree (default 5)")
    p.add_argument("--mb", type=int, default=20, help="flood size in MB (default 20)")
    p.add_argument("--no-flood", action="store_true", help="no flood through vncterm")
    args = p.parse_args()
    args.tree = [str(Path(tree).resolve()) for tree in args.tree]  # before any chdir
    if not args.no_flood:
        rates = asyncio.run(floods(args.tree, args.runs, args.mb))
        for tree, values in rates.items():
            print(f"flood {args.mb} MB, 1 viewer, {tree}: MB/s {summary(values)}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "data")
        src.write_bytes(plain_text(args.mb * 1000 * 1000))
        reads: dict[str, list[tuple[float, float]]] = {tree: [] for tree in args.tree}
        for _ in range(args.runs):
            for tree in args.tree:
                reads[tree].append(read_only(tree, src))
        for tree, pairs in reads.items():
            print(
                f"pty read alone, {args.mb} MB, no terminal, {tree}: MB/s"
                f" {summary([v[0] for v in pairs])}; CPU s of relay + cat"
                f" {summary([v[1] for v in pairs])}"
            )
    for tree in args.tree:
        for n in (1, 50):
            pss = relay_pss(tree, n)
            print(
                f"relay PSS, {n} pty consoles, {tree}: {len(pss)} relay process(es),"
                f" {sum(pss) / 1024:.1f} MiB in all ({', '.join(map(str, pss[:3]))}"
                f"{', ...' if len(pss) > 3 else ''} KiB)"
            )


if __name__ == "__main__":
    main()
