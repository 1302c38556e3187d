"""A program to run inside a terminal (xterm, vncterm): it writes each probe of a JSON list to
the terminal and records what the terminal answers, as a JSON list of strings.

``python3 probe_replies.py PROBES.json OUT.json``: each probe is a string written as is (set
up, then the query); the answer is every byte the terminal sends back until it has been quiet
for ``QUIET`` seconds. The terminal is in raw mode meanwhile, so nothing is echoed.
"""

from __future__ import annotations

import json
import os
import select
import sys
import termios
import tty

QUIET = 0.3
LONGEST = 3.0


def answer(fd: int) -> str:
    """What arrives on ``fd`` until it has been quiet for QUIET seconds."""
    got = b""
    waited = 0.0
    while waited < LONGEST:
        ready, _, _ = select.select([fd], [], [], QUIET)
        if not ready:
            break
        got += os.read(fd, 4096)
        waited += 0.01
    return got.decode("utf-8", "replace")


def main() -> None:
    probes = json.loads(open(sys.argv[1]).read())
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    out = []
    try:
        for probe in probes:
            os.write(sys.stdout.fileno(), probe.encode())
            out.append(answer(fd))
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    with open(sys.argv[2] + ".tmp", "w") as f:
        json.dump(out, f)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])


if __name__ == "__main__":
    main()
