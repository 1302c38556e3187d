"""Runs a real vncterm server inside the test process, on its own event loop thread.

Tests talk to it over TCP with real VNC clients and read its own framebuffer for comparison.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, Self, TypeVar

import numpy as np

from vncterm.config import Config, ListenAddress
from vncterm.server.app import Server
from vncterm.server.session import Session

T = TypeVar("T")


def wait_for_text(
    text: Callable[[], list[str]], needle: str, timeout: float, label: str = ""
) -> list[str]:
    """Poll the screen lines ``text()`` until one shows ``needle``; those lines. Past
    ``timeout`` seconds, an AssertionError (``label``: whose screen) with the screen."""
    deadline = time.monotonic() + timeout
    while True:
        lines = text()
        if any(needle in line for line in lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"{label}{needle!r} never appeared; screen:\n" + "\n".join(lines))
        time.sleep(0.05)


def grab_framebuffer(session: Session) -> np.ndarray:
    """A session's framebuffer with pending changes drawn (call on its loop). A console with no
    viewer has none: one is drawn for the test and freed again."""
    if session.viewers:
        session.refresh()
        return session.renderer.pixels.copy()
    session.terminal.acquire()
    session.refresh()
    pixels = session.renderer.pixels.copy()
    session.terminal.release()
    return pixels


class Runnable(Protocol):
    """What runs on a LoopThread: a Server or a Host."""

    async def start(self) -> None: ...
    async def wait(self) -> int: ...
    def stop(self, signum: int | None = None) -> None: ...


class LoopThread:
    """Runs what :meth:`make` builds on its own event loop thread: started on ``__enter__``
    (its failure raised there), stopped on ``__exit__``; :meth:`call` runs code on that loop."""

    thread_name = "vncterm"
    start_timeout = 10.0

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.exit_status: Future[int] = Future()
        self._started: Future[None] = Future()
        self._running: Runnable | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.thread_name)

    def make(self) -> Runnable:
        """Build what runs (on the loop's thread)."""
        raise NotImplementedError

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            try:
                self._running = self.make()
                await self._running.start()
            except BaseException as e:
                self._started.set_exception(e)
                return
            self._started.set_result(None)
            try:
                self.exit_status.set_result(await self._running.wait())
            except BaseException as e:
                self.exit_status.set_exception(e)

        self.loop.run_until_complete(main())
        # let transports close
        self.loop.run_until_complete(asyncio.sleep(0.05))
        self.loop.close()

    def __enter__(self) -> Self:
        self._thread.start()
        self._started.result(timeout=self.start_timeout)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            if self._running is not None:
                self.loop.call_soon_threadsafe(self._running.stop)
            self._thread.join(timeout=10)

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn`` on the event loop thread and return its result."""
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(run)
        return fut.result(timeout=timeout)


class RunningVncterm(LoopThread):
    """A vncterm server on 127.0.0.1 (a free port) running ``command``."""

    def __init__(self, command: list[str], **config: Any) -> None:
        config.setdefault("listen", [ListenAddress("127.0.0.1", 0)])
        self.config = Config(command=command, **config)
        self.server: Server | None = None
        super().__init__()

    def make(self) -> Server:
        self.server = Server(self.config)
        return self.server

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def framebuffer(self) -> np.ndarray:
        """The server's own framebuffer now (uint32 0x00RRGGBB), after drawing pending changes."""
        assert self.server is not None
        session = self.server.session
        return self.call(lambda: grab_framebuffer(session))

    def text(self) -> list[str]:
        assert self.server is not None
        emulator = self.server.emulator
        return self.call(emulator.text)

    def wait_text(self, needle: str, timeout: float = 10.0) -> list[str]:
        """Wait until the terminal shows ``needle``; the screen lines."""
        return wait_for_text(self.text, needle, timeout)

    def write_console(self, data: bytes) -> None:
        """Type into the console directly (as if from a viewer)."""
        assert self.server is not None
        session = self.server.session
        self.call(lambda: session.write_input(data))
