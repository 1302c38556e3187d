"""Builds a console backend from its configuration."""

from __future__ import annotations

from ..config import ConsoleSpec
from .base import Console
from .device import DeviceConsole
from .process import ProcessConsole
from .socket import SocketConsole
from .spawn import SpawnConsole


def make_console(spec: ConsoleSpec | None, command: list[str], cols: int, rows: int) -> Console:
    """The backend for ``spec``; None means ``command`` on a new pty."""
    if spec is None or spec.kind == "spawn":
        return SpawnConsole(command, cols, rows)
    if spec.kind == "unix":
        return SocketConsole(spec.target, telnet=spec.telnet)
    if spec.kind == "tcp":
        return SocketConsole((spec.host, spec.port), telnet=spec.telnet)
    if spec.kind == "tty":
        return DeviceConsole(spec.target, baud=spec.baud)
    if spec.kind == "exec":
        return ProcessConsole(spec.target)
    raise ValueError(f"unknown console kind {spec.kind!r}")
