"""Parsed options into configuration: one console's :class:`Config` and the process-wide
fields of a :class:`HostConfig`, from the command line or from a config file's tables (which
become the same options, so both share every spelling and check)."""

from __future__ import annotations

import argparse
import logging
import os
import pwd
from collections.abc import Sequence
from typing import Any

from .cli_options import parse_geometry, parse_port_range
from .config import (
    DEFAULT_WINDOW_OPS,
    Config,
    ConsoleSpec,
    ListenAddress,
    PublishConfig,
    default_state_dir,
    parse_window_ops,
)
from .errors import ConfigError
from .users import PlainUser

log = logging.getLogger("vncterm")


def default_shell() -> str:
    shell = os.environ.get("SHELL")
    if shell:
        return shell
    try:
        return pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"
    except KeyError:
        return "/bin/sh"


def read_password_file(path: str, limit: int | None = 8) -> bytes:
    """The first line of ``path``; VNC Authentication uses at most 8 bytes of it (``limit``
    None: a password for something else, e.g. Redis)."""
    try:
        with open(path, "rb") as f:
            password = f.readline().rstrip(b"\r\n")
    except OSError as e:
        raise ConfigError(f"cannot read password file: {e}") from None
    if not password:
        raise ConfigError(f"password file {path} is empty")
    if limit is not None and len(password) > limit:
        log.warning("VNC Authentication uses only the first 8 bytes of the password")
    return password


def read_users_file(path: str) -> dict[str, PlainUser]:
    """The ``--plain-users`` file (format in :func:`vncterm.rfb.vencrypt.parse_users`)."""
    from .rfb import vencrypt

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read users file: {e}") from None
    try:
        users = vencrypt.parse_users(text)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    if not users:
        raise ConfigError(f"users file {path} lists no user")
    return users


def console_spec(args: argparse.Namespace, command: list[str]) -> ConsoleSpec | None:
    """The console chosen by ``--unix``, ``--tcp`` or ``--tty``; None: run ``command``."""
    chosen = [o for o in ("unix", "tcp", "tty") if getattr(args, o)]
    if len(chosen) > 1 or (chosen and command):
        raise ConfigError("choose one console: --unix, --tcp, --tty or -- CMD")
    if args.unix:
        return ConsoleSpec("unix", args.unix, telnet=args.telnet)
    if args.tcp:
        addr = ListenAddress.parse(args.tcp)
        return ConsoleSpec("tcp", host=addr.host, port=addr.port, telnet=args.telnet)
    if args.tty:
        return ConsoleSpec.parse_tty(args.tty)
    if args.telnet:
        raise ConfigError("--telnet goes with --unix or --tcp")
    return None


def console_config(args: argparse.Namespace, default_listen: Sequence[str]) -> Config:
    """One console's Config (not yet validated) from its parsed options; ``default_listen``
    when it names no ``--listen`` (empty: a port from the host's range)."""
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    console = console_spec(args, command)
    if not command and console is None and not args.qmp:
        command = [default_shell()]
    cols, rows = parse_geometry(args.geometry)
    listen = [ListenAddress.parse(a) for a in (args.listen or default_listen)]
    password = read_password_file(args.password_file) if args.password_file else None
    view_only = (
        read_password_file(args.view_only_password_file) if args.view_only_password_file else None
    )
    if view_only is not None and password is None:
        raise ConfigError("--view-only-password-file needs --password-file too")
    return Config(
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
        qmp=args.qmp,
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
        restart=args.restart,
        keepalive=args.keepalive,
        **security_options(args),
        **websocket_options(args),
        **limit_options(args),
        **record_options(args),
    )


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields of the security option group."""
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


def record_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields of the recording and screen-keeping options."""
    return dict(
        record_path=args.record,
        record_input=args.record_input,
        record_max_size=int(args.record_max_size * (1 << 20)),
        record_keep=args.record_keep,
        restore_screen=args.restore_screen,
        paste_rate=args.paste_rate,
        paste_line_delay=None if args.paste_line_delay is None else args.paste_line_delay / 1000,
        input_policy=args.input,
        input_idle=args.input_idle,
        tell_size=args.tell_size,
        tell_size_prompt=args.tell_size_prompt,
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
        websocket_ping=args.websocket_ping,
        web=args.web,
    )


#: The process-wide Config fields every console of a host takes from the host's options.
CONSOLE_SHARED = (
    "audit_log",
    "max_viewers",
    "stuck_timeout",
    "insecure",
    "websocket_sniff",
    "websocket_wait",
    "websocket_origins",
    "websocket_ping",
    "web",
)


def host_options(args: argparse.Namespace) -> dict[str, Any]:
    """The HostConfig fields of the process-wide options (a config file's ``[vncterm]``)."""
    ws = websocket_options(args)
    return dict(
        state_dir=args.state_dir or default_state_dir(),
        port_range=parse_port_range(args.port_range),
        listen_host=args.listen_host,
        audit_log=args.audit_log,
        max_viewers=args.max_viewers,
        stuck_timeout=args.stuck_timeout,
        websocket=ws["websocket"],
        websocket_tls=ws["websocket_tls"],
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        websocket_wait=ws["websocket_wait"],
        websocket_origins=ws["websocket_origins"],
        websocket_ping=ws["websocket_ping"],
        web=ws["web"],
        insecure=args.insecure,
        libvirt=args.libvirt,
        libvirt_force_console=args.libvirt_force_console,
        publish=publish_options(args),
    )


def publish_options(args: argparse.Namespace) -> PublishConfig:
    """The HostConfig.publish of the token and publishing options."""
    password = None
    if args.publish_redis_password_file:
        password = read_password_file(args.publish_redis_password_file, limit=None).decode()
    given = {"host_id": args.host_id} if args.host_id else {}
    return PublishConfig(
        token_names=args.token_names,
        token_dir=args.publish_tokens,
        redis=args.publish_redis,
        redis_password=password,
        redis_namespace=args.publish_redis_namespace,
        expiry=args.publish_expiry,
        advertise=args.advertise,
        **given,
    )


def shared_console_fields(args: argparse.Namespace) -> dict[str, Any]:
    """What each console of a config file takes from ``[vncterm]`` (see CONSOLE_SHARED)."""
    ws = websocket_options(args)
    fields = {**vars(args), **ws}
    return {name: fields[name] for name in CONSOLE_SHARED}
