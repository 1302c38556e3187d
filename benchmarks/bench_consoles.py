#!/usr/bin/env python3
"""Many idle consoles: memory and CPU per console, all in one vncterm process against the
baseline of one vncterm process per console (issue 17, DESIGN.md "Many consoles in one
process").

    python benchmarks/bench_consoles.py                         # 200 consoles, 10 baseline, 60 s
    python benchmarks/bench_consoles.py --idle-seconds 10       # a quick run

Every console runs ``sleep 1000`` on a pty and has no viewer. Memory is PSS
(``/proc/PID/smaps_rollup``) of every process vncterm runs for the consoles (itself and its
pty relay), not of the ``sleep``s: per console, and per console added after the first (the
process's own ~30 MB of Python and libraries is paid once). Idle CPU is utime + stime of the
same processes (``/proc/PID/stat``) over ``--idle-seconds``, after they settled. The many
consoles run in one ``vncterm --config FILE`` (one ``[console.NAME]`` table each, ports from
a ``port-range``) when the tree has the config file, else in a ``python -c`` script
(:data:`MANY`: one ``server.app.Server`` per console in one event loop); either way this
benchmark's own process is never measured. The baseline is ``python -m vncterm --listen
127.0.0.1:0 -- sleep 1000`` started ``--separate`` times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Run with a tree on PYTHONPATH: argv[1] idle ``sleep`` consoles in one process, each with its
#: own listener; idles until its stdin closes.
MANY = """\
import asyncio, sys
from vncterm.config import Config, ListenAddress
from vncterm.server.app import Server

async def main(n):
    servers = []
    for _ in range(n):
        server = Server(Config(command=["sleep", "1000"], listen=[ListenAddress("127.0.0.1", 0)]))
        await server.start()
        servers.append(server)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), done.set)
    await done.wait()
    for server in servers:
        server.stop()

asyncio.run(main(int(sys.argv[1])))
"""

#: Seconds the processes are left to settle before anything is measured.
SETTLE = 2.0
_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def vncterm_processes(root: int) -> list[int]:
    """``root`` and the processes it started for its consoles, not the console programs."""
    return [root] + [c for c in _children(root) if b"ptyrelay.py" in _cmdline(c)]


def pss_kib(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of ``pids`` (proc(5): fields 14 and 15 of /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICK


def _env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree))


def _wait_for_consoles(procs: list[subprocess.Popen[bytes]], count: int, timeout: float) -> None:
    """Until each process runs its ``count`` console programs (its listeners come first)."""
    deadline = time.monotonic() + timeout
    for proc in procs:
        while sum(b"sleep" in _cmdline(c) for c in _children(proc.pid)) < count:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vncterm {proc.pid} did not start its consoles")
            time.sleep(0.05)


def _idle_cpu(roots: list[int], seconds: float) -> float:
    pids = [p for root in roots for p in vncterm_processes(root)]
    before = cpu_seconds(pids)
    time.sleep(seconds)
    return cpu_seconds(pids) - before


def config_file(folder: Path, consoles: int) -> Path:
    """A ``--config`` file of ``consoles`` idle ``sleep`` consoles, its state in ``folder``."""
    lines = [
        "[vncterm]",
        'port-range = "20000-20999"',
        f'state-dir = "{folder / "state"}"',
    ]
    for i in range(consoles):
        lines += ["", f"[console.c{i:03d}]", 'command = ["sleep", "1000"]']
    path = folder / "consoles.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _start_many(tree: Path, consoles: int, folder: Path) -> subprocess.Popen[bytes]:
    if (tree / "vncterm" / "config_file.py").exists():
        cmd = ["-m", "vncterm", "--config", str(config_file(folder, consoles))]
    else:
        cmd = ["-c", MANY, str(consoles)]
    return subprocess.Popen(
        [sys.executable, *cmd],
        env=_env(tree),
        cwd=tree,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def one_process(tree: Path, consoles: int, idle_seconds: float) -> dict[str, float]:
    """``consoles`` idle consoles in one process: PSS and idle CPU, in all."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = _start_many(tree, consoles, Path(tmp))
        try:
            _wait_for_consoles([proc], consoles, 60)
            start_s = time.perf_counter() - t0
            time.sleep(SETTLE)
            pids = vncterm_processes(proc.pid)
            pss = pss_kib(pids)
            relay = pss_kib(pids[1:])
            cpu = _idle_cpu([proc.pid], idle_seconds) if idle_seconds > 0 else 0.0
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"pss_kib": pss, "relay_pss_kib": relay, "cpu_s": cpu, "start_s": start_s}


def separate_processes(tree: Path, count: int, idle_seconds: float) -> dict[str, float]:
    """The baseline: ``count`` vncterm processes of one console each, PSS and CPU in all."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "vncterm", "--listen", "127.0.0.1:0", "--", "sleep", "1000"],
            env=_env(tree),
            cwd=tree,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        _wait_for_consoles(procs, 1, 60)
        time.sleep(SETTLE)
        pss = pss_kib(p for proc in procs for p in vncterm_processes(proc.pid))
        cpu = _idle_cpu([p.pid for p in procs], idle_seconds) if idle_seconds > 0 else 0.0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"pss_kib": pss, "cpu_s": cpu}


def measure(
    tree: Path = ROOT, consoles: int = 200, separate: int = 10, idle_seconds: float = 60.0
) -> dict[str, float]:
    """The figures, each beside its baseline (run.py's ``consoles`` entry)."""
    many = one_process(tree, consoles, idle_seconds)
    one = one_process(tree, 1, 0.0)
    base = separate_processes(tree, separate, idle_seconds)
    seconds = max(idle_seconds, 1e-9)
    return {
        "consoles": consoles,
        "separate": separate,
        "idle_seconds": idle_seconds,
        "start_s": many["start_s"],
        "pss_total_mb": many["pss_kib"] / 1024,
        "relay_pss_mb": many["relay_pss_kib"] / 1024,
        "pss_per_console_kb": many["pss_kib"] * 1.024 / consoles,
        "pss_per_added_console_kb": (many["pss_kib"] - one["pss_kib"]) * 1.024 / (consoles - 1),
        "baseline_pss_per_console_kb": base["pss_kib"] * 1.024 / separate,
        "cpu_ms": many["cpu_s"] * 1000,
        "cpu_ms_per_console_s": many["cpu_s"] * 1000 / consoles / seconds,
        "baseline_cpu_ms_per_console_s": base["cpu_s"] * 1000 / separate / seconds,
    }


def rows(r: dict[str, float]) -> list[tuple[str, str, str, str]]:
    """run.py's table rows: figure, vncterm, baseline, ratio."""
    n, k = int(r["consoles"]), int(r["separate"])
    base = r["baseline_pss_per_console_kb"]
    out = [
        (
            f"PSS per idle console, {n} in one process (all in, relay included)",
            f"{r['pss_per_console_kb']:.0f} KB",
            f"one process per console ({k}): {base:.0f} KB",
            f"1/{base / r['pss_per_console_kb']:.0f}",
        ),
        (
            f"PSS per idle console added to one process (1 -> {n})",
            f"{r['pss_per_added_console_kb']:.0f} KB",
            f"{base:.0f} KB",
            f"1/{base / max(r['pss_per_added_console_kb'], 1e-3):.0f}",
        ),
    ]
    cpu, base_cpu = r["cpu_ms_per_console_s"], r["baseline_cpu_ms_per_console_s"]
    seconds = r["idle_seconds"]
    if seconds > 0:
        tick = 1000 / _TICK  # ms: what /proc counts in

        def shown(value: float, processes: int) -> str:
            floor = tick / processes / seconds
            return f"{value:.4f} ms/s" if value > 0 else f"< {floor:.4f} ms/s (no tick)"

        ratio = f"{cpu / base_cpu:.2f}x" if cpu > 0 and base_cpu > 0 else ""
        out.append(
            (
                f"idle CPU per console, {n} in one process ({seconds:.0f} s)",
                shown(cpu, n),
                f"one process per console: {shown(base_cpu, k)}",
                ratio,
            )
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tree", type=Path, default=ROOT, help="the vncterm source tree to measure")
    p.add_argument("--consoles", type=int, default=200, help="consoles in one process (200)")
    p.add_argument("--separate", type=int, default=10, help="baseline processes (10)")
    p.add_argument("--idle-seconds", type=float, default=60.0, help="idle CPU window (60)")
    args = p.parse_args()
    r = measure(args.tree.resolve(), args.consoles, args.separate, args.idle_seconds)
    print(json.dumps(r, indent=2))
    for row in rows(r):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
