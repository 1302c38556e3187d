"""Which console a log line is about: each console's work runs in a context naming it (its
tasks, its readers and its listeners' connections inherit it), and :class:`ConsoleLabel` puts
the name into every record as ``%(console)s`` (``" [NAME]"``, or nothing outside a console)."""

from __future__ import annotations

import contextvars
import logging

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
