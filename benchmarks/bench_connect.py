"""Connect delay added by WebSocket sniffing on the VNC port (vncterm.server.sniff).

Times, over loopback, from ``connect()`` to ServerInit received (banner, version, security None,
ClientInit, ServerInit), and for WebSocket clients the RFC 6455 opening handshake before that:

- plain viewer on a sniffing VNC port (waits ``sniff.WAIT`` for a request that never comes)
- plain viewer on a VNC port with sniffing off (``--websocket ADDR`` given): the baseline
- WebSocket client on the sniffing VNC port (its GET decides at once)
- WebSocket client on a ``--websocket`` listener (no sniffing): the baseline

and prints medians and ratios against the baselines::

    python benchmarks/bench_connect.py [-n 40]

Measured on the project's 2-core machine (median of 40, wait 50 ms): plain viewer 51.6 ms on
the sniffing port against 0.56 ms without sniffing (+51.0 ms, 92x); WebSocket client 1.70 ms on
the sniffing port against 1.73 ms on a ``--websocket`` listener (0.98x: no added delay).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vncterm.config import Config, ListenAddress
from vncterm.server import sniff
from vncterm.server.app import Server


def start_server(**config: Any) -> tuple[Server, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: list[Server] = []

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            server = Server(
                Config(
                    command=["/bin/sh", "-c", "sleep 600"],
                    listen=[ListenAddress("127.0.0.1", 0)],
                    **config,
                )
            )
            await server.start()
            holder.append(server)
            started.set()
            await server.wait()

        loop.run_until_complete(main())

    threading.Thread(target=run, daemon=True).start()
    started.wait(10)
    return holder[0], loop


class Reader:
    """Exact reads from a socket, or from the binary messages of a WebSocket."""

    def __init__(self, sock: socket.socket, ws: WSConnection | None = None) -> None:
        self.sock, self.ws, self.buf = sock, ws, bytearray()

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            if self.ws is not None:
                for ev in self.ws.events():  # including any left from the handshake
                    if isinstance(ev, BytesMessage):
                        self.buf += ev.data
                if len(self.buf) >= n:
                    break
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            if self.ws is None:
                self.buf += data
            else:
                self.ws.receive_data(data)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def send(self, data: bytes) -> None:
        self.sock.sendall(self.ws.send(BytesMessage(data=data)) if self.ws else data)


def rfb_to_server_init(r: Reader) -> None:
    assert r.read(12) == b"RFB 003.008\n"
    r.send(b"RFB 003.008\n")
    n = r.read(1)[0]
    assert 1 in r.read(n)
    r.send(b"\x01")
    assert r.read(4) == b"\0\0\0\0"
    r.send(b"\x01")
    head = r.read(24)
    r.read(int.from_bytes(head[20:24], "big"))


def plain(port: int) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        rfb_to_server_init(Reader(sock))
        return time.perf_counter() - start


def websocket(port: int) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        ws = WSConnection(ConnectionType.CLIENT)
        sock.sendall(ws.send(Request(host=f"127.0.0.1:{port}", target="/")))
        reader = Reader(sock, ws)
        while True:
            ws.receive_data(sock.recv(65536))
            events = list(ws.events())
            if any(isinstance(ev, AcceptConnection) for ev in events):
                break
        for ev in events:
            if isinstance(ev, BytesMessage):
                reader.buf += ev.data
        rfb_to_server_init(reader)
        return time.perf_counter() - start


def measure(fn: Callable[[int], float], port: int, n: int) -> float:
    fn(port)  # warm up
    return statistics.median(fn(port) for _ in range(n))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=40, help="connections per case (median reported)")
    args = p.parse_args()
    sniffing, _ = start_server()
    separate, _ = start_server(websocket=[ListenAddress("127.0.0.1", 0)], websocket_sniff=False)
    ws_port = separate.websocket.addresses[0][1]
    rows = [
        ("plain, sniffing VNC port", measure(plain, sniffing.port, args.n)),
        ("plain, no sniffing (baseline)", measure(plain, separate.port, args.n)),
        ("websocket, sniffing VNC port", measure(websocket, sniffing.port, args.n)),
        ("websocket, --websocket listener (baseline)", measure(websocket, ws_port, args.n)),
    ]
    print(
        f"connect to ServerInit, median of {args.n}, loopback; sniff wait "
        f"{sniff.WAIT * 1000:.0f} ms"
    )
    for name, t in rows:
        print(f"  {name:44s} {t * 1000:8.2f} ms")
    print(
        f"plain viewers:     {rows[0][1] / rows[1][1]:7.1f}x the baseline "
        f"(+{(rows[0][1] - rows[1][1]) * 1000:.1f} ms)"
    )
    print(
        f"websocket clients: {rows[2][1] / rows[3][1]:7.2f}x the baseline "
        f"(+{(rows[2][1] - rows[3][1]) * 1000:.2f} ms)"
    )


if __name__ == "__main__":
    main()
