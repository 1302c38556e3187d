#!/usr/bin/env python3
"""A guest started after ``vncterm --libvirt`` is running: how long from libvirt's lifecycle
event (STARTED, as vncterm receives it) until its console is served (listening on its port,
its pty serial opened through libvirt, its streams added). Median and p90 of ``--runs``
guests, each started with ``virsh create`` and destroyed again.

Needs root and Debian's libvirt-daemon-system (the tests' private libvirtd,
tests/peers/libvirt_daemon.py) and libvirt-python.

    python benchmarks/bench_libvirt.py              # 20 guests, ~1-2 minutes
    python benchmarks/bench_libvirt.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from host_harness import RunningHost  # noqa: E402
from peers.libvirt_daemon import LibvirtDaemon  # noqa: E402

from vncterm.config import Config, HostConfig  # noqa: E402
from vncterm.server.libvirt_source import LibvirtSource  # noqa: E402

OUT = HERE / "out"


class TimedSource(LibvirtSource):
    """Notes when each STARTED event arrives and when its console is served."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event_at: dict[str, float] = {}
        self.served_at: dict[str, float] = {}
        self.served = threading.Condition()
        self.on_change = self._note

    def _on_lifecycle(self, conn: Any, dom: Any, event: int, detail: int, opaque: object) -> None:
        if event == self._libvirt.VIR_DOMAIN_EVENT_STARTED:
            self.event_at[dom.name()] = time.monotonic()
        super()._on_lifecycle(conn, dom, event, detail, opaque)

    def _note(self, name: str, event: str) -> None:
        if event == "added":
            with self.served:
                self.served_at[name] = time.monotonic()
                self.served.notify_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-libvirt-") as tmp:
        daemon = LibvirtDaemon(Path(tmp))
        t0 = time.monotonic()
        daemon.start()
        daemon_s = time.monotonic() - t0
        config = HostConfig(consoles={}, state_dir=f"{tmp}/state", libvirt=daemon.uri)
        running = RunningHost(config)
        running.__enter__()
        host = running.host
        assert host is not None
        source = running.call(lambda: TimedSource(host, daemon.uri, Config(command=[])))
        running.run(source.start(), timeout=30)
        event_ms: list[float] = []
        create_ms: list[float] = []
        try:
            for i in range(args.runs):
                name = f"bench-{i}"
                xml = Path(tmp) / f"{name}.xml"
                xml.write_text(daemon.guest_xml(name))
                daemon.guests.append(name)
                daemon.virsh("create", str(xml))
                returned = time.monotonic()
                with source.served:
                    if not source.served.wait_for(lambda n=name: n in source.served_at, 30):
                        raise SystemExit(f"{name} never served")
                served = source.served_at[name]
                event_ms.append((served - source.event_at[name]) * 1000)
                create_ms.append((served - returned) * 1000)
                print(f"{name}: {event_ms[-1]:.1f} ms after the event", file=sys.stderr)
                daemon.destroy(name)
        finally:
            running.call(source.close)
            running.__exit__(None, None, None)
            daemon.stop()

    def stats(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "median_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
            "max_ms": round(ordered[-1], 1),
        }

    result = {
        "runs": args.runs,
        "daemon_start_s": round(daemon_s, 2),
        "event_to_served": stats(event_ms),
        "virsh_create_return_to_served": stats(create_ms),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "libvirt.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
