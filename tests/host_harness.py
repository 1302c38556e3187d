"""Runs a real vncterm host of several consoles inside the test process, on its own event loop
thread (as ``harness.RunningVncterm`` runs one console), and hands out one console's view with
the same reading methods, so the helpers written for one console work on each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import numpy as np
from harness import LoopThread, grab_framebuffer, wait_for_text

from vncterm.config import Config, HostConfig
from vncterm.control_client import query
from vncterm.server.console_service import ConsoleService
from vncterm.server.host import Host, Reload

T = TypeVar("T")


class RunningHost(LoopThread):
    """``Host(config)`` started on a thread; a context manager that always stops it."""

    thread_name = "vncterm-host"
    start_timeout = 20.0

    def __init__(self, config: HostConfig, reload: Reload | None = None, **host: Any) -> None:
        self.config = config
        self.reload = reload
        self._host = host  # more arguments of Host (control=False: no state directory)
        self.host: Host | None = None
        super().__init__()

    def make(self) -> Host:
        self.host = Host(self.config, reload=self.reload, **self._host)
        return self.host

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Await ``coro`` on the host's loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add(self, name: str, config: Config) -> ConsoleView:
        assert self.host is not None
        self.run(self.host.add_console(name, config))
        return self[name]

    def remove(self, name: str) -> None:
        assert self.host is not None
        self.run(self.host.remove_console(name))

    def __getitem__(self, name: str) -> ConsoleView:
        assert self.host is not None
        return ConsoleView(self, self.call(lambda: self.host.services[name]))  # type: ignore[union-attr]

    @property
    def websocket_port(self) -> int:
        assert self.host is not None
        return self.host.websocket_addresses[0][1]

    def listing(self) -> dict[str, Any]:
        """What the control socket answers to ``list`` (what ``vncterm --list --json`` shows)."""
        return query(self.config.state_dir)

    def status(self, name: str) -> dict[str, Any]:
        """One console's entry in the listing."""
        for entry in self.listing()["consoles"]:
            if entry["name"] == name:
                return dict(entry)
        raise LookupError(f"{name} is not listed")


class ConsoleView:
    """One console of a running host, read like ``harness.RunningVncterm``."""

    def __init__(self, host: RunningHost, service: ConsoleService) -> None:
        self.host = host
        self.service = service
        self.name = service.name

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        return self.host.call(fn, timeout)

    @property
    def port(self) -> int:
        for a in self.service.addresses:
            if isinstance(a, tuple):
                return int(a[1])
        raise LookupError(f"console {self.name} listens on no TCP port")

    def framebuffer(self) -> np.ndarray:
        """The console's own framebuffer now (uint32 0x00RRGGBB), pending changes drawn."""
        session = self.service.session
        return self.call(lambda: grab_framebuffer(session))

    def text(self) -> list[str]:
        return self.call(self.service.emulator.text)

    def wait_text(self, needle: str, timeout: float = 10.0) -> list[str]:
        """Wait until the console's screen shows ``needle``; the screen lines."""
        return wait_for_text(self.text, needle, timeout, f"{self.name}: ")

    def write_console(self, data: bytes) -> None:
        """Type into the console directly (as if from a viewer)."""
        session = self.service.session
        self.call(lambda: session.write_input(data))

    def status_row(self) -> str:
        """The status row the console's viewers see now ('' when none)."""
        return self.call(lambda: self.service.session.status.text() or "")

    def wait_status_row(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while needle not in (row := self.status_row()):
            assert time.monotonic() < deadline, f"{self.name}: status row {row!r}, not {needle!r}"
            time.sleep(0.05)
        return row

    def viewers(self) -> int:
        return self.call(lambda: len(self.service.session.viewers))
