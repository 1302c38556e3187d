"""The colour operations of OSC (xterm's ctlseqs, "Operating System Commands"): set, query and
reset the palette (OSC 4, 104), the special colours (OSC 5, 105) and the dynamic colours
(OSC 10-19, 110-119), in one terminal's :class:`~.colours.TermColours`.

As xterm does it: OSC 4/5 take ``index ; spec`` pairs, stopping at the first index out of range
or spec it cannot read; OSC 10 takes colours for 10, 11, 12 ... in turn (an empty one is
skipped); a ``?`` spec is answered ``OSC code ; [index ;] rgb:RRRR/GGGG/BBBB`` with the query's
terminator. OSC 104/105 reset the listed entries, or all of them when none is listed; OSC
110-119 reset one dynamic colour each. A sequence reads at most :data:`MAX_PAIRS` pairs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .colours import SPECIAL
from .xcolours import parse, xrgb

if TYPE_CHECKING:
    from .screen import TermScreen

#: Pairs (or colours, or indices) read from one OSC; the rest are ignored.
MAX_PAIRS = 300
#: OSC 4 reaches the palette (0-255) and then the special colours (256-260).
_OSC4_ENTRIES = 256 + SPECIAL
_ATOI = re.compile(r"\s*([+-]?\d{0,9})")

OscHandler = Callable[["TermScreen", str, str], None]


def _atoi(text: str) -> int:
    """``text``'s leading number as C's atoi reads it (0 when there is none)."""
    m = _ATOI.match(text)
    digits = m.group(1) if m else ""
    return int(digits) if digits.lstrip("+-") else 0


def _indexed(opcode: int, first: int, entries: int) -> OscHandler:
    """OSC 4 (``first`` 0) or OSC 5 (``first`` 256): ``index ; spec`` pairs."""

    def handler(s: TermScreen, text: str, terminator: str) -> None:
        colours = s.colours
        parts = text.split(";", 2 * MAX_PAIRS)[: 2 * MAX_PAIRS]
        for i in range(0, len(parts) - 1, 2):
            index, spec = _atoi(parts[i]), parts[i + 1]
            if not 0 <= index < entries:
                return
            if spec == "?":
                rgb = xrgb(colours.get(first + index))
                s.write_process_input(f"\x1b]{opcode};{index};{rgb}{terminator}")
                continue
            colour = parse(spec)
            if colour is None:
                return
            colours.set(first + index, colour)

    return handler


def _reset_indexed(first: int, entries: int) -> OscHandler:
    """OSC 104 / 105: reset the listed entries (``;``-separated), or every one."""

    def handler(s: TermScreen, text: str, terminator: str) -> None:
        if not text:
            for index in range(entries):
                s.colours.reset(first + index)
            return
        for part in text.split(";", MAX_PAIRS)[:MAX_PAIRS]:
            if not (part.isascii() and part.isdigit()):
                return
            index = int(part) if len(part) < 10 else entries
            if index < entries:
                s.colours.reset(first + index)

    return handler


def _dynamic(code: int) -> OscHandler:
    """OSC 10-19: colours for ``code``, ``code + 1`` ... up to 19 in turn."""

    def handler(s: TermScreen, text: str, terminator: str) -> None:
        for offset, spec in enumerate(text.split(";", 20 - code)[: 20 - code]):
            which = code + offset
            if spec == "?":
                rgb = xrgb(s.colours.get_dynamic(which))
                s.write_process_input(f"\x1b]{which};{rgb}{terminator}")
            elif spec:
                colour = parse(spec)
                if colour is not None:
                    s.colours.set_dynamic(which, colour)

    return handler


def _reset_dynamic(code: int) -> OscHandler:
    def handler(s: TermScreen, text: str, terminator: str) -> None:
        s.colours.set_dynamic(code, None)

    return handler


#: OSC command number -> handler, for ``sequences.OSC``.
HANDLERS: dict[str, OscHandler] = {
    "4": _indexed(4, 0, _OSC4_ENTRIES),
    "5": _indexed(5, 256, SPECIAL),
    "104": _reset_indexed(0, _OSC4_ENTRIES),
    "105": _reset_indexed(256, SPECIAL),
    **{str(code): _dynamic(code) for code in range(10, 20)},
    **{str(code + 100): _reset_dynamic(code) for code in range(10, 20)},
}
