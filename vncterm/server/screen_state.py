"""A console's terminal kept across vncterm restarts (``STATE_DIR/screens/NAME.json.gz``), so
that viewers of a restarted vncterm see the screen and scrollback as they were, not an empty
terminal until the guest prints again (``--no-restore-screen``: not kept).

The file is gzip'd JSON: ``{"vncterm_screen": 1, "saved_at": UNIX, "state": ...}``, the state
of ``terminal/snapshot.py``. It is written atomically (a temporary file renamed over, 0600)
a few seconds after the terminal changes (at most every ``interval`` seconds however busy the
console), and when vncterm stops. Taking the state costs the event loop under a millisecond;
encoding, compressing and writing it run in a worker thread.

At start, before the console attaches, the file is read back: sizes capped (``MAX_FILE``
compressed, ``MAX_JSON`` expanded), every field checked. A damaged, hostile or foreign file is
logged once and ignored (vncterm starts with an empty terminal); nothing here stops the console.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable

from ..terminal.emulator import Emulator
from ..terminal.snapshot import Captured, Encoder
from .state_dir import ensure_private_dir, write_atomic

log = logging.getLogger(__name__)

#: Seconds after a change before the state is written, and the least time between writes.
SAVE_DELAY = 2.0
SAVE_INTERVAL = 5.0
#: Caps on a state file read back: compressed, and its JSON expanded.
MAX_FILE = 64 << 20
MAX_JSON = 512 << 20
#: The version of the file's envelope.
ENVELOPE = 1


class SavedScreen:
    """What :meth:`ScreenKeeper.restore` put back: when it was saved."""

    def __init__(self, saved_at: float) -> None:
        self.saved_at = saved_at


class ScreenKeeper:
    """Writes one console's terminal state to ``path`` while it runs and reads it back."""

    def __init__(
        self,
        path: str,
        emulator: Emulator,
        *,
        delay: float = SAVE_DELAY,
        interval: float = SAVE_INTERVAL,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.emulator = emulator
        self.delay = delay
        self.interval = interval
        self.wall = wall
        self._timer: asyncio.TimerHandle | None = None
        self._last_save = -1e18  # loop time of the last save started
        self._dirty = False
        self._lock = threading.Lock()
        self._encoder = Encoder()
        self._seq = 0  # saves started
        self._written = 0  # the newest save written
        self._failing = False  # a write failed and was logged
        self._closed = False
        #: Milliseconds and bytes of the last write (for the log and tests).
        self.last_cost: tuple[float, float, int] | None = None

    # -- reading back ----------------------------------------------------------------------------

    def restore(self) -> SavedScreen | None:
        """Put the saved terminal back into the emulator; None when there is none or it cannot
        be used (then logged once, and the terminal stays empty)."""
        try:
            with open(self.path, "rb") as f:
                packed = f.read(MAX_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            log.warning("saved screen %s unreadable (%s): starting empty", self.path, e.strerror)
            return None
        try:
            return self._load(packed)
        except Exception as e:  # a damaged or hostile file must never stop vncterm
            log.warning("saved screen %s ignored (%s): starting empty", self.path, e)
            return None

    def _load(self, packed: bytes) -> SavedScreen:
        if len(packed) > MAX_FILE:
            raise ValueError(f"larger than {MAX_FILE >> 20} MiB")
        inflate = zlib.decompressobj(wbits=31)
        raw = inflate.decompress(packed, MAX_JSON)
        if inflate.unconsumed_tail:
            raise ValueError(f"expands beyond {MAX_JSON >> 20} MiB")
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("vncterm_screen") != ENVELOPE:
            raise ValueError("not a vncterm screen file")
        saved_at = doc.get("saved_at")
        if not isinstance(saved_at, (int, float)) or not 0 <= saved_at < 1e11:
            raise ValueError("no valid saved_at")
        cols, rows = self.emulator.cols, self.emulator.rows
        self.emulator.restore(doc.get("state"))
        if (cols, rows) != (self.emulator.cols, self.emulator.rows):
            self.emulator.resize(cols, rows)
        return SavedScreen(float(saved_at))

    # -- writing ---------------------------------------------------------------------------------

    def changed(self) -> None:
        """The terminal changed: write it soon (debounced)."""
        if self._closed:
            return
        self._dirty = True
        if self._timer is None:
            loop = asyncio.get_running_loop()
            when = max(self.delay, self._last_save + self.interval - loop.time())
            self._timer = loop.call_later(when, self._due)

    def _due(self) -> None:
        self._timer = None
        if not self._dirty or self._closed:
            return
        self._dirty = False
        loop = asyncio.get_running_loop()
        self._last_save = loop.time()
        encode, seq, saved_at = self._take()
        loop.run_in_executor(None, self._write, encode, seq, saved_at)

    def _take(self) -> tuple[Captured, int, float]:
        self._seq += 1
        return self.emulator.snapshot(), self._seq, self.wall()

    def _write(self, captured: Captured, seq: int, saved_at: float) -> None:
        """Encode, compress and write one state (any thread); an older one never replaces a
        newer one."""
        try:
            with self._lock:
                if seq < self._written:
                    return
                t0 = time.perf_counter()
                state = self._encoder.json(captured, MAX_JSON // 4)  # characters: up to 4 bytes
                data = f'{{"vncterm_screen":{ENVELOPE},"saved_at":{saved_at!r},"state":{state}}}'
                packed = gzip.compress(data.encode(), compresslevel=1, mtime=0)
                t1 = time.perf_counter()
                ensure_private_dir(os.path.dirname(self.path))
                write_atomic(self.path, packed)
                self._written = seq
        except Exception as e:  # a full disk, a read-only folder: the console goes on
            if not self._failing:
                self._failing = True
                log.error("saved screen %s: cannot write (%s); the console goes on", self.path, e)
            return
        if self._failing:
            self._failing = False
            log.warning("saved screen %s: written again", self.path)
        self.last_cost = ((t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3, len(packed))

    def close(self) -> None:
        """vncterm stops: write the state now (in this thread) and no more after."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._write(*self._take())
