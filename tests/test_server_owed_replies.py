"""The running server over a real socket: the replies owed on SetEncodings (RFB spec 7.6.5
EndOfContinuousUpdates, 7.6.6 ServerFence) come from the protocol core, each exactly once."""

from __future__ import annotations

import struct

import pytest
from harness import RunningVncterm
from rawclient import RawClient

from vncterm.rfb.constants import ClientMsg, Encoding, FenceFlag, ServerMsg

pytestmark = pytest.mark.peer


def set_encodings(*encodings: int) -> bytes:
    return struct.pack(
        f">BxH{len(encodings)}i", ClientMsg.SET_ENCODINGS, len(encodings), *encodings
    )


def until_update(client: RawClient) -> bytes:
    """The bytes the server sends before the next FramebufferUpdate (which is then read)."""
    before = bytearray()
    while (kind := client.recv_exact(1)[0]) != ServerMsg.FRAMEBUFFER_UPDATE:
        before.append(kind)
        if kind == ServerMsg.SERVER_FENCE:
            before += client.recv_exact(8)
            before += client.recv_exact(before[-1])
    (count,) = struct.unpack(">xH", client.recv_exact(3))
    for _ in range(count):
        _x, _y, w, h, enc = struct.unpack(">HHHHi", client.recv_exact(12))
        assert enc == Encoding.RAW
        client.recv_exact(w * h * 4)
    return bytes(before)


def test_end_of_continuous_updates_and_fence_once_each(vncterm_shell: RunningVncterm) -> None:
    client = RawClient("127.0.0.1", vncterm_shell.port)
    client.update(incremental=False)
    listing = set_encodings(Encoding.RAW, Encoding.CONTINUOUS_UPDATES, Encoding.FENCE)
    client.sock.sendall(listing)
    client.request(incremental=False)
    fence = struct.pack(">BxxxIB", ServerMsg.SERVER_FENCE, FenceFlag.REQUEST, 0)
    assert until_update(client) == bytes([ServerMsg.END_OF_CONTINUOUS_UPDATES]) + fence
    client.sock.sendall(listing)  # listed again: nothing owed any more
    client.request(incremental=False)
    assert until_update(client) == b""
    client.close()
