"""One viewer's clipboard: kept for that viewer, typed only on its own paste action.

A viewer's clipboard is not keystrokes. TigerVNC sends its clipboard (and the X selection)
whenever its window gets focus, so what arrives as ClientCutText (RFB section 7.5.6) or as an
Extended Clipboard provide is only remembered, for this viewer alone, and typed into the console
when this viewer pastes (middle click, Shift+Insert, Ctrl+Shift+V: see ``reserved_keys``). A
second viewer's paste never types it. View-only viewers neither set it nor receive vncterm's.

The other way, the selection (or the program's OSC 52, or a desktop's cut text) is offered to
the viewer as ServerCutText (section 7.6.4) at most every ``OFFER_INTERVAL`` seconds and only
while the viewer's send buffer is nearly empty: only the newest text is sent, so one viewer
selecting the whole screen over and over costs another a few messages, never a queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ..rfb import clipboard, events
from ..rfb.connection import ServerConnection
from .desktop import DesktopSource
from .security import Gatekeeper
from .sources import FramebufferSource

log = logging.getLogger(__name__)

#: A viewer's clipboard is offered new text at most this often (the newest text wins).
OFFER_INTERVAL = 0.25
#: ... and only while less than this waits in its send buffer (its frames come first).
OFFER_BUFFER = 64 * 1024
#: A paste made while the viewer's announced text is still on its way types it if it arrives
#: within this many seconds (a late answer is kept, not typed).
PASTE_WAIT = 2.0


#: The events this module handles.
CLIPBOARD_EVENTS = (
    events.ClientCutText,
    events.ClipboardNotify,
    events.ClipboardProvide,
    events.ClipboardRequest,
    events.ClipboardPeek,
)


class ClipboardOwner(Protocol):
    """The viewer, as its clipboard needs it."""

    conn: ServerConnection
    guard: Gatekeeper

    @property
    def source(self) -> FramebufferSource: ...

    def may_control(self) -> bool: ...

    def buffered(self) -> int: ...

    def flush(self) -> None: ...


class ViewerClipboard:
    """What one viewer's clipboard holds as far as vncterm knows, and what it is offered."""

    def __init__(self, viewer: ClipboardOwner) -> None:
        self.viewer = viewer
        #: What this viewer's paste types: its own clipboard, or the text vncterm last gave it.
        self.text: str | None = None
        self._requested = False  # the viewer announced text and we asked for it
        self._paste_by: float | None = None  # it pasted while that request was outstanding
        self._outgoing: str | None = None  # the newest text to offer, not sent yet
        self._sent: str | None = None  # what we last offered (its Request gets this)
        self._sent_at = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._ignored = False

    # -- from the viewer ---------------------------------------------------------------------

    def handle(self, ev: events.Event) -> None:
        """ClientCutText (section 7.5.6) or an Extended Clipboard message."""
        if isinstance(ev, (events.ClientCutText, events.ClipboardProvide)):
            self.received(ev.text)
        elif isinstance(ev, events.ClipboardNotify):
            self.announced(ev.formats)
        elif isinstance(ev, events.ClipboardRequest):
            self.asked(ev.formats)
        elif isinstance(ev, events.ClipboardPeek):
            self.peeked()

    def received(self, text: str) -> None:
        """ClientCutText, or the text of an Extended Clipboard provide: remembered only (a
        desktop being shown gets it as its clipboard, not as keys)."""
        if not self._may_control():
            return
        self.text = text
        self._requested = False
        source = self.viewer.source
        if isinstance(source, DesktopSource):
            source.paste(text)
        elif self._paste_by is not None and asyncio.get_running_loop().time() <= self._paste_by:
            self.paste()
        self._paste_by = None

    def announced(self, formats: int) -> None:
        """An Extended Clipboard notify: ask for the text at once, so a paste has it."""
        if not self._may_control():
            return
        self.text = None  # what we had is not its clipboard any more
        self._paste_by = None  # a paste before this announcement was of older text
        self._requested = bool(formats & clipboard.TEXT)
        if self._requested:
            self.viewer.conn.send_extended_clipboard(clipboard.request(clipboard.TEXT))

    def asked(self, formats: int) -> None:
        """An Extended Clipboard request: the text we offered it."""
        if self._sent is not None and formats & clipboard.TEXT:
            self.viewer.conn.provide_clipboard_text(self._sent)

    def peeked(self) -> None:
        """An Extended Clipboard peek: whether we offer text."""
        have = clipboard.TEXT if self._sent is not None else 0
        self.viewer.conn.send_extended_clipboard(clipboard.notify(have))

    def paste(self) -> None:
        """This viewer's explicit paste action: type its clipboard into the console."""
        text = self.text
        if text is None:
            if self._requested:  # typed when the text arrives, if it comes soon
                self._paste_by = asyncio.get_running_loop().time() + PASTE_WAIT
            else:
                log.debug("%s: paste with an empty clipboard", self.viewer)
            return
        if not text:
            return
        audit = self.viewer.guard.audit
        if audit is not None:
            audit.paste(str(self.viewer), text)
        log.info("%s: pasted %d characters", self.viewer, len(text))
        self.viewer.source.paste(text)

    def _may_control(self) -> bool:
        if self.viewer.may_control():
            return True
        if not self._ignored:
            self._ignored = True
            log.warning("%s: view-only: its clipboard is ignored", self.viewer)
        return False

    # -- to the viewer -----------------------------------------------------------------------

    def offer(self, text: str) -> None:
        """Offer ``text`` to the viewer's clipboard, coalesced and paced (nothing for
        view-only viewers, who must not receive what the program copies)."""
        if not self.viewer.may_control():
            return
        self._outgoing = text
        self._schedule()

    def _schedule(self) -> None:
        if self._outgoing is None or self._timer is not None:
            return  # nothing to offer, or already due (the viewer's close cancels it)
        loop = asyncio.get_running_loop()
        wait = self._sent_at + OFFER_INTERVAL - loop.time()
        if wait <= 0 and self.viewer.buffered() < OFFER_BUFFER:
            self._send(loop.time())
        else:
            self._timer = loop.call_later(max(wait, OFFER_INTERVAL / 4), self._due)

    def _due(self) -> None:
        self._timer = None
        self._schedule()

    def _send(self, now: float) -> None:
        text, self._outgoing = self._outgoing, None
        if text is None or (text == self._sent and text == self.text):
            return  # its clipboard holds that already
        self._sent = self.text = text
        self._sent_at = now
        self._requested, self._paste_by = False, None
        self.viewer.conn.send_clipboard_text(text)
        self.viewer.flush()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
