"""The asyncio driver (vncterm/desktop/connection.py) against scripted desktops on real
sockets: one FramebufferUpdateRequest outstanding (full first, incremental after, full again
after a resize), unix sockets, reverse connections, and a desktop that breaks or goes away.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from desktop_scripts import handshake, rect_header, update

from vncterm.desktop import (
    Connected,
    DesktopConnection,
    Event,
    FramebufferUpdated,
    Resized,
    ReverseListener,
)
from vncterm.errors import AuthenticationFailed
from vncterm.geometry import Rect
from vncterm.rfb.constants import Encoding

pytestmark = pytest.mark.unit

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_client_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One client message (section 7.5) as (type, body)."""
    kind = (await reader.readexactly(1))[0]
    if kind == 0:
        return kind, await reader.readexactly(19)
    if kind == 2:
        head = await reader.readexactly(3)
        return kind, head + await reader.readexactly(4 * struct.unpack(">xH", head)[0])
    if kind == 6:
        head = await reader.readexactly(7)
        return kind, head + await reader.readexactly(abs(struct.unpack(">xxxi", head)[0]))
    return kind, await reader.readexactly({3: 9, 4: 7, 5: 5}[kind])


async def serve_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(handshake())
    await reader.readexactly(12 + 1 + 1)  # version, security choice, ClientInit
    assert (await read_client_message(reader))[0] == 0
    assert (await read_client_message(reader))[0] == 2


async def next_request(reader: asyncio.StreamReader) -> tuple[bool, Rect]:
    while True:
        kind, body = await read_client_message(reader)
        if kind == 3:
            incremental, x, y, w, h = struct.unpack(">BHHHH", body)
            return bool(incremental), Rect(x, y, w, h)


def raw(r: Rect, colour: int) -> bytes:
    return rect_header(r, Encoding.RAW) + struct.pack("<I", colour) * (r.w * r.h)


def test_requests_one_at_a_time_over_a_unix_socket(tmp_path: Path) -> None:
    requests: list[tuple[bool, Rect]] = []

    async def desktop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_handshake(reader, writer)
        for i in range(3):
            requests.append(await next_request(reader))
            await asyncio.sleep(0.05)  # no second request may arrive meanwhile
            assert not reader._buffer, "a second request before the update was answered"  # type: ignore[attr-defined]
            writer.write(update(raw(Rect(i, 0, 1, 1), 0x112233 * (i + 1))))
        requests.append(await next_request(reader))
        writer.write(update(rect_header(Rect(0, 0, 50, 40), Encoding.DESKTOP_SIZE)))
        requests.append(await next_request(reader))
        writer.close()

    async def run() -> None:
        path = str(tmp_path / "desktop.sock")
        server = await asyncio.start_unix_server(desktop, path)
        conn = await DesktopConnection.connect(path=path)
        events: list[Event] = []
        closed = asyncio.get_running_loop().create_future()
        conn.start(events.append, closed.set_result)
        reason = await asyncio.wait_for(closed, 5)
        server.close()
        assert reason == "the desktop closed the connection"
        assert events[0] == Connected(96, 64, "guest desktop")
        assert [type(e) for e in events[1:]] == [FramebufferUpdated] * 3 + [
            Resized,
            FramebufferUpdated,
        ]
        assert conn.framebuffer.shape == (40, 50)
        assert conn.framebuffer[0, 1] == 0x112233 * 2

    asyncio.run(run())
    assert requests == [
        (False, Rect(0, 0, 96, 64)),
        (True, Rect(0, 0, 96, 64)),
        (True, Rect(0, 0, 96, 64)),
        (True, Rect(0, 0, 96, 64)),
        (False, Rect(0, 0, 50, 40)),
    ]


async def run_script(script: Script) -> tuple[str, list[Event]]:
    """Serve ``script`` on TCP, connect, return the close reason and the events."""
    server = await asyncio.start_server(script, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = await DesktopConnection.connect("127.0.0.1", port)
    events: list[Event] = []
    conn.start(events.append)
    reason = await asyncio.wait_for(conn.wait_closed(), 5)
    server.close()
    return reason, events


def test_disconnect_mid_update_closes_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    async def desktop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_handshake(reader, writer)
        await next_request(reader)
        writer.write(update(raw(Rect(0, 0, 10, 10), 1))[:200])
        await writer.drain()
        writer.close()

    reason, events = asyncio.run(run_script(desktop))
    assert "middle of rectangle 1 of a FramebufferUpdate" in reason
    assert [type(e) for e in events] == [Connected]
    assert "middle of rectangle 1" in caplog.text


def test_bad_data_closes_with_a_reason() -> None:
    async def desktop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_handshake(reader, writer)
        await next_request(reader)
        writer.write(update(raw(Rect(0, 0, 1, 1), 5)) + b"\x02" + b"\x63")
        await reader.read()

    reason, events = asyncio.run(run_script(desktop))
    assert reason == "protocol error: unknown server message type 99"
    assert [type(e).__name__ for e in events] == ["Connected", "FramebufferUpdated", "Bell"]


def test_refused_password_raises_and_closes() -> None:
    async def desktop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n\x01\x02" + bytes(16))
        await reader.readexactly(12 + 1 + 16)
        writer.write(struct.pack(">II", 1, 3) + b"bad")
        await reader.read()

    async def run() -> None:
        server = await asyncio.start_server(desktop, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(AuthenticationFailed, match="bad"):
            await DesktopConnection.connect("127.0.0.1", port, password="x")
        server.close()

    asyncio.run(run())


def test_reverse_listener_drops_bad_desktops_and_accepts_good_ones() -> None:
    async def run() -> None:
        async with ReverseListener("127.0.0.1", 0) as listener:
            # a peer that is not a desktop: dropped, listener goes on
            _, w1 = await asyncio.open_connection("127.0.0.1", listener.port)
            w1.write(b"GET / HTTP/1.0\r\n\r\n")
            # a real (scripted) desktop connecting in reverse: it speaks first
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            serving = asyncio.create_task(serve_handshake(reader, writer))
            conn = await asyncio.wait_for(listener.accept(), 5)
            await serving
            assert (conn.width, conn.height, conn.name) == (96, 64, "guest desktop")
            conn.start()
            assert await next_request(reader) == (False, Rect(0, 0, 96, 64))
            writer.write(update(raw(Rect(5, 5, 2, 2), 0xABCDEF)))
            assert await next_request(reader) == (True, Rect(0, 0, 96, 64))
            assert (conn.framebuffer[5:7, 5:7] == 0xABCDEF).all()
            assert np.count_nonzero(conn.framebuffer) == 4
            conn.send_key(0x61, True)
            conn.send_pointer(3, 4, 1)
            conn.send_cut_text("hi")
            assert await read_client_message(reader) == (4, b"\x01\0\0\0\0\0\x61")
            assert await read_client_message(reader) == (5, b"\x01\0\x03\0\x04")
            assert await read_client_message(reader) == (6, b"\0\0\0\0\0\0\x02hi")
            await conn.close()
            assert conn.closed and conn.close_reason == "closed by vncterm"
            assert await reader.read() == b""
            w1.close()

    asyncio.run(run())
