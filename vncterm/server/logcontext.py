"""Which console a log line is about: each console's work runs in a context naming it (its
tasks, its readers and its listeners' connections inherit it), and :class:`ConsoleLabel` puts
the name into every record as ``%(console)s`` (``" [NAME]"``, or nothing outside a console)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

CONSOLE: contextvars.ContextVar[str] = contextvars.ContextVar("vncterm_console", default="")


def console_context(name: str) -> contextvars.Context:
    """A copy of the current context in which log records name console ``name``."""
    ctx = contextvars.copy_context()
    ctx.run(CONSOLE.set, name)
    return ctx


class ConsoleLabel(logging.Filter):
    """Adds ``record.console``; attach it to the handlers (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "console"):
            name = CONSOLE.get()
            record.console = f" [{name}]" if name else ""
        return True


class InConsole(asyncio.Protocol):
    """Runs a protocol's callbacks in console ``name``'s context: a viewer that came through
    the host's shared WebSocket listener (whose socket was opened outside any console) logs and
    audits under its console like the others."""

    def __init__(self, inner: asyncio.Protocol, name: str) -> None:
        self.inner = inner
        self.name = name

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if CONSOLE.get() == self.name:
            return fn(*args)
        return console_context(self.name).run(fn, *args)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._run(self.inner.connection_made, transport)

    def data_received(self, data: bytes) -> None:
        self._run(self.inner.data_received, data)

    def eof_received(self) -> bool | None:
        return self._run(self.inner.eof_received)

    def connection_lost(self, exc: Exception | None) -> None:
        self._run(self.inner.connection_lost, exc)

    def pause_writing(self) -> None:
        self._run(self.inner.pause_writing)

    def resume_writing(self) -> None:
        self._run(self.inner.resume_writing)
