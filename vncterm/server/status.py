"""vncterm's own messages: one status row drawn over the bottom of the viewers' picture.

Every message vncterm has for the people watching (the console is reconnecting, a BREAK cannot
be sent, the log's disk is full...) goes through :class:`StatusRow`, never into the terminal: the
terminal model, its scrollback, ``--log`` and stream captures hold only what the console sent.
A message is keyed, so a condition that changes (the next retry) is updated in place and cleared
when it ends; an event is shown for ``ttl`` seconds. Several messages share the row, the one
that appeared last first::

    session.status.show("log", "log disk full: --log paused")
    session.status.clear("log")
    session.status.show("break", "BREAK cannot be sent on this console", ttl=5)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Longest text kept per message, and most messages kept at once (oldest dropped first).
MAX_TEXT = 256
MAX_MESSAGES = 16
SEPARATOR = "  |  "


def _clean(text: str) -> str:
    """One line of printable text: controls become spaces, capped at MAX_TEXT."""
    text = "".join(ch if ch.isprintable() else " " for ch in text[:MAX_TEXT])
    return " ".join(text.split())


class StatusRow:
    """The messages shown now; ``on_change`` is called whenever the row's text changes."""

    def __init__(
        self,
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_change = on_change
        self.clock = clock
        self._messages: dict[str, tuple[str, float | None]] = {}  # key -> (text, expires at)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._shown: str | None = None

    def show(self, key: str, text: str, ttl: float | None = None) -> None:
        """Show ``text`` under ``key`` (replacing its previous text, in place) until
        :meth:`clear`, or for ``ttl`` seconds."""
        text = _clean(text)
        expires = None if ttl is None else self.clock() + max(0.0, ttl)
        if key in self._messages:
            self._messages[key] = (text, expires)
        else:  # the newest message first
            self._messages = {key: (text, expires), **self._messages}
            while len(self._messages) > MAX_MESSAGES:
                self._messages.pop(next(reversed(self._messages)))
        self._cancel_timer(key)
        if ttl is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a unit test): expiry is seen on the next look
                pass
            else:
                self._timers[key] = loop.call_later(max(0.0, ttl), self._expire, key)
        self._changed()

    def clear(self, key: str) -> None:
        """Take ``key``'s message away (nothing when it is not shown)."""
        self._cancel_timer(key)
        if self._messages.pop(key, None) is not None:
            self._changed()

    def get(self, key: str) -> str | None:
        """The text shown under ``key`` now."""
        self._drop_expired()
        entry = self._messages.get(key)
        return entry[0] if entry is not None else None

    def text(self) -> str | None:
        """The row as shown now (None: no row)."""
        self._drop_expired()
        texts = [text for text, _ in self._messages.values() if text]
        return SEPARATOR.join(texts) if texts else None

    def _drop_expired(self) -> None:
        now = self.clock()
        for key in [k for k, (_, exp) in self._messages.items() if exp is not None and exp <= now]:
            del self._messages[key]

    def _expire(self, key: str) -> None:
        self._timers.pop(key, None)
        entry = self._messages.get(key)
        if entry is not None and entry[1] is not None:
            del self._messages[key]  # its time is up, whatever the clock says
        self._changed()

    def _cancel_timer(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _changed(self) -> None:
        shown = self.text()
        if shown != self._shown:
            self._shown = shown
            if self.on_change is not None:
                self.on_change()

    def close(self) -> None:
        """Cancel every pending expiry."""
        for key in list(self._timers):
            self._cancel_timer(key)
