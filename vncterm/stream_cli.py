"""``vncterm-stream``: list a vncterm's tunnelled streams, or bridge one to stdio or a socket.

vncterm-stream HOST:PORT                  list the streams (--states: and their states;
                                          --wait NAME: once NAME is there; --watch: every
                                          change as it comes)
vncterm-stream HOST:PORT NAME             bridge NAME to stdin/stdout (raw mode on a tty;
                                          Ctrl-] quits, like telnet and virsh console)
vncterm-stream HOST:PORT NAME --listen unix:PATH
                                          serve NAME to every local client of PATH
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import ssl
import sys
import termios
import tty
from collections.abc import Sequence

from . import __version__
from .client import Capture, StreamClient, TlsOptions
from .config import ListenAddress
from .errors import ConfigError, ProtocolError
from .rfb.streams import StreamChange, StreamState

ESCAPE = b"\x1d"  # Ctrl-]
#: With stdin not a terminal, after it ends, output is copied until quiet this long.
IDLE_AFTER_EOF = 1.0


def _password(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.readline().rstrip(b"\r\n")


def _ask_password(prompt: str) -> bytes | None:
    """A password typed on the controlling terminal; None without one (stdin may be the
    stream's data, never a password)."""
    try:
        with open("/dev/tty", "rb"):
            pass
    except OSError:
        return None
    return getpass.getpass(prompt).encode()


def _tls_options(args: argparse.Namespace) -> TlsOptions | None:
    """TLS options, if any was given (then the server must offer VeNCrypt)."""
    if args.tls_ca is None and args.tls_server_name is None and args.tls_cert is None:
        return None
    if args.tls_key is not None and args.tls_cert is None:
        raise ConfigError("--tls-key needs --tls-cert")
    options = TlsOptions(args.tls_ca, args.tls_server_name, args.tls_cert, args.tls_key)
    try:
        options.context()  # the files load: say so now, not mid-handshake
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot load the TLS CA/certificate/key: {e}") from None
    return options


async def _connect(args: argparse.Namespace) -> StreamClient:
    addr = ListenAddress.parse(args.server)
    return await StreamClient.connect(
        addr.host if addr.path is None else None,
        addr.port,
        path=addr.path,
        password=_password(args.password_file),
        user=args.user,
        tls=_tls_options(args),
        ask_password=_ask_password,
    )


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


def state_text(state: StreamState | None) -> str:
    """A stream's state in words: the guest's side, then vncterm's."""
    if state is None:
        return "state unknown"
    guest = {None: "guest -", True: "guest open", False: "guest closed"}[state.guest_open]
    return f"{guest}, {'attached' if state.connected else 'not attached'}"


def change_text(change: StreamChange) -> str:
    """One line of ``--watch``: ``+ NAME``, ``- NAME`` or ``= NAME: STATE``."""
    if isinstance(change, StreamState):
        return f"= {change.name}: {state_text(change)}"
    name, added = change
    return f"{'+' if added else '-'} {name}"


async def list_streams(client: StreamClient, args: argparse.Namespace) -> int:
    """List the streams (after ``--wait``), with ``--states``; or ``--watch`` the changes."""
    for name in args.wait:
        await client.wait_for_stream(name, timeout=args.timeout)
    if args.watch:
        async for change in client.changes():
            print(change_text(change), flush=True)
        return 0
    for name in await client.list_streams():
        print(f"{name}\t{state_text(client.states.get(name))}" if args.states else name)
    return 0


async def amain(args: argparse.Namespace) -> int:
    client = await _connect(args)
    try:
        if args.stream is None:
            return await list_streams(client, args)
        await client.wait_for_stream(args.stream, timeout=args.timeout)
        if args.listen:
            addr = ListenAddress.parse(args.listen)
            if addr.path is None:
                raise ConfigError("--listen takes unix:PATH")
            return await serve_unix(client, args.stream, addr.path)
        return await bridge_stdio(client, args.stream)
    finally:
        await client.close()


DESCRIPTION = """\
List a vncterm's tunnelled streams, or bridge one to stdin/stdout or a local socket.

  vncterm-stream HOST:PORT                  list the streams (--states, --wait NAME,
                                            --watch)
  vncterm-stream HOST:PORT NAME             bridge NAME to stdin/stdout (raw mode on a
                                            terminal; Ctrl-] quits)
  vncterm-stream HOST:PORT NAME --listen unix:PATH
                                            serve NAME to every local client of PATH

TLS (VeNCrypt) is used whenever the server offers it: its certificate is checked
against the system's CA store (or --tls-ca) for the host name connected to (or
--tls-server-name). A password, when the server wants one and no --password-file
is given, is asked for on the terminal."""


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="vncterm-stream",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("server", help="HOST:PORT, [IPV6]:PORT or unix:PATH of the vncterm")
    p.add_argument("stream", nargs="?", help="the stream to bridge (omit to list them)")
    p.add_argument("--listen", metavar="unix:PATH", help="serve the stream on a local socket")
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="the password (VNC Authentication, or Plain with --user), first line",
    )
    p.add_argument("--user", metavar="NAME", help="user name for VeNCrypt X509Plain")
    p.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="CA certificate(s) the server's certificate must be signed by "
        "(default: the system's store)",
    )
    p.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="the name the server's certificate must be for (default: the host "
        "connected to; localhost for unix:PATH)",
    )
    p.add_argument(
        "--tls-cert", metavar="PEM", help="client certificate, for servers that require one"
    )
    p.add_argument("--tls-key", metavar="PEM", help="its key, if not in --tls-cert")
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the stream to appear (default 10)",
    )
    p.add_argument(
        "--wait",
        action="append",
        default=[],
        metavar="NAME",
        help="(listing) first wait, up to --timeout, for stream NAME to appear (repeatable)",
    )
    p.add_argument(
        "--states",
        action="store_true",
        help="(listing) each stream's state too: the guest has it open or not, vncterm "
        "attached to it or not",
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="(listing) print every stream added (+), removed (-) and state (=) as it comes, "
        "until the server ends the connection",
    )
    p.add_argument("--version", action="version", version=f"vncterm-stream {__version__}")
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
