"""The config file of ``vncterm --config FILE`` (TOML, read with stdlib ``tomllib``).

One ``[console.NAME]`` table per console, a ``[defaults]`` table every console takes unless it
sets the key itself, and a ``[vncterm]`` table of process-wide options. Keys are the long
options without their dashes (``password-file = "..."``); each table becomes an argv for the
command line's own parser and Config builder, so every spelling and check is shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from .cli_options import (
    COMMAND_LINE_ONLY,
    PROCESS_KEYS,
    SHARED_KEYS,
    OnceBool,
    Repeat,
    build_parser,
    long_options,
)
from .config import Config, HostConfig
from .config_build import console_config, host_options, shared_console_fields
from .errors import ConfigError

TABLES = ("vncterm", "defaults", "console")
#: The keys that choose a console's backend: a console that sets one of them takes none of
#: them from ``[defaults]`` (a default ``command`` does not fight a console's ``unix``).
BACKEND_KEYS = frozenset({"command", "unix", "tcp", "tty", "qmp"})
#: Keys whose value is a path, relative to the file's directory ...
PATH_KEYS = frozenset(
    {
        "unix",
        "tty",
        "qmp",
        "log",
        "record",
        "password-file",
        "view-only-password-file",
        "desktop-password-file",
        "plain-users",
        "tls-cert",
        "tls-key",
        "tls-ca",
        "audit-log",
        "state-dir",
        "publish-tokens",
        "publish-redis-password-file",
        "web",
    }
)
#: ... or holds one after ``unix:`` (``listen = "unix:vm1.sock"``, streams).
ADDRESS_KEYS = frozenset({"listen", "desktop", "stream"})

Fragments = dict[str, list[str]]


def load_config_file(path: str, overrides: Mapping[str, object] | None = None) -> HostConfig:
    """The validated HostConfig of the file at ``path``; ``overrides`` (argparse dest ->
    value, from the command line) win over its ``[vncterm]`` table. Password and users files
    are read now; ConfigError names the file, the table and the key at fault."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read the config file: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    try:
        return _host_config(data, path, dict(overrides or {}))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _host_config(data: dict[str, Any], path: str, overrides: dict[str, object]) -> HostConfig:
    for key, value in data.items():
        if key not in TABLES:
            what = "table" if isinstance(value, dict) else "key"
            raise ConfigError(
                f"unknown {what} {key!r} (the tables are [vncterm], [defaults] and [console.NAME])"
            )
    tables = {key: _table(data, key) for key in TABLES}
    base = os.path.dirname(os.path.abspath(path))
    parser = build_parser(raising=True)
    options = long_options(parser)
    process = _fragments(tables["vncterm"], "[vncterm]", options, base)
    host_args = _parse(parser, process, "[vncterm]")
    for dest, value in overrides.items():
        setattr(host_args, dest, value)
    try:
        host_fields, shared = host_options(host_args), shared_console_fields(host_args)
    except ConfigError as e:
        raise ConfigError(f"[vncterm] {e}") from None
    defaults = _fragments(tables["defaults"], "[defaults]", options, base)
    consoles: dict[str, Config] = {}
    for name, table in tables["console"].items():
        where = f"[console.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table, not {_kind(table)}")
        own = _fragments(table, where, options, base)
        config = _console(parser, _with_defaults(own, defaults), where)
        consoles[name] = dataclasses.replace(config, **shared)
    template = None
    if host_fields.get("libvirt"):  # the domains libvirt finds are configured by [defaults]
        template = dataclasses.replace(_console(parser, defaults, "[defaults]"), **shared)
    host = HostConfig(
        consoles=consoles,
        config_path=os.path.abspath(path),
        overrides=overrides,
        console_template=template,
        **host_fields,
    )
    host.validate()
    return host


def _with_defaults(own: Fragments, defaults: Fragments) -> Fragments:
    """A console's keys over ``[defaults]``; the backend keys count as one (BACKEND_KEYS)."""
    if BACKEND_KEYS & own.keys():
        defaults = {k: v for k, v in defaults.items() if k not in BACKEND_KEYS}
    return {**defaults, **own}


def _console(parser: argparse.ArgumentParser, fragments: Fragments, where: str) -> Config:
    """One console's Config, built as the command line builds its console's."""
    args = _parse(parser, fragments, where)
    try:
        return console_config(args, default_listen=())
    except ConfigError as e:
        raise ConfigError(f"{where} {e}") from None


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key!r} must be a table [{key}], not {_kind(value)}")
    return value


def _parse(parser: argparse.ArgumentParser, fragments: Fragments, where: str) -> argparse.Namespace:
    """The table's options parsed by the command line's parser (the command last)."""
    argv = [arg for key, frag in fragments.items() if key != "command" for arg in frag]
    argv += fragments.get("command", [])
    try:
        return parser.parse_args(argv)
    except ConfigError as e:
        message = re.sub(r"^argument --([\w-]+)(/--[\w-]+)?:", r"key '\1':", str(e))
        raise ConfigError(f"{where} {message}") from None


def _fragments(
    table: Mapping[str, object], where: str, options: Mapping[str, argparse.Action], base: str
) -> Fragments:
    """Each key of ``table`` as command-line arguments, checked against the option table."""
    process = where == "[vncterm]"
    out: Fragments = {}
    for key, value in table.items():
        if key == "command" and not process:
            out[key] = ["--", *_strings(value, where, key, allow_one=False)]
            continue
        action = options.get(key)
        if action is None or key in COMMAND_LINE_ONLY or key == "help":
            raise ConfigError(f"{where} unknown key {key!r}")
        if process and key not in PROCESS_KEYS | SHARED_KEYS:
            raise ConfigError(
                f"[vncterm] unknown key {key!r}: console keys go in [defaults] or [console.NAME]"
            )
        if not process and key in PROCESS_KEYS:
            raise ConfigError(
                f"{where} key {key!r} belongs in [vncterm] (it applies to the whole process)"
            )
        out[key] = _arguments(key, value, action, where, base)
    return out


def _arguments(
    key: str, value: object, action: argparse.Action, where: str, base: str
) -> list[str]:
    """One key's value as ``--key=VALUE`` arguments (``--no-key`` for a false BooleanOptional)."""
    if action.nargs == 0:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} key {key!r} must be true or false, not {_kind(value)}")
        if isinstance(action, OnceBool):
            return [f"--{key}" if value else f"--no-{key}"]
        return [f"--{key}"] if value else []
    if key == "stream":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(
                f"{where} key 'stream' must be a table of NAME = \"SPEC\", not {_kind(value)}"
            )
        return [f"--stream={name}={_path(key, spec, base)}" for name, spec in value.items()]
    if isinstance(action, Repeat):
        return [f"--{key}={_path(key, v, base)}" for v in _strings(value, where, key)]
    if action.type is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ConfigError(f"{where} key {key!r} must be an integer, not {_kind(value)}")
    if action.type is float and (not isinstance(value, int | float) or isinstance(value, bool)):
        raise ConfigError(f"{where} key {key!r} must be a number, not {_kind(value)}")
    if action.type is None and not isinstance(value, str):
        raise ConfigError(f"{where} key {key!r} must be a string, not {_kind(value)}")
    return [f"--{key}={_path(key, str(value), base)}"]


def _strings(value: object, where: str, key: str, allow_one: bool = True) -> list[str]:
    """A list of strings (or, where ``allow_one``, a single string)."""
    if allow_one and isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    shape = "a string or a list of strings" if allow_one else "a non-empty list of strings"
    raise ConfigError(f"{where} key {key!r} must be {shape}, not {_kind(value)}")


def _path(key: str, value: str, base: str) -> str:
    """``value`` with its path made relative to the file's directory ``base``."""
    if key in ADDRESS_KEYS:
        if value.startswith("unix:") and len(value) > 5:
            return "unix:" + _join(base, value[5:])
        return value
    if key not in PATH_KEYS or (key == "audit-log" and value == "journal"):
        return value
    path, comma, rest = value.partition(",") if key == "tty" else (value, "", "")
    return _join(base, path) + comma + rest


def _join(base: str, path: str) -> str:
    return os.path.join(base, os.path.expanduser(path))


def _kind(value: object) -> str:
    """A TOML value's kind, for messages."""
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
