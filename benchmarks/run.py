#!/usr/bin/env python3
"""The vncterm benchmark suite: one command, a Markdown table and a PNG plot.

    python benchmarks/run.py            # ~6 minutes; writes benchmarks/out/results.{md,json,png}
    python benchmarks/run.py --idle-seconds 10   # the idle-consoles CPU window shorter
    python benchmarks/run.py --full     # the 20 MB flood and more latency samples

Each flood runs ``--repeat`` times (3); the table gives the median and, in brackets, the range.

Every figure stands beside a baseline measured in the same run: stock pyte and vncterm's own
terminal model without its fast paths parsing the same bytes, a bare reader of the same pty,
Raw encoding, CopyRect off. vncterm runs as a real process on loopback; the viewers are
measuring RFB clients (``rfbprobe.py``). Workloads: plain text, ``ls --color -lR``, CJK text,
and recorded vim, top, htop and gcc sessions (``tests/captures/``). Timings are figures, not
assertions: run on an idle machine for stable numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import bench_consoles  # noqa: E402
import pyte  # noqa: E402
from rfbprobe import COPYRECT, RAW, TIGHT, ZRLE, Probe  # noqa: E402

OUT = HERE / "out"
RETURN = 0xFF0D
#: Recorded sessions (tests/captures) measured for bytes on the wire.
SESSIONS = ("vim", "top", "htop", "gcc-errors")


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- workloads ---------------------------------------------------------------------------------


def plain_text(size: int) -> bytes:
    """Real text: the system's licence texts and Python's own sources, repeated to ``size``."""
    parts: list[bytes] = []
    total = 0
    sources = sorted(Path("/usr/share/common-licenses").glob("*"))
    sources += sorted(Path(os.__file__).parent.glob("*.py"))
    while total < size:
        for path in sources:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            parts.append(data)
            total += len(data)
            if total >= size:
                break
    return b"".join(parts)[:size]


def as_pty(data: bytes) -> bytes:
    """What a pty hands the terminal for ``data`` (onlcr: every LF becomes CR LF)."""
    return data.replace(b"\n", b"\r\n")


def colour_listing(size: int) -> bytes:
    """Real colour output: ``ls --color=always -lR /usr/share`` (first ``size`` bytes)."""
    import subprocess

    out = subprocess.run(
        ["ls", "--color=always", "-lR", "/usr/share"],
        capture_output=True,
        env={**os.environ, "LS_COLORS": ""},
    ).stdout
    return (out * (size // max(1, len(out)) + 1))[:size]


def capture_bytes(name: str, cols: int, rows: int) -> bytes:
    """The bytes of a recorded session (tests/captures), as one stream."""
    path = ROOT / "tests" / "captures" / f"{name}-{cols}x{rows}.cap.gz"
    with gzip.open(path, "rb") as f:
        f.readline()  # JSON header
        data = f.read()
    out = bytearray()
    i = 0
    while i + 8 <= len(data):
        n = int.from_bytes(data[i + 4 : i + 8], "big")
        out += data[i + 8 : i + 8 + n]
        i += 8 + n
    return bytes(out)


def cjk_text(size: int) -> bytes:
    line = "日本語のテキスト 中文文本 한국어 텍스트 — wide characters, 表示テスト 0123456789\n"
    return (line * (size // len(line.encode()) + 1)).encode()[:size]


# -- running vncterm -------------------------------------------------------------------------


class Vncterm:
    """``vncterm -- sh -c SCRIPT`` on a free port."""

    def __init__(self, script: str, geometry: str = "80x25", extra: list[str] | None = None):
        self.port = free_port()
        self.args = [
            sys.executable,
            "-m",
            "vncterm",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--geometry",
            geometry,
            *(extra or []),
            "--",
            "sh",
            "-c",
            script,
        ]
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Vncterm:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        for _ in range(200):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return self
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("vncterm did not start")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")


#: Run on the console after a flood: asks the terminal for the cursor position (DSR 6) and
#: writes the time its answer arrived to the file argv[1].
AFTER_PARSED = """\
import os, sys, termios, time, tty
fd = os.open("/dev/tty", os.O_RDWR)
saved = termios.tcgetattr(fd)
tty.setraw(fd)
os.write(fd, b"\\x1b[6n")
reply = b""
while not reply.endswith(b"R"):
    reply += os.read(fd, 1)
now = time.time()
termios.tcsetattr(fd, termios.TCSADRAIN, saved)
with open(sys.argv[1], "w") as f:
    f.write(f"{now:.6f}\\n")
"""


def after_parsed_command(tmp: str, out: Path) -> str:
    """The shell command that writes to ``out`` the time vncterm has parsed all output before
    it (AFTER_PARSED, written into ``tmp``)."""
    stamp = Path(tmp, "stamp.py")
    stamp.write_text(AFTER_PARSED)
    return f"{sys.executable} -I -S {stamp} {out}"


async def wait_written(path: Path) -> None:
    """Until the script has written ``path``."""
    while not path.exists() or not path.read_text().strip():
        await asyncio.sleep(0.02)


async def watching(
    port: int, encodings: list[list[int]]
) -> tuple[Probe, list[Probe], list[asyncio.Task[None]]]:
    """One viewer per entry of ``encodings``, each shown its first frame, and a silent one whose
    Return starts the script (it begins with ``read``); the viewers' running tasks."""
    trigger = await Probe.connect(port, [RAW], request=False)
    probes = [await Probe.connect(port, enc) for enc in encodings]
    tasks = [asyncio.ensure_future(p.run()) for p in [*probes, trigger]]
    for p in probes:
        await asyncio.wait_for(p.got_update.wait(), 30)
    return trigger, probes, tasks


async def flood(
    data: bytes,
    viewers: int,
    encodings: list[int],
    geometry: str = "80x25",
    extra: list[str] | None = None,
) -> dict[str, float]:
    """Console throughput while ``viewers`` viewers watch ``data`` being cat'ed."""
    with tempfile.TemporaryDirectory() as tmp:
        src, t0f, t1f = Path(tmp, "data"), Path(tmp, "t0"), Path(tmp, "t1")
        src.write_bytes(data)
        # The end is when vncterm has parsed every byte, not when cat has written the last
        # one (the pty and vncterm's relay pipe hold over 1 MiB): a cursor position query after
        # the text is answered by the terminal only once it has parsed everything before it.
        script = (
            f"read x; date +%s.%N > {t0f}; cat {src}; {after_parsed_command(tmp, t1f)}; sleep 0.3"
        )
        async with Vncterm(script, geometry, extra) as vt:
            trigger, probes, tasks = await watching(vt.port, [encodings] * viewers)
            bytes_before = [p.bytes for p in probes]
            trigger.key(RETURN)
            await wait_written(t1f)
            rss = vt.peak_rss_mb()
            await asyncio.wait(tasks, timeout=30)
            t0, t1 = float(t0f.read_text()), float(t1f.read_text())
        secs = max(t1 - t0, 1e-6)
        result = {"seconds": secs, "mb_per_s": len(data) / secs / 1e6, "rss_mb": rss}
        if probes:
            p = probes[0]
            frames = [t for t in p.update_times if t0 <= t <= t1]
            result["fps"] = len(frames) / secs
            result["bytes"] = p.bytes - bytes_before[0]
            result["copyrects"] = p.copyrects
        return result


#: Plays a capture (tests/captures) on the console at its recorded pace, raw (the bytes
#: are what the program wrote, after the pty's own translation).
REPLAY = """\
import gzip, os, struct, sys, time, tty
tty.setraw(1)
raw = gzip.decompress(open(sys.argv[1], "rb").read())
pos = raw.index(b"\\n") + 1
start = time.monotonic()
while pos < len(raw):
    ms, n = struct.unpack_from(">II", raw, pos)
    time.sleep(max(0.0, start + ms / 1000 - time.monotonic()))
    os.write(1, raw[pos + 8:pos + 8 + n])
    pos += 8 + n
"""

#: Viewers that watch each recorded session together: the same frames, three encodings.
SESSION_VIEWERS = {
    "Tight + CopyRect": [TIGHT, COPYRECT],
    "ZRLE + CopyRect": [ZRLE, COPYRECT],
    "Raw": [RAW],
}


async def session_bytes(name: str, cols: int, rows: int) -> dict[str, dict[str, int]]:
    """A recorded program session (vim scrolling, top refreshing, ...) replayed on the console
    at its own pace, watched by one viewer per entry of SESSION_VIEWERS at once: bytes on the
    wire and frames for the whole session."""
    cap = ROOT / "tests" / "captures" / f"{name}-{cols}x{rows}.cap.gz"
    with tempfile.TemporaryDirectory() as tmp:
        replay, done = Path(tmp, "replay.py"), Path(tmp, "done")
        replay.write_text(REPLAY)
        script = (
            f"stty -echo; read x; {sys.executable} -I -S {replay} {cap}; "
            f"{after_parsed_command(tmp, done)}; sleep 30"
        )
        async with Vncterm(script, f"{cols}x{rows}") as vt:
            trigger, watchers, tasks = await watching(vt.port, list(SESSION_VIEWERS.values()))
            probes = dict(zip(SESSION_VIEWERS, watchers, strict=True))
            await asyncio.sleep(0.3)
            before = {label: (p.bytes, len(p.update_times)) for label, p in probes.items()}
            trigger.key(RETURN)
            await wait_written(done)
            await asyncio.sleep(0.3)  # the last frames
            result = {
                label: {
                    "bytes": p.bytes - before[label][0],
                    "frames": len(p.update_times) - before[label][1],
                    "copyrects": p.copyrects,
                }
                for label, p in probes.items()
            }
            for task in tasks:
                task.cancel()
    return result


async def scrolled_lines(
    lines: int, encodings: list[int], extra: list[str] | None = None
) -> dict[str, float]:
    """Bytes on the wire per scrolled line: a log that grows a line at a time (one line every
    20 ms, so each frame carries about one scroll), watched by one viewer."""
    script = (
        f"read x; i=0; while [ $i -lt {lines} ]; do i=$((i+1)); "
        f'echo "$i: a log line of ordinary length, with some words in it"; sleep 0.02; '
        "done; sleep 0.5"
    )
    async with Vncterm(script, extra=extra) as vt:
        probe = await Probe.connect(vt.port, encodings)
        task = asyncio.ensure_future(probe.run())
        await asyncio.wait_for(probe.got_update.wait(), 30)
        await asyncio.sleep(0.3)
        before = probe.bytes
        probe.key(RETURN)
        await asyncio.wait([task], timeout=60)
        total = probe.bytes - before
    return {"bytes": total, "bytes_per_line": total / lines, "copyrects": probe.copyrects}


async def key_latency(
    port: int, samples: int, encodings: list[int], pointer: tuple[int, int] | None = None
) -> dict[str, float]:
    """Key-to-pixels on the server at ``port``: a key event to the update that shows its echo.

    ``pointer``: first move the pointer there (a proxied X server then keeps its cursor out
    of the pixels)."""
    probe = await Probe.connect(port, encodings)
    task = asyncio.ensure_future(probe.run())
    await asyncio.wait_for(probe.got_update.wait(), 30)
    if pointer is not None:
        probe.pointer(*pointer)
    await asyncio.sleep(0.5)
    lat: list[float] = []
    for i in range(samples):
        probe.got_update.clear()
        t0 = time.perf_counter()
        probe.key(ord("a") + i % 26)
        await asyncio.wait_for(probe.got_update.wait(), 10)
        lat.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.01)
        if i % 40 == 39:  # a new line now and then
            probe.key(0xFF0D)
            await asyncio.sleep(0.1)
    await probe.close()
    task.cancel()
    lat.sort()
    return {
        "p50_ms": statistics.median(lat),
        "p99_ms": lat[int(len(lat) * 0.99) - 1],
        "samples": len(lat),
    }


async def latency(samples: int, encodings: list[int]) -> dict[str, float]:
    """Key-to-pixels at a shell prompt in vncterm."""
    async with Vncterm("PS1='$ ' exec sh -i") as vt:
        return await key_latency(vt.port, samples, encodings)


def stock_pyte_rate(data: bytes, cols: int = 80, rows: int = 25) -> float:
    """MB/s of stock pyte (ByteStream into Screen) on the same bytes: the model alone."""
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    t0 = time.perf_counter()
    for i in range(0, len(data), 65536):
        stream.feed(data[i : i + 65536])
    return len(data) / (time.perf_counter() - t0) / 1e6


def model_rate(data: bytes, fast: bool) -> float:
    """MB/s of vncterm's terminal model alone (no server) on ``data`` as the pty delivers it,
    in 64 KiB chunks; ``fast=False`` is the same model without its fast paths."""
    from vncterm.terminal.emulator import Emulator

    emu = Emulator(80, 25, fast=fast)
    data = as_pty(data)
    t0 = time.perf_counter()
    for i in range(0, len(data), 65536):
        emu.feed(data[i : i + 65536])
    return len(data) / (time.perf_counter() - t0) / 1e6


def pty_ceiling(data: bytes) -> float:
    """MB/s of ``cat`` into a pty read by a bare loop, no terminal: what the pty alone allows
    here (the best of three runs)."""
    import subprocess

    best = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "data")
        src.write_bytes(data)
        for _ in range(3):
            master, slave = os.openpty()
            t0 = time.perf_counter()
            proc = subprocess.Popen(["cat", str(src)], stdin=slave, stdout=slave, stderr=slave)
            os.close(slave)
            while True:
                try:
                    if not os.read(master, 65536):
                        break
                except OSError:  # EIO: cat exited and closed the slave
                    break
            secs = time.perf_counter() - t0
            proc.wait()
            os.close(master)
            best = max(best, len(data) / secs / 1e6)
    return best


def render_ms(name: str, cols: int, rows: int) -> dict[str, float]:
    """Full redraw of a recorded screen (the renderer alone)."""
    from vncterm.render.font import CellFont
    from vncterm.render.renderer import TerminalRenderer
    from vncterm.terminal.emulator import Emulator

    emu = Emulator(cols, rows)
    emu.feed(capture_bytes(name, cols, rows))
    renderer = TerminalRenderer(CellFont(15), cols, rows)
    times = []
    for _ in range(10):
        renderer.resize(cols, rows)
        emu.screen.dirty.update(range(rows))
        t0 = time.perf_counter()
        renderer.refresh(emu.screen, emu.cursor_visible)
        times.append((time.perf_counter() - t0) * 1000)
    return {"full_redraw_ms": min(times)}


# -- report --------------------------------------------------------------------------------------


def write_report(results: dict[str, object]) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    rows: list[tuple[str, str, str, str]] = []
    r = results
    base = r["baseline_pyte_mb_per_s"]
    for key, label in (
        ("plain", "plain text `cat`"),
        ("colour", "colour `ls -lR`"),
        ("cjk", "CJK text"),
    ):
        for v in (0, 1, 20):
            res = r.get(f"flood_{key}_{v}")
            if isinstance(res, dict):
                spread = res.get("runs_mb_per_s") or [res["mb_per_s"]]
                rows.append(
                    (
                        f"{label}, {v} viewer(s)",
                        f"{res['mb_per_s']:.2f} MB/s ({min(spread):.1f}-{max(spread):.1f})",
                        f"stock pyte {r[f'baseline_pyte_{key}']:.2f} MB/s",
                        f"{res['mb_per_s'] / r[f'baseline_pyte_{key}']:.2f}x",
                    )
                )
    fast, slow = r.get("model_fast_plain"), r.get("model_slow_plain")
    if isinstance(fast, float) and isinstance(slow, float):
        rows.append(
            (
                "terminal model alone, plain text",
                f"{fast:.2f} MB/s",
                f"without fast paths {slow:.2f} MB/s",
                f"{fast / slow:.0f}x",
            )
        )
    f1, f20 = r.get("flood_plain_1"), r.get("flood_plain_20")
    ceiling = r.get("pty_ceiling")
    if isinstance(f1, dict) and isinstance(ceiling, float):
        rows.append(
            (
                "plain text `cat`, 1 viewer, against the pty alone",
                f"{f1['mb_per_s']:.2f} MB/s",
                f"bare pty reader {ceiling:.2f} MB/s",
                f"{f1['mb_per_s'] / ceiling:.2f}x",
            )
        )
    if isinstance(f1, dict) and isinstance(f20, dict):
        rows.append(
            (
                "20 viewers vs 1 viewer (plain flood)",
                f"{f20['mb_per_s']:.2f} MB/s",
                f"{f1['mb_per_s']:.2f} MB/s",
                f"{f20['mb_per_s'] / f1['mb_per_s']:.2f}x",
            )
        )
        rows.append(("frames/s to a viewer during the flood", f"{f1['fps']:.1f}", "", ""))
        rows.append(("peak RSS, 20 viewers, flood", f"{f20['rss_mb']:.0f} MB", "", ""))
    lt, lr = r["latency_tight"], r["latency_raw"]
    assert isinstance(lt, dict) and isinstance(lr, dict)
    rows.append(
        (
            "key-to-pixels p50 (Tight)",
            f"{lt['p50_ms']:.2f} ms",
            f"Raw {lr['p50_ms']:.2f} ms",
            f"{lt['p50_ms'] / lr['p50_ms']:.2f}x",
        )
    )
    rows.append(
        (
            "key-to-pixels p99 (Tight)",
            f"{lt['p99_ms']:.2f} ms",
            f"Raw {lr['p99_ms']:.2f} ms",
            f"{lt['p99_ms'] / lr['p99_ms']:.2f}x",
        )
    )
    for label, key in (
        ("Tight + CopyRect", "scroll_tight_copyrect"),
        ("Tight", "scroll_tight"),
        ("ZRLE + CopyRect", "scroll_zrle_copyrect"),
    ):
        res, raw = r[key], r["scroll_raw"]
        assert isinstance(res, dict) and isinstance(raw, dict)
        rows.append(
            (
                f"bytes per scrolled line, {label}",
                f"{res['bytes_per_line']:.0f} B",
                f"Raw {raw['bytes_per_line']:.0f} B",
                f"1/{raw['bytes_per_line'] / res['bytes_per_line']:,.0f}",
            )
        )
    for name in SESSIONS:
        res = r.get(f"session_{name}")
        if isinstance(res, dict):
            raw = res["Raw"]
            for label in ("Tight + CopyRect", "ZRLE + CopyRect"):
                mine = res[label]
                rows.append(
                    (
                        f"{name} session (80x25), bytes on the wire, {label}",
                        f"{mine['bytes'] / 1000:.1f} KB in {mine['frames']} frames",
                        f"Raw {raw['bytes'] / 1000:.0f} KB in {raw['frames']} frames",
                        f"1/{raw['bytes'] / max(1, mine['bytes']):,.0f}",
                    )
                )
    for geo in ("80x25", "200x60"):
        res = r[f"render_{geo}"]
        assert isinstance(res, dict)
        rows.append((f"full redraw {geo} (render only)", f"{res['full_redraw_ms']:.2f} ms", "", ""))
    consoles = r.get("consoles")
    if isinstance(consoles, dict):
        rows += bench_consoles.rows(consoles)
    lines = ["| figure | vncterm | baseline (same run) | ratio |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    meta = r["machine"]
    lines.append("")
    lines.append(
        f"Measured {r['date']} on {meta}; plain-text flood {r['plain_mb']} MB. "
        f"Baseline pyte: {base:.2f} MB/s."
    )
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(results)


def plot(r: dict[str, object]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = [n for n in SESSIONS if isinstance(r.get(f"session_{n}"), dict)]
    fig, axes = plt.subplots(1, 4 if sessions else 3, figsize=(17 if sessions else 13, 4))
    ax = axes[0]
    labels, ours, base = [], [], []
    for key in ("plain", "colour", "cjk"):
        res = r.get(f"flood_{key}_1")
        if isinstance(res, dict):
            labels.append(key)
            ours.append(res["mb_per_s"])
            base.append(r[f"baseline_pyte_{key}"])
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], ours, 0.4, label="vncterm, 1 viewer")
    ax.bar([x + 0.2 for x in xs], base, 0.4, label="stock pyte alone")
    ceiling = r.get("pty_ceiling")
    if isinstance(ceiling, float) and "plain" in labels:
        at = labels.index("plain")
        ax.hlines(
            ceiling,
            at - 0.45,
            at + 0.45,
            colors="black",
            linestyles="dashed",
            label="the pty alone (plain)",
        )
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("MB/s")
    ax.set_title("console throughput")
    ax.legend()
    ax = axes[1]
    names = ["Tight+CopyRect", "Tight", "ZRLE+CopyRect", "Raw"]
    keys = ["scroll_tight_copyrect", "scroll_tight", "scroll_zrle_copyrect", "scroll_raw"]
    vals = [r[k]["bytes_per_line"] for k in keys]  # type: ignore[index]
    ax.bar(names, vals)
    ax.set_yscale("log")
    ax.set_ylabel("bytes per scrolled line (log)")
    ax.set_title("bytes on the wire, 80x25")
    ax = axes[2]
    lt, lr = r["latency_tight"], r["latency_raw"]
    ax.bar(
        ["p50 Tight", "p99 Tight", "p50 Raw", "p99 Raw"],
        [lt["p50_ms"], lt["p99_ms"], lr["p50_ms"], lr["p99_ms"]],
    )  # type: ignore[index]
    ax.set_ylabel("ms")
    ax.set_title("key-to-pixels latency")
    if sessions:
        ax = axes[3]
        width = 0.8 / len(SESSION_VIEWERS)
        for i, label in enumerate(SESSION_VIEWERS):
            vals = [r[f"session_{n}"][label]["bytes"] / 1000 for n in sessions]  # type: ignore
            ax.bar([x + (i - 1) * width for x in range(len(sessions))], vals, width, label=label)
        ax.set_xticks(list(range(len(sessions))), sessions)
        ax.set_yscale("log")
        ax.set_ylabel("KB per session (log)")
        ax.set_title("recorded sessions, 80x25")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(OUT / "results.png", dpi=90)


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    plain_mb = 20 if args.full else 4
    samples = 500 if args.full else 200
    plain = plain_text(plain_mb * 1000 * 1000)
    colour = colour_listing(6_000_000 if args.full else 2_000_000)
    cjk = cjk_text(2_000_000 if args.full else 1_000_000)
    r: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "plain_mb": plain_mb,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
    }
    progress("stock pyte baseline")
    r["baseline_pyte_plain"] = r["baseline_pyte_mb_per_s"] = stock_pyte_rate(plain[:2_000_000])
    r["baseline_pyte_colour"] = stock_pyte_rate(colour)
    r["baseline_pyte_cjk"] = stock_pyte_rate(cjk)
    progress("the terminal model alone, with and without its fast paths")
    r["model_fast_plain"] = model_rate(plain, fast=True)
    r["model_slow_plain"] = model_rate(plain[:1_000_000], fast=False)
    progress("the pty alone (cat into a bare reader)")
    r["pty_ceiling"] = pty_ceiling(plain)
    tight = [TIGHT, COPYRECT]
    for key, data in (("plain", plain), ("colour", colour), ("cjk", cjk)):
        for viewers in (0, 1, 20) if key == "plain" else (1,):
            progress(
                f"flood {key} ({len(data) / 1e6:.1f} MB) with {viewers} viewer(s), "
                f"{args.repeat} runs"
            )
            runs = [await flood(data, viewers, tight) for _ in range(args.repeat)]
            runs.sort(key=lambda res: res["mb_per_s"])
            median = dict(runs[len(runs) // 2])
            median["runs_mb_per_s"] = [round(res["mb_per_s"], 2) for res in runs]  # type: ignore
            r[f"flood_{key}_{viewers}"] = median
    for name in SESSIONS:
        progress(f"recorded session {name} 80x25, {len(SESSION_VIEWERS)} viewers")
        r[f"session_{name}"] = await session_bytes(name, 80, 25)
    progress("bytes per scrolled line")
    r["scroll_tight_copyrect"] = await scrolled_lines(150, [TIGHT, COPYRECT])
    r["scroll_tight"] = await scrolled_lines(150, [TIGHT])
    r["scroll_zrle_copyrect"] = await scrolled_lines(150, [ZRLE, COPYRECT])
    r["scroll_raw"] = await scrolled_lines(150, [RAW])
    progress(f"key-to-pixels latency ({samples} keys, Tight then Raw)")
    r["latency_tight"] = await latency(samples, tight)
    r["latency_raw"] = await latency(samples, [RAW])
    progress("render time")
    r["render_80x25"] = render_ms("ls-usr-bin", 80, 25)
    r["render_200x60"] = render_ms("ls-usr-bin", 200, 60)
    progress(f"200 idle consoles in one process against 10 processes ({args.idle_seconds:g} s)")
    r["consoles"] = bench_consoles.measure(ROOT, 200, 10, args.idle_seconds)
    return r


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--full", action="store_true", help="20 MB flood, 500 latency samples")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="runs of each flood; the table gives the median (default 3)",
    )
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="idle CPU window of the many-consoles figures (default 60; 10 for a quick run)",
    )
    args = p.parse_args()
    results = asyncio.run(main_async(args))
    write_report(results)
    progress(f"wrote {OUT / 'results.md'}, {OUT / 'results.png'}")


if __name__ == "__main__":
    main()
