"""Command line: ``vncterm [options] [-- CMD ARGS...]`` (one console), ``vncterm --config
FILE`` (the consoles of a file), ``vncterm --list`` (those of a running vncterm)."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence

from .cli_options import PROCESS_KEYS, SHARED_KEYS, build_parser, given_options
from .config import Config, HostConfig, default_state_dir
from .config_build import console_config, host_options
from .config_file import load_config_file
from .control_client import ControlError, format_consoles, query
from .errors import ConfigError
from .server.logcontext import ConsoleLabel

log = logging.getLogger("vncterm")


def config_from_args(argv: Sequence[str] | None = None) -> tuple[Config, int]:
    """The single-console command line into a validated Config and a logging level."""
    host, level = host_config_from_args(argv)
    if not host.single:
        raise ConfigError("--config: many consoles, not one")
    return next(iter(host.consoles.values())), level


def host_config_from_args(argv: Sequence[str] | None = None) -> tuple[HostConfig, int]:
    """The command line into a validated HostConfig and a logging level: the consoles of
    ``--config FILE`` (process-wide options given here win over its ``[vncterm]``), or the one
    console of today's options, named ``--console-name``."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    fds = systemd_fds()
    named = {name: [fd for n, fd in fds if n == name] for name, _ in fds}
    if args.config is not None:
        host = load_config_file(args.config, config_overrides(args))
        return dataclasses.replace(host, named_fds=named), level
    # One console: sockets named after it or "websocket" are routed by name, the others
    # (unnamed: systemd names them after their unit) are its listeners as before names.
    kept = {n: named[n] for n in (args.console_name, "websocket") if n in named}
    others = [f"fd:{fd}" for n, fd in fds if n not in kept]
    config = console_config(args, others or ["127.0.0.1:5900"])
    if config.restart:
        raise ConfigError("--restart is for the consoles of --config (one console ends vncterm)")
    host_fields = host_options(args)
    for shared in ("audit_log", "max_viewers", "stuck_timeout"):
        del host_fields[shared]  # single_console takes them from the console's Config
    host = HostConfig.single_console(config, args.console_name, named_fds=kept, **host_fields)
    config.validate()
    host.validate()
    return host, level


def config_overrides(args: argparse.Namespace) -> dict[str, object]:
    """With ``--config``: the process-wide options given on the command line (argparse dest
    -> value); any console option is an error, the consoles come from the file."""
    overrides: dict[str, object] = {}
    for dest in sorted(given_options(args) - {"config"}):
        key = dest.replace("_", "-")
        if key not in PROCESS_KEYS | SHARED_KEYS:
            raise ConfigError(f"--{key} cannot go with --config (the consoles come from the file)")
        overrides[dest] = getattr(args, dest)
    if args.command:
        raise ConfigError("-- CMD cannot go with --config (the consoles come from the file)")
    return overrides


def systemd_fds() -> list[tuple[str, int]]:
    """(``FileDescriptorName=``, fd) for the sockets passed by systemd socket activation
    (LISTEN_FDS, meant for us when LISTEN_PID is our pid; names from LISTEN_FDNAMES); the
    variables are removed so that no console's child sees them."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)
    return [(names[i] if i < len(names) and names[i] else "unknown", 3 + i) for i in range(count)]


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
    found/not executable (one console on the command line only), 1 when listening failed
    (or, with --list, when no vncterm answered)."""
    try:
        early = build_parser().parse_args(argv)
        if early.hash_password is not None:
            print(hash_password_line(early.hash_password, early.view_only))
            return 0
        if early.list or early.json:
            return list_consoles(early)
        host, level = host_config_from_args(argv)
    except ConfigError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 2
    config = next(iter(host.consoles.values()), None)
    if host.single and config is not None and config.console is None:
        problem = unrunnable(config.command)
        if problem is not None:
            print(f"vncterm: {problem[1]}", file=sys.stderr)
            return problem[0]
    logging.basicConfig(
        level=level, format="%(asctime)s vncterm%(console)s %(levelname)s %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(ConsoleLabel())
    try:
        return serve_host(host)
    except ConfigError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 1


def serve_host(host: HostConfig) -> int:
    """Run the server for ``host`` until it ends; SIGHUP re-reads a config file with the
    same command-line overrides."""
    from .server.app import run_host

    if host.config_path is None:
        return run_host(host)
    return run_host(host, lambda path: load_config_file(path, host.overrides))


def list_consoles(args: argparse.Namespace) -> int:
    """``--list [--json]``: print the consoles of the vncterm running with ``--state-dir``."""
    if not args.list:
        raise ConfigError("--json goes with --list")
    others = given_options(args) - {"list", "json", "state_dir", "verbose"}
    if others or args.command:
        flag = "-- CMD" if not others else "--" + sorted(others)[0].replace("_", "-")
        raise ConfigError(f"{flag} cannot go with --list")
    try:
        answer = query(args.state_dir or default_state_dir())
    except ControlError as e:
        print(f"vncterm: {e}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2) if args.json else format_consoles(answer))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
