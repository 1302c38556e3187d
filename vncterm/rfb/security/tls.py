"""The TLS part of VeNCrypt's TLS* and X509* sub-types (RFB spec section 7.2.19): a TLS
handshake, then an inner security type (None, VNC Authentication, Plain) inside the session.
The TLS session itself is the connection's (``vencrypt.TLSLayer`` over ``ssl.MemoryBIO``); this
handler starts it and hands over to the inner type once the handshake is done."""

from __future__ import annotations

import ssl

from ...users import PlainUser
from .. import events
from ..state import State
from .base import SecurityHandler, Session


class TLSSecurity(SecurityHandler):
    """TLS with ``context`` (anonymous or with the server's certificate), wrapping ``inner``."""

    def __init__(self, context: ssl.SSLContext, inner: SecurityHandler) -> None:
        self.context = context
        self.inner = inner
        self._inner_started = False

    @property
    def state(self) -> State:  # type: ignore[override]
        return self.inner.state if self._inner_started else State.TLS_HANDSHAKE

    @property
    def awaiting_owner(self) -> bool:  # type: ignore[override]
        return self._inner_started and self.inner.awaiting_owner

    def start(self, session: Session) -> events.Event | None:
        return session.start_tls(self.context)

    def receive(self, session: Session, buf: bytearray) -> events.Event | None:
        if not self._inner_started:
            if not session.tls_handshake_done:
                return None
            self._inner_started = True
            started = self.inner.start(session)
            if started is not None:
                return started
        return self.inner.receive(session, buf)

    def answer(self, session: Session, entry: PlainUser | None, refuse: str | None) -> events.Event:
        return self.inner.answer(session, entry, refuse)
