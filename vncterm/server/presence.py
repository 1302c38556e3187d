"""Who else is here: the viewers of a console, who typed last, and who may type (``--input``).

With more than one viewer, the status row says for a few seconds how many are connected and,
when the typist changes, who types now (its user name when it logged in with one, and its
address). ``--input shared`` lets every viewer with control type, and says so on the status
row when two type within ``--input-idle`` seconds of each other (keystrokes of two people are
never mixed silently). ``--input one`` gives the keyboard to the first viewer that types until
it has been idle that long; the others' keys (and pointer) are not passed on, and the status
row tells them who holds it and that Ctrl+Shift+L (a reserved key) takes it over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from .audit import AuditLog
from .status import StatusRow

log = logging.getLogger(__name__)

POLICIES = ("shared", "one")
#: Seconds the status row shows who is here / who types.
SHOW_TTL = 4.0
TAKE_KEY = "Ctrl+Shift+L"


def name_of(viewer: object) -> str:
    """How the status row names a viewer: its user name (Plain authentication) and address."""
    address = str(viewer).removeprefix("viewer ")
    user = getattr(getattr(viewer, "auth", None), "user", None)
    return f"{user} ({address})" if isinstance(user, str) and user else address


class Presence:
    """One console's typists, for the status row and the ``--input`` policy."""

    def __init__(self, status: StatusRow, clock: Callable[[], float] = time.monotonic) -> None:
        self.status, self.clock = status, clock
        #: Where a change of keyboard holder is recorded (``--audit-log``), if anywhere.
        self.audit: AuditLog | None = None
        self.policy = "shared"
        self.idle = 5.0
        self.holder: object | None = None  # --input one: who has the keyboard
        self._held_at = 0.0
        self._last: object | None = None  # who typed last, and when
        self._last_at = 0.0
        self._refused: set[int] = set()  # viewers whose refusal was logged (once each)

    def held_by_other(self, viewer: object, viewers: Sequence[object]) -> bool:
        """``--input one`` and another viewer, still here, holds the keyboard."""
        return (
            self.policy == "one"
            and self.holder is not None
            and self.holder is not viewer
            and self.holder in viewers
            and self.clock() - self._held_at < self.idle
        )

    def may_type(self, viewer: object, viewers: Sequence[object]) -> bool:
        """``viewer`` types a key: whether it goes to the console (and the status row told)."""
        now = self.clock()
        recent = self._last is not None and now - self._last_at < self.idle
        if self.policy == "one":
            if self.held_by_other(viewer, viewers):
                assert self.holder is not None
                holder = name_of(self.holder)
                self.status.show(
                    "input",
                    f"keyboard held by {holder}: your keys are not typed; {TAKE_KEY} takes it",
                    ttl=SHOW_TTL,
                )
                if id(viewer) not in self._refused:
                    self._refused.add(id(viewer))
                    log.info("%s: keys not typed, the keyboard is %s's", viewer, holder)
                return False
            if self.holder is not viewer:
                self.take(viewer)
            self._held_at = now
        elif recent and self._last is not viewer and self._last in viewers:
            self.status.show(
                "input",
                f"{name_of(viewer)} and {name_of(self._last)} are typing at once",
                ttl=SHOW_TTL,
            )
        if len(viewers) > 1 and self._last is not viewer:
            self.status.show(
                "viewers", f"{len(viewers)} viewers; {name_of(viewer)} typing", ttl=SHOW_TTL
            )
        self._last, self._last_at = viewer, now
        return True

    def take(self, viewer: object) -> None:
        """``viewer`` takes the keyboard (its first key, or the take-over key)."""
        previous = self.holder
        self.holder, self._held_at = viewer, self.clock()
        self._refused.discard(id(viewer))
        if self.policy == "one":
            log.info("%s: has the keyboard", viewer)
            if self.audit is not None and previous is not viewer:
                self.audit.record(
                    "keyboard", str(viewer), previous=None if previous is None else str(previous)
                )
            self.status.show("input", f"{name_of(viewer)} has the keyboard", ttl=SHOW_TTL)

    def viewers_changed(self, viewers: Sequence[object]) -> None:
        """A viewer came or went: say how many are here when more than one."""
        if len(viewers) > 1:
            last = f"; {name_of(self._last)} typed last" if self._last in viewers else ""
            self.status.show("viewers", f"{len(viewers)} viewers connected{last}", ttl=SHOW_TTL)
        if self.holder is not None and self.holder not in viewers:
            self.holder = None
        self._refused &= {id(v) for v in viewers}  # (ids of viewers gone may be reused)
        if self._last is not None and self._last not in viewers:
            self._last = None  # nor keep a viewer that left alive
