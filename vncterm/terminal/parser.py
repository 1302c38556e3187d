"""An escape-sequence parser (ECMA-48 / VT500 shapes) that drives a ``TermScreen``.

pyte 0.8.2's own parser drops CSI intermediates (``CSI 2 SP q`` runs as ``CSI 2 q``) and the
``<``, ``=`` and ``>`` markers (vim's ``CSI > 4;2 m`` becomes SGR 4;2, underline + faint), draws
colon sub-parameters and DCS/APC strings as text, and stops drawing a chunk at the first
zero-width non-combining character. This parser recognises every sequence by its shape, so an
unknown one is dropped whole, and hands complete sequences to ``sequences.py``'s tables.

Sequences split across ``feed`` calls are kept until they complete. Strings (OSC, DCS, SOS,
PM, APC) longer than ``MAX_STRING`` are discarded up to their terminator. A handler that raises
on a sequence (a bug: the fuzz tests check :attr:`Parser.faults` stays 0) loses that sequence
only, not the rest of the console's read; its first fault is logged.
"""

from __future__ import annotations

import logging
import re

from .flood import SIMPLE_ESC, Flood
from .screen import TermScreen
from .sequences import CONTROLS, control, csi, dcs, esc, osc

log = logging.getLogger(__name__)

MAX_STRING = 1 << 16

# Plain text: anything but C0, DEL and C1.
_TEXT = re.compile("[^\x00-\x1f\x7f-\x9f]+")
# C0 controls allowed (and executed) inside a CSI: all but CAN, SUB and ESC.
_C0_IN_CSI = "\x00-\x17\x19\x1c-\x1f"
_CSI = re.compile(f"\x1b\\[([{_C0_IN_CSI}0-?]*)([{_C0_IN_CSI} -/]*)([@-~])")
_CSI_PREFIX = re.compile(f"\x1b\\[[{_C0_IN_CSI}0-?]*[{_C0_IN_CSI} -/]*")
_ESC = re.compile("\x1b([ -/]*)([0-~])")
_ESC_PREFIX = re.compile("\x1b[ -/]*")
# A string body ends at BEL (OSC only, but xterm accepts it for all), ST (ESC \ or 0x9c), or is
# cancelled by CAN/SUB or by an ESC that does not start ST.
_STRING_END = re.compile("\x07|\x1b\\\\|\x9c|\x18|\x1a|\x1b(?=[^\\\\])")
_CONTROLS = re.compile("[\x00-\x1f]")


class Parser:
    """Feeds decoded console text to ``screen``, one call per text run or complete sequence."""

    def __init__(self, screen: TermScreen) -> None:
        self.screen = screen
        self._pending = ""
        self._skipping = False  # inside an over-long or cancelled string: drop up to its end
        #: Line feeds a simple stretch needs before the flood skim takes it (0: half the rows).
        self.flood_lines = 0
        #: Sequences whose handler raised (dropped; the rest of the input is parsed).
        self.faults = 0

    def feed(self, text: str) -> None:
        """Parse ``text``; an incomplete sequence at its end waits for the next call."""
        s = self._pending + text if self._pending else text
        self._pending = ""
        screen = self.screen
        min_lines = self.flood_lines or max(2, screen.lines // 2)
        if screen.fast and (screen.rows_clean or s.count("\n") >= min_lines):
            self._feed_fast(s, Flood(screen, s, min_lines))  # it also keeps rows_clean true
            return
        draw = screen.draw
        controls = CONTROLS.get
        text_match = _TEXT.match
        pos, n = 0, len(s)
        while pos < n:
            if self._skipping:
                pos = self._skip_string(s, pos)
                if pos < 0:
                    return
                continue
            m = text_match(s, pos)
            if m is not None:
                draw(m.group())
                pos = m.end()
                continue
            c = s[pos]
            if c == "\x1b":
                nxt = self._escape(s, pos)
                if nxt < 0:
                    self._pending = s[pos:]
                    return
                pos = nxt
            else:
                handler = controls(c)
                if handler is not None:
                    handler(screen)
                pos += 1
            screen._last_char = ""  # REP repeats only a character printed right before it

    def _feed_fast(self, s: str, flood: Flood) -> None:
        """``feed`` with the flood skim after line feeds, and ``screen.rows_clean`` kept."""
        screen = self.screen
        draw = screen.draw
        controls = CONTROLS.get
        text_match = _TEXT.match
        simple_esc = SIMPLE_ESC.match
        pos, n = 0, len(s)
        next_check = 0
        while pos < n:
            if self._skipping:
                screen.rows_clean = False
                pos = self._skip_string(s, pos)
                if pos < 0:
                    return
                continue
            m = text_match(s, pos)
            if m is not None:
                run = m.group()
                if screen.rows_clean and not run.isascii():
                    screen.rows_clean = False
                draw(run)
                pos = m.end()
                continue
            c = s[pos]
            if c == "\x1b":
                if screen.rows_clean and simple_esc(s, pos) is None:
                    screen.rows_clean = False
                nxt = self._escape(s, pos)
                if nxt < 0:
                    self._pending = s[pos:]
                    return
                pos = nxt
                screen._last_char = ""
            else:
                handler = controls(c)
                if handler is not None:
                    handler(screen)
                pos += 1
                screen._last_char = ""
                if c == "\n" or c == "\x0b" or c == "\x0c":
                    if pos >= next_check:
                        pos, next_check = flood.at_line_feed(pos)
                elif c not in "\r\t\x07":
                    screen.rows_clean = False

    def _skip_string(self, s: str, pos: int) -> int:
        """Drop the rest of a string being skipped; where parsing goes on, -1 when ``s`` ends
        inside it (an ESC at the very end is kept: it may start the ST)."""
        end = _STRING_END.search(s, pos)
        if end is None:
            if s.endswith("\x1b"):
                self._pending = "\x1b"
            return -1
        self._skipping = False
        return end.end() if end.group() != "\x1b" else end.start()

    def _escape(self, s: str, pos: int) -> int:
        """Handle the sequence starting at ``s[pos]`` (ESC); where parsing goes on, -1 if cut."""
        n = len(s)
        if pos + 1 >= n:
            return -1
        kind = s[pos + 1]
        if kind == "[":
            m = _CSI.match(s, pos)
            if m is not None:
                params, inter, final = m.groups()
                if (params and _CONTROLS.search(params)) or (inter and _CONTROLS.search(inter)):
                    for ch in _CONTROLS.findall(params + inter):
                        control(self.screen, ch)
                    params = _CONTROLS.sub("", params)
                    inter = _CONTROLS.sub("", inter)
                try:
                    csi(self.screen, params, inter, final)
                except Exception as e:  # a handler's bug drops its sequence, not the read
                    self._fault(e)
                return m.end()
            prefix = _CSI_PREFIX.match(s, pos)
            assert prefix is not None
            end = prefix.end()
            if end >= n:
                return -1 if n - pos < MAX_STRING else n
            # malformed: drop what was read; ESC starts afresh, anything else is swallowed
            return end if s[end] == "\x1b" else end + 1
        if kind in "]P^_X":
            end_m = _STRING_END.search(s, pos + 2)
            if end_m is None:
                if n - pos > MAX_STRING:
                    self._skipping = True
                    return n
                return -1
            term = end_m.group()
            if term == "\x1b":  # an ESC that does not start ST cancels the string
                return end_m.start()
            if end_m.start() - pos > MAX_STRING:  # over the cap even when whole: dropped
                return end_m.end()
            if kind == "]" and term not in ("\x18", "\x1a"):  # replies end as the query did
                try:
                    osc(
                        self.screen,
                        s[pos + 2 : end_m.start()],
                        "\x07" if term == "\x07" else "\x1b\\",
                    )
                except Exception as e:
                    self._fault(e)
            elif kind == "P" and term not in ("\x18", "\x1a"):
                try:
                    dcs(self.screen, s[pos + 2 : end_m.start()])
                except Exception as e:
                    self._fault(e)
            return end_m.end()
        m = _ESC.match(s, pos)
        if m is not None:
            try:
                esc(self.screen, m.group(1), m.group(2))
            except Exception as e:
                self._fault(e)
            return m.end()
        prefix = _ESC_PREFIX.match(s, pos)
        assert prefix is not None
        if prefix.end() >= n:
            return -1
        return prefix.end()  # ESC (+ intermediates) then a control or non-ASCII: drop the ESC

    def _fault(self, error: Exception) -> None:
        """A sequence's handler raised: count it, log the first (the sequence is dropped)."""
        self.faults += 1
        if self.faults == 1:
            log.error(
                "terminal: a sequence's handler failed (%s: %s); such sequences are "
                "dropped, further faults counted",
                type(error).__name__,
                error,
                exc_info=error,
            )

    def reset(self) -> None:
        """Forget any partial sequence."""
        self._pending = ""
        self._skipping = False
