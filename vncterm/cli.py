"""Command line: ``vncterm [options] [-- CMD ARGS...]``."""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import sys
from collections.abc import Sequence

from . import __version__
from .config import SHARE_POLICIES, Config, ListenAddress
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
    p.add_argument("--name", default="", help='desktop name (default "CMD on HOSTNAME")')
    p.add_argument("--geometry", default="80x25", metavar="COLSxROWS", help="terminal size")
    p.add_argument("--font-size", type=int, default=15, metavar="PX", help="font size in pixels")
    p.add_argument("--antialias", action="store_true",
                   help="antialiased glyphs (more colours per cell: more bytes on the wire)")
    p.add_argument("--share-policy", choices=SHARE_POLICIES, default="force-shared",
                   help="force-shared: a viewer asking for exclusive access never drops others")
    p.add_argument("--insecure", action="store_true",
                   help="allow listening beyond loopback without a password")
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
    if not command:
        command = [default_shell()]
    cols, rows = parse_geometry(args.geometry)
    listen = [ListenAddress.parse(a) for a in (args.listen or ["127.0.0.1:5900"])]
    password = read_password_file(args.password_file) if args.password_file else None
    config = Config(command=command, listen=listen, password=password, name=args.name,
                    cols=cols, rows=rows, font_size=args.font_size, antialias=args.antialias,
                    share_policy=args.share_policy, insecure=args.insecure)
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
