"""A command's stdin and stdout as a byte stream (``--stream NAME=exec:CMD``).

Unlike the spawn backend there is no pty: bytes pass unchanged both ways, which is what a tool
on the far side of a tunnelled stream expects (a QEMU monitor through ``socat``, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex

from .base import Console, DataCallback, StatusCallback
from .childsetup import reset_signals

log = logging.getLogger(__name__)

MAX_PENDING_WRITE = 4 << 20


class ProcessConsole(Console):
    """Runs ``command`` (a shell command line) with pipes for stdin and stdout."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.connected = False
        self._proc: asyncio.subprocess.Process | None = None
        self._closed: asyncio.Future[int] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._resume = asyncio.Event()
        self._resume.set()

    async def start(self, on_data: DataCallback, on_status: StatusCallback) -> None:
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self._proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=reset_signals,
        )
        self.connected = True
        on_status(f"started {shlex.split(self.command)[0]} (pid {self._proc.pid})")
        self._reader = asyncio.ensure_future(self._read(on_data, on_status))

    async def _read(self, on_data: DataCallback, on_status: StatusCallback) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            await self._resume.wait()
            data = await self._proc.stdout.read(65536)
            if not data:
                break
            on_data(data)
        status = await self._proc.wait()
        self.connected = False
        on_status(f"exited with status {status}")
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(status)

    def write(self, data: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        if self.pending_write() + len(data) > MAX_PENDING_WRITE:
            log.warning("stream input dropped: %d bytes already waiting", self.pending_write())
            return
        proc.stdin.write(data)

    def pending_write(self) -> int:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.transport is None:
            return 0
        return int(proc.stdin.transport.get_write_buffer_size())

    def pause_reading(self) -> None:
        self._resume.clear()

    def resume_reading(self) -> None:
        self._resume.set()

    async def wait_closed(self) -> int:
        assert self._closed is not None, "start() first"
        return await asyncio.shield(self._closed)

    def close(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
