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
        epilog="Exit status: the command's own (128+N when signal N killed it); 128+N when "
        "SIGTERM/SIGINT stopped vncterm; 2 for a bad configuration; 127 when CMD is "
        "not found, 126 when it is not executable (both before listening); 1 when "
        "listening failed.",
    )
    p.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="HOST:PORT, [IPV6]:PORT, unix:PATH or fd:N (a listening socket "
        "inherited as file descriptor N); repeatable; default 127.0.0.1:5900 "
        "(systemd's sockets under socket activation)",
    )
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="require VNC Authentication with the password on the file's first line",
    )
    p.add_argument(
        "--view-only-password-file",
        metavar="FILE",
        help="a second password for viewers that may watch but not type, paste, "
        "resize or use streams",
    )
    p.add_argument("--name", default="", help='desktop name (default "CMD on HOSTNAME")')
    p.add_argument(
        "--geometry", default="80x25", metavar="COLSxROWS", help="terminal size (default 80x25)"
    )
    p.add_argument(
        "--font-size",
        type=int,
        default=15,
        metavar="PX",
        help="font size in pixels (default 15: cells of 9x18 pixels)",
    )
    p.add_argument(
        "--scrollback",
        type=int,
        default=10000,
        metavar="LINES",
        help="lines kept above the screen (Shift+PgUp, the wheel); default 10000",
    )
    p.add_argument(
        "--antialias",
        action="store_true",
        help="antialiased glyphs (more colours per cell: more bytes on the wire)",
    )
    p.add_argument(
        "--allow-resize",
        action="store_true",
        help="let viewers resize a serial console's terminal (the guest is not told)",
    )
    p.add_argument(
        "--allow-lossy",
        action="store_true",
        help="JPEG for non-text areas when a viewer asks for a quality level",
    )
    p.add_argument(
        "--tight-gradient",
        action="store_true",
        help="Tight's gradient filter for photo-like areas (noVNC decodes it from 1.5)",
    )
    p.add_argument(
        "--share-policy",
        choices=SHARE_POLICIES,
        default="force-shared",
        help="force-shared (default): a viewer asking for exclusive access never drops others",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow listening beyond loopback without a password (and accepting "
        "desktops beyond loopback)",
    )
    d = p.add_argument_group(
        "a guest's own desktop, shown instead of the console while it is up "
        "(Ctrl-Alt-1 console, Ctrl-Alt-2 desktop)"
    )
    d.add_argument(
        "--reverse-listen",
        metavar="HOST:PORT",
        help="accept reverse connections from the guest's VNC server "
        "(vncconfig -connect, x11vnc -connect), one at a time; beyond "
        "loopback only with --insecure",
    )
    d.add_argument(
        "--desktop",
        metavar="HOST:PORT|unix:PATH",
        help="connect to a VNC server (e.g. QEMU's own VNC display)",
    )
    d.add_argument("--desktop-password-file", metavar="FILE", help="the desktop's VNC password")
    c = p.add_argument_group("consoles (default: a command on a new pty)")
    c.add_argument(
        "--unix", metavar="PATH", help="a QEMU serial socket: -serial unix:PATH,server=on,wait=off"
    )
    c.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="a QEMU serial socket: -serial tcp:HOST:PORT,server=on,wait=off",
    )
    c.add_argument(
        "--telnet",
        action="store_true",
        help="the --unix/--tcp chardev has telnet=on (negotiation stripped; BREAK works)",
    )
    c.add_argument("--tty", metavar="PATH[,baud=N]", help="an existing tty or serial device")
    c.add_argument(
        "--charset",
        choices=("utf-8", "cp437", "latin-1"),
        default="utf-8",
        help="what the console sends: UTF-8 (default), or CP437/Latin-1 (boot loaders, BIOS)",
    )
    c.add_argument(
        "--bold-bright",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw bold text in colours 0-7 in their bright versions 8-15 too, as "
        "xterm does (default: on)",
    )
    c.add_argument("--log", metavar="FILE", help="append every console byte to FILE")
    c.add_argument(
        "--stream-name",
        default="console",
        metavar="NAME",
        help="the console's name as a tunnelled stream (default console)",
    )
    c.add_argument(
        "--stream",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="an extra tunnelled stream, not rendered: NAME=unix:PATH, "
        "NAME=tcp:HOST:PORT or NAME=exec:CMD (repeatable)",
    )
    s = p.add_argument_group("security (VeNCrypt TLS, users, limits, audit)")
    s.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="offer VeNCrypt with this certificate chain (X509None/X509Vnc/X509Plain)",
    )
    s.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    s.add_argument("--tls-ca", metavar="PEM", help="require client certificates issued by this CA")
    s.add_argument(
        "--tls-anon",
        action="store_true",
        help="also offer anonymous TLS (TLSNone/TLSVnc/TLSPlain; no server identity)",
    )
    s.add_argument(
        "--plain-users",
        metavar="FILE",
        help="X509Plain users: NAME:HASH[:view-only] per line (see --hash-password)",
    )
    s.add_argument(
        "--hash-password",
        metavar="USER",
        help="print a --plain-users line for USER (password from stdin) and exit",
    )
    s.add_argument(
        "--view-only", action="store_true", help="with --hash-password: mark the user view-only"
    )
    s.add_argument(
        "--audit-log",
        metavar="FILE|journal",
        help="JSON-lines audit log of connections, authentication and input",
    )
    s.add_argument(
        "--max-viewers",
        type=int,
        metavar="N",
        help="refuse connections beyond N at once (handshaking ones included)",
    )
    s.add_argument(
        "--stuck-timeout",
        type=float,
        default=20.0,
        metavar="S",
        help="drop a viewer whose send buffer stays full for S seconds (default 20)",
    )
    lim = p.add_argument_group("limits on what viewers can make vncterm hold")
    lim.add_argument(
        "--max-captures",
        type=int,
        default=16,
        metavar="N",
        help="stream captures one viewer may hold at once (default 16)",
    )
    lim.add_argument(
        "--max-framebuffer",
        default="4096x4096",
        metavar="WxH",
        help="the largest screen a viewer may resize to, in pixels "
        "(default 4096x4096, at most 8192x8192)",
    )
    lim.add_argument(
        "--scrollback-memory",
        type=float,
        default=64,
        metavar="MIB",
        help="memory the scrollback may take, in MiB (default 64); the oldest lines go first",
    )
    w = p.add_argument_group("browsers (WebSocket, RFC 6455: noVNC without websockify)")
    w.add_argument(
        "--websocket",
        action="append",
        metavar="HOST:PORT|off",
        help="a WebSocket-only listener (repeatable); the --listen addresses then "
        "speak plain RFB with no wait; 'off': no WebSocket at all (default: "
        "WebSocket also on the --listen addresses, after a short wait)",
    )
    w.add_argument(
        "--websocket-wait",
        type=float,
        default=50.0,
        metavar="MS",
        help="how long a connection to a --listen address waits for a WebSocket "
        "request before the VNC banner (default 50)",
    )
    w.add_argument(
        "--websocket-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow only this Origin (e.g. https://console.example.com; * for any; "
        "repeatable); default: any when viewers must authenticate, else "
        "loopback origins only",
    )
    w.add_argument(
        "--websocket-tls",
        action="store_true",
        help="TLS (wss) on the --websocket listeners with --tls-cert/--tls-key",
    )
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
