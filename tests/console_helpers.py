"""A console consumer for tests: collects bytes and statuses, waits for patterns."""

from __future__ import annotations

import asyncio
import re

from vncterm.client import StreamClient


class Collector:
    """Give ``on_data``/``on_status`` to a console; await what it produced."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.statuses: list[str] = []
        self._changed = asyncio.Event()

    def on_data(self, data: bytes) -> None:
        self.data += data
        self._changed.set()

    def on_status(self, text: str) -> None:
        self.statuses.append(text)
        self._changed.set()

    async def _until(self, check: object, timeout: float, what: str) -> None:
        assert callable(check)
        try:
            async with asyncio.timeout(timeout):
                while not check():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            tail = bytes(self.data[-600:]).decode(errors="replace")
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}; statuses {self.statuses[-6:]};"
                f" output tail {tail!r}"
            ) from None

    async def expect(
        self, pattern: bytes, timeout: float = 30.0, start: int = 0
    ) -> re.Match[bytes]:
        """Wait until ``pattern`` (a regex) matches the output from offset ``start``."""
        rx = re.compile(pattern)
        found: list[re.Match[bytes]] = []

        def check() -> bool:
            m = rx.search(self.data, start)
            if m:
                found.append(m)
            return m is not None

        await self._until(check, timeout, repr(pattern))
        return found[0]

    async def expect_status(self, prefix: str, timeout: float = 30.0, start: int = 0) -> str:
        """Wait for a status line starting with ``prefix`` (index >= start); return it."""
        hits: list[str] = []

        def check() -> bool:
            hits[:] = [s for s in self.statuses[start:] if s.startswith(prefix)]
            return bool(hits)

        await self._until(check, timeout, f"status {prefix!r}")
        return hits[0]


async def stream_names(
    port: int, want: str | None, gone: str | None, timeout: float = 30.0
) -> list[str]:
    """The streams vncterm on 127.0.0.1:``port`` offers, as its stream client sees them, once
    ``want`` is among them and ``gone`` is not (for up to 30 s)."""
    client = await StreamClient.connect("127.0.0.1", port)
    try:
        if want is not None:
            await client.wait_for_stream(want, timeout=timeout)
        for _ in range(300):
            if gone is None or gone not in client.streams:
                break
            await asyncio.sleep(0.1)
        return list(client.streams)
    finally:
        await client.close()
