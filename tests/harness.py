"""Runs a real vncterm server inside the test process, on its own event loop thread.

Tests talk to it over TCP with real VNC clients and read its own framebuffer for comparison.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import numpy as np

from vncterm.config import Config, ListenAddress
from vncterm.server.app import Server

T = TypeVar("T")


class RunningVncterm:
    """A vncterm server on 127.0.0.1 (a free port) running ``command``."""

    def __init__(self, command: list[str], **config: Any) -> None:
        config.setdefault("listen", [ListenAddress("127.0.0.1", 0)])
        self.config = Config(command=command, **config)
        self.server: Server | None = None
        self.loop = asyncio.new_event_loop()
        self.exit_status: Future[int] = Future()
        self._started: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, daemon=True, name="vncterm")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            try:
                self.server = Server(self.config)
                await self.server.start()
            except BaseException as e:
                self._started.set_exception(e)
                return
            self._started.set_result(None)
            try:
                self.exit_status.set_result(await self.server.wait())
            except BaseException as e:
                self.exit_status.set_exception(e)

        self.loop.run_until_complete(main())
        # let transports close
        self.loop.run_until_complete(asyncio.sleep(0.05))
        self.loop.close()

    def __enter__(self) -> RunningVncterm:
        self._thread.start()
        self._started.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn`` on the server's event loop thread and return its result."""
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(run)
        return fut.result(timeout=timeout)

    def framebuffer(self) -> np.ndarray:
        """The server's own framebuffer now (uint32 0x00RRGGBB), after drawing pending changes."""
        assert self.server is not None
        session = self.server.session

        def grab() -> np.ndarray:
            if session.viewers:
                session.refresh()
                return session.renderer.pixels.copy()
            session.terminal.acquire()  # no viewer, no framebuffer: draw one for the test
            session.refresh()
            pixels = session.renderer.pixels.copy()
            session.terminal.release()
            return pixels

        return self.call(grab)

    def text(self) -> list[str]:
        assert self.server is not None
        emulator = self.server.emulator
        return self.call(emulator.text)

    def wait_text(self, needle: str, timeout: float = 10.0) -> list[str]:
        """Wait until the terminal shows ``needle``; the screen lines."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.text()
            if any(needle in line for line in lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared; screen:\n" + "\n".join(lines))
            time.sleep(0.05)

    def write_console(self, data: bytes) -> None:
        """Type into the console directly (as if from a viewer)."""
        assert self.server is not None
        session = self.server.session
        self.call(lambda: session.write_input(data))

    def stop(self) -> None:
        if self._thread.is_alive():
            if self.server is not None:
                self.loop.call_soon_threadsafe(self.server.stop)
            self._thread.join(timeout=10)
