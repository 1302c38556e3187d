"""atheris (libFuzzer) harness for the sans-I/O RFB core.

The first input byte picks a connection state (``driver.STATES``: every handshake state,
VeNCrypt before/during/after TLS, the normal phase), the second how the rest is split into
chunks; the rest is what the viewer sends (encrypted by a real TLS client in the TLS states).
Anything but events or ProtocolError, a broken buffer bound, or a hang (-timeout) is a crash.

    pip install atheris
    python tests/fuzz/fuzz_connection.py -runs=1000000 -max_len=4096 -timeout=10 \\
        [-jobs=2 -workers=2] [corpus_dir]

The million took 20 minutes on this 2-core machine (1223 s on 2026-11-21, no crash; most of
it in the TLS states, which run a real handshake per input). CI runs 20,000 inputs
(tests/test_fuzz_connection.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for ``fuzz`` and certs

with atheris.instrument_imports(include=["vncterm"]):
    from fuzz import driver

STATES = sorted(driver.STATES)


def test_one(data: bytes) -> None:
    if len(data) < 2:
        return
    state = STATES[data[0] % len(STATES)]
    step = 1 + data[1] % 64
    body = data[2:]
    cuts = list(range(step, len(body), step))
    if state in ("plain_auth", "tls_normal") and data[1] & 0x80:
        driver.run_one(state, body, cuts, tamper=data[1])
    else:
        driver.run_one(state, body, cuts)


def main() -> None:
    driver.tls_material()
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
