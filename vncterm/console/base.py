"""The interface every console backend offers (a byte source and sink).

A backend reads its console continuously and hands every byte to ``on_data``, in order, at once;
it never waits for viewers. ``on_status`` gets human-readable state changes ("connected",
"disconnected: retrying in 2 s") that the session shows on its status row.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

DataCallback = Callable[[bytes], None]
StatusCallback = Callable[[str], None]


class Console(abc.ABC):
    """A console: bytes out of it feed the terminal; keys from viewers go into it."""

    #: True when a resize reaches the program (a pty); serial consoles cannot tell the guest.
    can_resize: bool = False
    #: True while attached (socket connected, device open, process running). Backends that
    #: detach and reattach update it before calling ``on_status``.
    connected: bool = True

    @abc.abstractmethod
    async def start(self, on_data: DataCallback, on_status: StatusCallback) -> None:
        """Begin reading; returns once the console is attached (or retrying in the background)."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Queue bytes for the console (keys, paste). Never blocks; dropped while detached."""

    def resize(self, cols: int, rows: int) -> bool:
        """Tell the program its new size; False when this backend cannot."""
        return False

    def send_break(self) -> bool:
        """Send a serial BREAK (Magic SysRq); False when this backend cannot carry one."""
        return False

    def pause_reading(self) -> None:  # noqa: B027 - optional: backends that can, override
        """Stop reading for now (a tunnelled stream whose capture clients are full)."""

    def resume_reading(self) -> None:  # noqa: B027
        """Undo :meth:`pause_reading`."""

    def pending_write(self) -> int:
        """Bytes accepted by :meth:`write` but not yet handed to the OS."""
        return 0

    @abc.abstractmethod
    async def wait_closed(self) -> int:
        """Wait until the console is gone for good; its exit status (0 when not a process)."""

    async def gone(self) -> None:  # noqa: B027 - optional: backends with a child override
        """After :meth:`close`: until nothing of the console is left running (a spawned child
        has exited, by SIGKILL at the latest); at once for the others."""

    @abc.abstractmethod
    def close(self) -> None:
        """Detach and release everything (a spawned child gets SIGHUP, then SIGKILL if it is
        still there a few seconds later)."""
