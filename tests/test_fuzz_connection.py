"""Fuzzing the sans-I/O core with hypothesis: random and mutated byte streams, split anywhere,
in every handshake state (RFB sections 7.1 to 7.3, VeNCrypt 7.2.19 before, during and after
the TLS upgrade) and in the normal phase. Every case ends in events or a ProtocolError, never
another exception; it stays within the buffer bound and the per-example deadline (no hang).
The atheris harness in ``tests/fuzz/`` runs the same driver for millions of inputs."""

from __future__ import annotations

import struct

import fuzz
import pytest
from fuzz import driver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

driver.tls_material()  # made once, outside the examples' deadline

COMMON = settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow], database=None)
STATES = sorted(driver.STATES)

# realistic continuations for each state, for mutation
_PF = struct.pack(">BBBBHHHBBB3x", 16, 16, 1, 1, 31, 63, 31, 11, 5, 0)
MESSAGES = (
    b"\x00\x00\x00\x00"
    + _PF
    + struct.pack(">BxH4i", 2, 4, 7, 16, -223, -260)
    + struct.pack(">BBHHHH", 3, 0, 0, 0, 640, 400)
    + struct.pack(">BBxxI", 4, 1, 0x61)
    + struct.pack(">BBHH", 5, 1, 10, 20)
    + struct.pack(">BxxxI", 6, 5)
    + b"h\xe9llo"
    + struct.pack(">BBHII", 255, 0, 1, 0x62, 0x30)
    + struct.pack(">BBBI", 255, 2, 0, 7)
    + b"console"
    + struct.pack(">BxHHBx", 251, 640, 400, 1)
    + struct.pack(">IHHHHI", 0, 0, 0, 640, 400, 0)
)
VALID = {
    "version": b"RFB 003.008\n\x01\x01" + MESSAGES,
    "security_choice": b"\x02" + bytes(16) + b"\x01" + MESSAGES,
    "vnc_auth_response": bytes(16) + b"\x01",
    "client_init": b"\x00" + MESSAGES,
    "normal": MESSAGES,
    "normal_rfb33": MESSAGES,
    "vencrypt_version": b"\x00\x02" + struct.pack(">I", 262),
    "vencrypt_subtype": struct.pack(">I", 261),
    "tls_handshake": b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
    "plain_auth": struct.pack(">II", 1, 1) + b"up\x01" + MESSAGES,
    "tls_normal": MESSAGES,
}
assert set(VALID) == set(driver.STATES)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[i : i + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[i:]
        elif kind == "dup":
            data[i:i] = data[i : i + draw(st.integers(1, 16))]
    return bytes(data)


@settings(COMMON, max_examples=400)
@given(
    state=st.sampled_from(STATES),
    data=st.binary(max_size=3000),
    cuts=st.lists(st.integers(1, 3000), max_size=8),
)
def test_random_bytes_in_every_state(state: str, data: bytes, cuts: list[int]) -> None:
    driver.run_one(state, data, cuts)


@settings(COMMON, max_examples=400)
@given(
    data=st.data(), state=st.sampled_from(STATES), cuts=st.lists(st.integers(1, 400), max_size=6)
)
def test_mutated_valid_streams_in_every_state(
    data: st.DataObject, state: str, cuts: list[int]
) -> None:
    driver.run_one(state, data.draw(mutated(VALID[state])), cuts)


@settings(COMMON, max_examples=60)
@given(
    state=st.sampled_from(["plain_auth", "tls_normal"]),
    tamper=st.integers(0, 10**6),
    cuts=st.lists(st.integers(1, 400), max_size=4),
)
def test_tampered_ciphertext_after_the_tls_upgrade(
    state: str, tamper: int, cuts: list[int]
) -> None:
    driver.run_one(state, VALID[state], cuts, tamper=tamper)


@settings(COMMON, max_examples=40)
@given(
    state=st.sampled_from(["normal", "tls_normal", "client_init"]),
    which=st.sampled_from(["cut", "enc", "stream", "size"]),
)
def test_lengths_at_the_caps_are_refused_before_buffering(state: str, which: str) -> None:
    header = {
        "cut": struct.pack(">BxxxI", 6, 0xFFFFFFFF),
        "enc": struct.pack(">BxH", 2, 0xFFFF),
        "stream": struct.pack(">BBBII", 255, 2, 2, 1, 0xFFFFFFFF),
        "size": struct.pack(">BxHHBx", 251, 1, 1, 255),
    }[which]
    prefix = b"\x00" if state == "client_init" else b""
    driver.run_one(state, prefix + header + bytes(5000), [len(prefix) + len(header), 2000])


@pytest.mark.slow
def test_atheris_harness_short_budget() -> None:
    """CI's short run of the atheris harness (the long one is documented in tests/fuzz)."""
    fuzz.run_short("fuzz_connection.py", timeout=120)
