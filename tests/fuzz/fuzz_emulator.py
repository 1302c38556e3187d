"""atheris (libFuzzer) harness for the terminal emulator: console output, hostile or not.

The first input byte picks the model (fast or reference), the charset and the terminal size;
the second how the rest is split into ``feed`` calls; the rest is what the console prints.
Anything raised out of ``Emulator.feed`` or by a sequence's handler is a crash, and so is
plain text that does not reach the screen after ``hostile.RECOVER`` (cancel, ST, RIS).

    pip install atheris
    python tests/fuzz/fuzz_emulator.py -runs=1000000 -max_len=4096 -timeout=10 [corpus_dir]

CI runs 20,000 inputs (tests/test_terminal_hostile.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for ``hostile``

with atheris.instrument_imports(include=["vncterm"]):
    from hostile import RECOVER

    from vncterm.terminal.emulator import Emulator

SIZES = [(80, 25), (20, 3), (16, 1), (132, 50)]  # the marker fits on a row
MARKER = "plain-MARKER"


def test_one(data: bytes) -> None:
    if len(data) < 2:
        return
    cols, rows = SIZES[data[0] & 3]
    emu = Emulator(
        cols,
        rows,
        charset="latin-1" if data[0] & 4 else "utf-8",
        fast=not data[0] & 8,
        allow_column_mode=bool(data[0] & 16),
        scrollback=20,
    )
    step = 1 + data[1] % 64
    body = data[2:]
    for at in range(0, len(body), step):
        emu.feed(body[at : at + step])
        emu.take_replies()
    emu.take_resize_request()
    emu.feed(RECOVER + MARKER.encode())
    text = "".join(emu.text())
    if MARKER not in text:
        raise AssertionError(f"plain text lost after recovery: {text!r}")
    if emu.parser.faults:
        raise AssertionError("a sequence's handler raised (see the log)")


def main() -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
