"""``vncterm-stream``: list a vncterm's tunnelled streams, or bridge one to stdio or a socket.

vncterm-stream HOST:PORT                  list the streams
vncterm-stream HOST:PORT NAME             bridge NAME to stdin/stdout (raw mode on a tty;
                                          Ctrl-] quits, like telnet and virsh console)
vncterm-stream HOST:PORT NAME --listen unix:PATH
                                          serve NAME to every local client of PATH
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Sequence

from .client import Capture, StreamClient
from .config import ListenAddress
from .errors import ConfigError, ProtocolError

ESCAPE = b"\x1d"  # Ctrl-]
#: With stdin not a terminal, after it ends, output is copied until quiet this long.
IDLE_AFTER_EOF = 1.0


def _password(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.readline().rstrip(b"\r\n")


async def _connect(server: str, password: bytes | None) -> StreamClient:
    addr = ListenAddress.parse(server)
    if addr.path is not None:
        return await StreamClient.connect(path=addr.path, password=password)
    return await StreamClient.connect(addr.host, addr.port, password=password)


async def _pump_out(
    capture: Capture, write: asyncio.StreamWriter | int, idle: float | None = None
) -> None:
    """Copy the capture out; with ``idle``, stop once no byte came for that many seconds."""
    while True:
        if idle is None:
            data = await capture.read()
        else:
            try:
                data = await asyncio.wait_for(capture.read(), idle)
            except TimeoutError:
                return
        if not data:
            return
        if isinstance(write, int):
            os.write(write, data)
        else:
            write.write(data)
            await write.drain()


async def bridge_stdio(client: StreamClient, name: str) -> int:
    capture = await client.open(name)
    loop = asyncio.get_running_loop()
    stdin = sys.stdin.fileno()
    interactive = os.isatty(stdin)
    saved = termios.tcgetattr(stdin) if interactive else None
    if interactive:
        tty.setraw(stdin)
        os.write(sys.stderr.fileno(), f"[connected to {name}; Ctrl-] quits]\r\n".encode())
    done = asyncio.Event()

    def on_stdin() -> None:
        try:
            data = os.read(stdin, 65536)
        except BlockingIOError:
            return
        if interactive and ESCAPE in data:
            data = data[: data.index(ESCAPE)]
            capture.write(data)
            done.set()
            return
        if not data:
            done.set()
            return
        capture.write(data)

    loop.add_reader(stdin, on_stdin)
    out = asyncio.ensure_future(_pump_out(capture, sys.stdout.fileno()))
    stop = asyncio.ensure_future(done.wait())
    try:
        await asyncio.wait({out, stop}, return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            await capture.drain()
            if not interactive:  # stdin ended: print what still comes, until it goes quiet
                out.cancel()
                await _pump_out(capture, sys.stdout.fileno(), idle=IDLE_AFTER_EOF)
            capture.close()
    finally:
        loop.remove_reader(stdin)
        out.cancel()
        stop.cancel()
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
    return 0


async def serve_unix(client: StreamClient, name: str, path: str) -> int:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        capture = await client.open(name)
        out = asyncio.ensure_future(_pump_out(capture, writer))
        try:
            while data := await reader.read(65536):
                capture.write(data)
                await capture.drain()
        finally:
            capture.close()
            out.cancel()
            writer.close()

    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = await asyncio.start_unix_server(handle, path)
    print(f"serving stream {name} on unix:{path}", file=sys.stderr)
    async with server:
        await client.closed.wait()
    return 0


async def amain(args: argparse.Namespace) -> int:
    client = await _connect(args.server, _password(args.password_file))
    try:
        if args.stream is None:
            for name in await client.list_streams():
                print(name)
            return 0
        await client.wait_for_stream(args.stream, timeout=args.timeout)
        if args.listen:
            addr = ListenAddress.parse(args.listen)
            if addr.path is None:
                raise ConfigError("--listen takes unix:PATH")
            return await serve_unix(client, args.stream, addr.path)
        return await bridge_stdio(client, args.stream)
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="vncterm-stream",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("server", help="HOST:PORT, [IPV6]:PORT or unix:PATH of the vncterm")
    p.add_argument("stream", nargs="?", help="the stream to bridge (omit to list them)")
    p.add_argument("--listen", metavar="unix:PATH", help="serve the stream on a local socket")
    p.add_argument("--password-file", metavar="FILE", help="VNC Authentication password")
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the stream to appear (default 10)",
    )
    args = p.parse_args(argv)
    try:
        return asyncio.run(amain(args))
    except (TimeoutError, ConfigError, ProtocolError, PermissionError, LookupError, OSError) as e:
        print(f"vncterm-stream: {e or type(e).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
