"""Caps on what one viewer can make the server hold: stream captures, the framebuffer, the
scrollback's memory."""

from __future__ import annotations

import asyncio
import logging

import pytest
from harness import RunningVncterm

from vncterm.client import StreamClient

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def test_captures_per_viewer_are_capped_and_refusals_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """With --max-captures 4, a viewer gets 4 captures of the console; the next 20 are
    refused (start then end), with one log line; ending one makes room for another."""
    caplog.set_level(logging.INFO)
    with RunningVncterm(SHELL, max_captures=4) as server:
        server.wait_text("$")

        async def go() -> tuple[int, int, bool]:
            client = await StreamClient.connect("127.0.0.1", server.port)
            await client.wait_for_stream("console")
            held = [await client.open("console") for _ in range(4)]
            refused = 0
            for _ in range(20):
                try:
                    held.append(await client.open("console"))
                except LookupError:
                    refused += 1
            held[0].close()
            await asyncio.sleep(0.2)
            again = await client.open("console")
            open_again = not again.ended
            await client.close()
            return len(held), refused, open_again

        assert asyncio.run(go()) == (4, 20, True)
    lines = [r for r in caplog.records if "the most a viewer may" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
