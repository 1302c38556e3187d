"""Command line: ``vncterm [options] [-- CMD ARGS...]``."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import logging
import os
import pwd
import shutil
import sys
from collections.abc import Sequence
from typing import Any

from .cli_options import build_parser, parse_geometry
from .config import DEFAULT_WINDOW_OPS, Config, ConsoleSpec, ListenAddress, parse_window_ops
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
    listen = [
        ListenAddress.parse(a) for a in (args.listen or systemd_listen_fds() or ["127.0.0.1:5900"])
    ]
    password = read_password_file(args.password_file) if args.password_file else None
    view_only = (
        read_password_file(args.view_only_password_file) if args.view_only_password_file else None
    )
    if view_only is not None and password is None:
        raise ConfigError("--view-only-password-file needs --password-file too")
    config = Config(
        command=command,
        listen=listen,
        password=password,
        view_only_password=view_only,
        name=args.name,
        cols=cols,
        rows=rows,
        font_size=args.font_size,
        antialias=args.antialias,
        share_policy=args.share_policy,
        insecure=args.insecure,
        console=console,
        stream_name=args.stream_name,
        log_path=args.log,
        streams=[ConsoleSpec.parse_stream(s) for s in args.stream],
        allow_resize=args.allow_resize,
        window_ops=(
            parse_window_ops(args.window_ops) if args.window_ops is not None else DEFAULT_WINDOW_OPS
        ),
        allow_lossy=args.allow_lossy,
        charset=args.charset,
        bold_is_bright=args.bold_bright,
        scrollback=args.scrollback,
        tight_gradient=args.tight_gradient,
        reverse_listen=(ListenAddress.parse(args.reverse_listen) if args.reverse_listen else None),
        desktop=ListenAddress.parse(args.desktop) if args.desktop else None,
        desktop_password=(
            read_password_file(args.desktop_password_file) if args.desktop_password_file else None
        ),
    )
    config = dataclasses.replace(
        config, **security_options(args), **websocket_options(args), **limit_options(args)
    )
    config.validate()
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    return config, level


def systemd_listen_fds() -> list[str]:
    """``fd:3 ... fd:N`` for sockets passed by systemd socket activation (LISTEN_FDS, meant for
    us when LISTEN_PID is our pid); the variables are removed so the console's child does not
    see them."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)
    return [f"fd:{3 + i}" for i in range(count)]


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields of the security option group."""
    from .server.security import read_users_file

    return dict(
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca,
        tls_anon=args.tls_anon,
        plain_users=read_users_file(args.plain_users) if args.plain_users else None,
        audit_log=args.audit_log,
        max_viewers=args.max_viewers,
        stuck_timeout=args.stuck_timeout,
    )


def limit_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields of the limits option group."""
    width, height = parse_geometry(args.max_framebuffer)
    return dict(
        max_captures=args.max_captures,
        max_framebuffer=(width, height),
        scrollback_memory=int(args.scrollback_memory * (1 << 20)),
    )


def websocket_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields of the WebSocket option group."""
    given = args.websocket or []
    off = "off" in given
    if off and len(given) > 1:
        raise ConfigError("--websocket off cannot go with --websocket addresses")
    addresses = [] if off else [ListenAddress.parse(a) for a in given]
    if any(a.path is not None or a.fd is not None for a in addresses):
        raise ConfigError("--websocket takes HOST:PORT or [IPV6]:PORT")
    return dict(
        websocket=addresses,
        websocket_sniff=not given,
        websocket_wait=args.websocket_wait / 1000,
        websocket_tls=args.websocket_tls,
        websocket_origins=tuple(args.websocket_origin),
    )


def hash_password_line(user: str, view_only: bool) -> str:
    """A ``--plain-users`` line for ``user``; the password is read from stdin (prompted twice
    on a terminal)."""
    from .rfb.vencrypt import hash_password

    if ":" in user or not user or user.strip() != user:
        raise ConfigError("a user name must be non-empty, without ':' or outer spaces")
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {user}: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ConfigError("empty password")
    hashed = hash_password(password.encode(), os.urandom(16))
    return f"{user}:{hashed}" + (":view-only" if view_only else "")


def unrunnable(command: list[str]) -> tuple[int, str] | None:
    """Why CMD cannot be started, with a shell's exit status for it (127 not found, 126 not
    executable), so that vncterm says so before it listens; None when it can."""
    name = command[0]
    if shutil.which(name) is not None:
        return None
    if "/" in name and os.path.exists(name):
        what = "a directory" if os.path.isdir(name) else "not executable"
        return 126, f"cannot run {name}: {what}"
    return 127, f"{name}: command not found"


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: the command's own (128+N when signal N ended it), 128+N when vncterm was
    stopped by SIGTERM/SIGINT, 2 for a bad configuration, 127/126 when the command is not
    found/not executable, 1 when listening failed."""
    try:
        early = build_parser().parse_args(argv)
        if early.hash_password is not None:
            print(hash_password_line(early.hash_password, early.view_only))
            return 0
        config, level = config_from_args(argv)
    except ConfigError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 2
    problem = unrunnable(config.command) if config.console is None else None
    if problem is not None:
        print(f"vncterm: {problem[1]}", file=sys.stderr)
        return problem[0]
    logging.basicConfig(level=level, format="%(asctime)s vncterm %(levelname)s %(message)s")
    from .server.app import run

    try:
        return run(config)
    except ConfigError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
