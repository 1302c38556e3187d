"""vncterm's side of a desktop's clipboard, as its VNC client: ClientCutText in Latin-1 (RFB spec
section 7.5.6), or UTF-8 through the Extended Clipboard once the desktop has sent its caps
(``rfb.clipboard``: formats in flag bits 0-15, actions in bits 24-31)."""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Callable

from ..errors import ProtocolError
from ..rfb import clipboard
from ..rfb.clipboard import provided_text
from ..rfb.constants import ClientMsg
from .events import CutText, Event

log = logging.getLogger(__name__)

_U32 = struct.Struct(">I")
CLIP_TEXT = clipboard.TEXT
CLIP_CAPS, CLIP_REQUEST, CLIP_PEEK = clipboard.CAPS, clipboard.REQUEST, clipboard.PEEK
CLIP_NOTIFY, CLIP_PROVIDE = clipboard.NOTIFY, clipboard.PROVIDE


class DesktopClipboard:
    """What we offer the desktop's clipboard and what it offers us: ``send`` queues a message
    for the desktop, ``emit`` reports its text as a :class:`CutText` event."""

    def __init__(
        self, send: Callable[[bytes], None], emit: Callable[[Event], None], max_text: int
    ) -> None:
        self.send = send
        self.emit = emit
        self.max_text = max_text
        self.server_caps: int | None = None  # the desktop's Extended Clipboard caps flags
        self.text: str | None = None  # what we offer the desktop's clipboard

    def offer(self, text: str) -> None:
        """Offer ``text``: as UTF-8 with the Extended Clipboard (announced by a notify, provided
        on request), else as Latin-1 ClientCutText with characters outside Latin-1 as '?'."""
        text = text.replace("\r\n", "\n")
        caps = self.server_caps
        if caps is not None and caps & CLIP_TEXT and caps & (CLIP_NOTIFY | CLIP_PROVIDE):
            self.text = text
            if caps & CLIP_NOTIFY:
                self._send_extended(_U32.pack(CLIP_NOTIFY | CLIP_TEXT))
            else:
                self._send_extended(self._provide())
            return
        data = text.encode("latin-1", errors="replace")[: self.max_text]
        self.send(struct.pack(">BxxxI", ClientMsg.CLIENT_CUT_TEXT, len(data)) + data)

    def extended(self, payload: bytes) -> None:
        """One Extended Clipboard message from the desktop (flags U32, then its body)."""
        if len(payload) < 4:
            raise ProtocolError("extended clipboard message shorter than its flags")
        (flags,) = _U32.unpack_from(payload)
        action = flags & clipboard.ACTIONS
        if action & CLIP_CAPS:
            self.server_caps = flags
            ours = CLIP_CAPS | CLIP_REQUEST | CLIP_PEEK | CLIP_NOTIFY | CLIP_PROVIDE | CLIP_TEXT
            self._send_extended(_U32.pack(ours) + _U32.pack(self.max_text))
        elif action == CLIP_REQUEST:
            if flags & CLIP_TEXT and self.text is not None:
                self._send_extended(self._provide())
        elif action == CLIP_PEEK:
            have = CLIP_TEXT if self.text is not None else 0
            self._send_extended(_U32.pack(CLIP_NOTIFY | have))
        elif action == CLIP_NOTIFY:
            if flags & CLIP_TEXT:
                self._send_extended(_U32.pack(CLIP_REQUEST | CLIP_TEXT))
        elif action == CLIP_PROVIDE:
            text = provided_text(flags & 0xFFFF, payload[4:], self.max_text, oversize="skip")
            if text is None and flags & CLIP_TEXT:
                log.warning("skipping desktop clipboard data beyond %d bytes", self.max_text)
            if text is not None:
                self.emit(CutText(text))
        else:
            raise ProtocolError(f"extended clipboard flags {flags:#x} name no single action")

    def _send_extended(self, payload: bytes) -> None:
        """An Extended Clipboard message: ClientCutText with a negative length."""
        self.send(struct.pack(">Bxxxi", ClientMsg.CLIENT_CUT_TEXT, -len(payload)) + payload)

    def _provide(self) -> bytes:
        text = (self.text or "").replace("\n", "\r\n").encode() + b"\0"
        return _U32.pack(CLIP_PROVIDE | CLIP_TEXT) + zlib.compress(_U32.pack(len(text)) + text)
