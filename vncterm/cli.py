"""Command line: ``vncterm [options] [-- CMD ARGS...]``."""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import sys
from collections.abc import Sequence

from . import __version__
from .config import SHARE_POLICIES, Config, ConsoleSpec, ListenAddress
from .errors import ConfigError

log = logging.getLogger("vncterm")


def default_shell() -> str:
    shell = os.environ.get("SHELL")
    if shell:
        return shell
    try:
        return pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"
    except KeyError:
        return "/bin/sh"


def read_password_file(path: str) -> bytes:
    """The first line of ``path``; VNC Authentication uses at most 8 bytes of it."""
    try:
        with open(path, "rb") as f:
            password = f.readline().rstrip(b"\r\n")
    except OSError as e:
        raise ConfigError(f"cannot read password file: {e}") from None
    if not password:
        raise ConfigError(f"password file {path} is empty")
    if len(password) > 8:
        log.warning("VNC Authentication uses only the first 8 bytes of the password")
    return password


def parse_geometry(text: str) -> tuple[int, int]:
    cols, sep, rows = text.lower().partition("x")
    if not sep or not cols.isdigit() or not rows.isdigit():
        raise ConfigError(f"bad geometry {text!r}: use COLSxROWS, e.g. 80x25")
    return int(cols), int(rows)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vncterm",
        description="A VNC server whose screen is a terminal: runs CMD (default: your shell) "
                    "on a new pty and serves it to any VNC viewer.",
        epilog="Exit status: the command's own; 2 for a bad configuration.",
    )
    p.add_argument("--listen", action="append", metavar="ADDR",
                   help="HOST:PORT, [IPV6]:PORT or unix:PATH (repeatable; default 127.0.0.1:5900)")
    p.add_argument("--password-file", metavar="FILE",
                   help="require VNC Authentication with the password on the file's first line")
    p.add_argument("--view-only-password-file", metavar="FILE",
                   help="a second password for viewers that may watch but not type, paste, "
                        "resize or use streams")
    p.add_argument("--name", default="", help='desktop name (default "CMD on HOSTNAME")')
    p.add_argument("--geometry", default="80x25", metavar="COLSxROWS", help="terminal size")
    p.add_argument("--font-size", type=int, default=15, metavar="PX", help="font size in pixels")
    p.add_argument("--antialias", action="store_true",
                   help="antialiased glyphs (more colours per cell: more bytes on the wire)")
    p.add_argument("--share-policy", choices=SHARE_POLICIES, default="force-shared",
                   help="force-shared: a viewer asking for exclusive access never drops others")
    p.add_argument("--insecure", action="store_true",
                   help="allow listening beyond loopback without a password")
    c = p.add_argument_group("consoles (default: a command on a new pty)")
    c.add_argument("--unix", metavar="PATH",
                   help="a QEMU serial socket: -serial unix:PATH,server=on,wait=off")
    c.add_argument("--tcp", metavar="HOST:PORT",
                   help="a QEMU serial socket: -serial tcp:HOST:PORT,server=on,wait=off")
    c.add_argument("--telnet", action="store_true",
                   help="the --unix/--tcp chardev has telnet=on (negotiation stripped; BREAK works)")
    c.add_argument("--tty", metavar="PATH[,baud=N]", help="an existing tty or serial device")
    c.add_argument("--log", metavar="FILE", help="append every console byte to FILE")
    c.add_argument("--stream-name", default="console", metavar="NAME",
                   help="the console's name as a tunnelled stream (default console)")
    c.add_argument("--stream", action="append", default=[], metavar="NAME=SPEC",
                   help="an extra tunnelled stream, not rendered: NAME=unix:PATH, "
                        "NAME=tcp:HOST:PORT or NAME=exec:CMD (repeatable)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    p.add_argument("--version", action="version", version=f"vncterm {__version__}")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS... to run")
    return p


def config_from_args(argv: Sequence[str] | None = None) -> tuple[Config, int]:
    """Parse the command line into a validated Config and a logging level."""
    args = build_parser().parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    chosen = [o for o in ("unix", "tcp", "tty") if getattr(args, o)]
    if len(chosen) > 1 or (chosen and command):
        raise ConfigError("choose one console: --unix, --tcp, --tty or -- CMD")
    console = None
    if args.unix:
        console = ConsoleSpec("unix", args.unix, telnet=args.telnet)
    elif args.tcp:
        addr = ListenAddress.parse(args.tcp)
        console = ConsoleSpec("tcp", host=addr.host, port=addr.port, telnet=args.telnet)
    elif args.tty:
        console = ConsoleSpec.parse_tty(args.tty)
    elif args.telnet:
        raise ConfigError("--telnet goes with --unix or --tcp")
    if not command and console is None:
        command = [default_shell()]
    cols, rows = parse_geometry(args.geometry)
    listen = [ListenAddress.parse(a) for a in (args.listen or ["127.0.0.1:5900"])]
    password = read_password_file(args.password_file) if args.password_file else None
    view_only = (read_password_file(args.view_only_password_file)
                 if args.view_only_password_file else None)
    if view_only is not None and password is None:
        raise ConfigError("--view-only-password-file needs --password-file too")
    config = Config(command=command, listen=listen, password=password,
                    view_only_password=view_only, name=args.name,
                    cols=cols, rows=rows, font_size=args.font_size, antialias=args.antialias,
                    share_policy=args.share_policy, insecure=args.insecure, console=console,
                    stream_name=args.stream_name, log_path=args.log,
                    streams=[ConsoleSpec.parse_stream(s) for s in args.stream])
    config.validate()
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    return config, level


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config, level = config_from_args(argv)
    except ConfigError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s vncterm %(levelname)s %(message)s")
    from .server.app import run

    try:
        return run(config)
    except OSError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
