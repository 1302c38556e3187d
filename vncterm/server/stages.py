"""Fault containment for the stages console output goes through (log, capture, terminal,
replies, terminal events, render): a fault in one stage never reaches the console's read
callback, nor the other stages, which still get every byte.

Each stage's first fault is logged with its reason and traceback; later ones are counted in
:attr:`Stages.faults`, not logged (a broken stage would otherwise log once per read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Stages:
    """Runs the stages of one console's output, each contained."""

    def __init__(self, what: str = "console output") -> None:
        self.what = what
        #: Faults per stage name, since the start.
        self.faults: dict[str, int] = {}

    def run(self, stage: str, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> bool:
        """``fn(*args, **kwargs)`` as stage ``stage``; False when it raised (then contained)."""
        try:
            fn(*args, **kwargs)
        except Exception as e:  # containing every fault is the point
            self.fault(stage, e)
            return False
        return True

    def fault(self, stage: str, error: Exception) -> None:
        """Count a fault of ``stage``; log the first one with its reason."""
        count = self.faults.get(stage, 0) + 1
        self.faults[stage] = count
        if count == 1:
            log.error(
                "%s: the %s stage failed (%s: %s); the other stages go on, and further "
                "%s faults are counted, not logged",
                self.what,
                stage,
                type(error).__name__,
                error,
                stage,
                exc_info=error,
            )
