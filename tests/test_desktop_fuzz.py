"""A malicious or broken desktop: mutated and random server bytes make the desktop client raise
ProtocolError (or nothing), never another exception, and never allocate beyond its caps.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from desktop_scripts import build_session, handshake
from encoder_cases import make_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vncterm.desktop import DesktopClient
from vncterm.desktop.decoders import (
    TightState,
    ZrleState,
    decode_hextile,
    decode_tight,
    decode_zrle,
    feed,
)
from vncterm.encoders.base import EncoderOptions
from vncterm.encoders.hextile import HextileEncoder
from vncterm.encoders.tight import compact_length
from vncterm.encoders.zrle import ZrleEncoder
from vncterm.errors import ProtocolError
from vncterm.geometry import Rect
from vncterm.rfb.pixel_format import SERVER_PIXEL_FORMAT as PF

pytestmark = pytest.mark.unit

SESSIONS = [build_session(seed).data for seed in range(3)]
HANDSHAKE_LEN = len(handshake())
LIMIT = 512  # framebuffer side cap during fuzzing


def run(data: bytes, chunk: int) -> None:
    """Feed ``data`` in pieces; only ProtocolError may escape, and caps must hold."""
    client = DesktopClient("pw", max_width=LIMIT, max_height=LIMIT, max_cut_text=4096)
    try:
        for i in range(0, len(data), chunk):
            client.receive_data(data[i : i + chunk])
            client.data_to_send()
            assert client.framebuffer.shape[0] <= LIMIT and client.framebuffer.shape[1] <= LIMIT
            assert len(client._buf) <= max(chunk, 8 << 20)
        client.receive_eof()
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(SESSIONS) - 1),
    edits=st.lists(
        st.tuples(
            st.integers(0, 1 << 30),
            st.integers(0, 255),
            st.sampled_from(["flip", "set", "insert", "delete"]),
        ),
        min_size=1,
        max_size=8,
    ),
    cut=st.integers(0, 1 << 30),
    chunk=st.sampled_from([1, 7, 4096, 1 << 20]),
)
def test_mutated_sessions_raise_only_protocol_errors(
    which: int, edits: list[tuple[int, int, str]], cut: int, chunk: int
) -> None:
    data = bytearray(SESSIONS[which])
    for pos, value, how in edits:
        # most edits land after the handshake, where the decoders are
        at = HANDSHAKE_LEN + pos % max(1, len(data) - HANDSHAKE_LEN) if pos % 8 else pos % len(data)
        if how == "flip":
            data[at] ^= 1 << (value % 8)
        elif how == "set":
            data[at] = value
        elif how == "insert":
            data[at:at] = bytes((value,))
        elif len(data) > 1:
            del data[at]
    run(bytes(data[: len(data) - cut % 64]), chunk if chunk > 1 else 4096)


@settings(max_examples=200, deadline=None)
@given(tail=st.binary(min_size=1, max_size=3000), chunk=st.sampled_from([1, 13, 5000]))
def test_random_bytes_after_the_handshake(tail: bytes, chunk: int) -> None:
    run(handshake() + tail, chunk)


def test_many_random_mutations_quickly() -> None:
    """A wider, seeded sweep: every byte position of one session, each set to a random value."""
    rng = np.random.default_rng(12345)
    data = SESSIONS[0]
    for at in range(HANDSHAKE_LEN, len(data), max(1, len(data) // 400)):
        mutated = bytearray(data)
        mutated[at] = int(rng.integers(256))
        run(bytes(mutated), 1 << 20)


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 1 << 20),
    w=st.integers(1, 80),
    h=st.integers(1, 80),
    n=st.sampled_from([1, 2, 3, 5, 16, 17, 100, 0]),
    kind=st.sampled_from(["noise", "blocks"]),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_tile_data_inside_valid_zlib(
    seed: int, w: int, h: int, n: int, kind: str, edits: list[tuple[int, int]]
) -> None:
    """ZRLE and Hextile tile structure broken below the compression layer."""
    frame = make_frame(seed, w, h, n, kind)
    fb = np.zeros((80, 80), np.uint32)
    tiles = mutate(ZrleEncoder().tiles(frame, PF), edits)
    body = zlib.compress(tiles)
    try:
        feed(decode_zrle(Rect(0, 0, w, h), fb, ZrleState()), struct.pack(">I", len(body)) + body)
    except ProtocolError:
        pass
    hextile = mutate(HextileEncoder().encode(frame, PF, EncoderOptions(), None), edits)
    try:
        feed(decode_hextile(Rect(0, 0, w, h), fb), hextile)
    except ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    head=st.binary(min_size=1, max_size=8),
    body=st.binary(max_size=2000),
    w=st.integers(0, 40),
    h=st.integers(0, 40),
    compressed=st.booleans(),
)
def test_random_tight_rectangles(
    head: bytes, body: bytes, w: int, h: int, compressed: bool
) -> None:
    """Random control, filter and palette bytes, with a well-formed zlib body or raw bytes."""
    if compressed:
        z = zlib.compress(body)
        payload = head + compact_length(len(z)) + z
    else:
        payload = head + body
    try:
        feed(decode_tight(Rect(0, 0, w, h), np.zeros((40, 40), np.uint32), TightState()), payload)
    except ProtocolError:
        pass
