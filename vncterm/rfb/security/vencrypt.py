"""VeNCrypt negotiation (RFB spec section 7.2.19, security type 19): version 0.2, the list of
sub-types, the viewer's choice acknowledged with a U8 1; then the chosen sub-type's handler
(a TLS wrapper around an inner type, see ``security.SUBTYPES``) runs."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

from ...errors import ProtocolError
from ...users import PlainUser
from .. import events, vencrypt
from ..state import State
from .base import SecurityHandler, Session, take


class VeNCryptSecurity(SecurityHandler):
    """``subtypes``: the offered sub-types, strongest first, each with a maker of its handler."""

    def __init__(self, subtypes: Mapping[int, Callable[[], SecurityHandler]]) -> None:
        self.subtypes = subtypes
        self._state = State.VENCRYPT_VERSION
        self.inner: SecurityHandler | None = None

    @property
    def state(self) -> State:  # type: ignore[override]
        return self._state if self.inner is None else self.inner.state

    @property
    def awaiting_owner(self) -> bool:  # type: ignore[override]
        return self.inner is not None and self.inner.awaiting_owner

    def start(self, session: Session) -> events.Event | None:
        session.send(bytes(vencrypt.VERSION))
        return None

    def receive(self, session: Session, buf: bytearray) -> events.Event | None:
        if self.inner is not None:
            return self.inner.receive(session, buf)
        if self._state is State.VENCRYPT_VERSION:
            raw = take(buf, 2)
            if raw is None:
                return None
            if tuple(raw) != vencrypt.VERSION:
                session.send(bytes([vencrypt.VERSION_REFUSED]))
                raise ProtocolError(f"VeNCrypt version {raw[0]}.{raw[1]} is not supported (0.2 is)")
            session.send(bytes([vencrypt.VERSION_OK]) + vencrypt.subtype_list(tuple(self.subtypes)))
            self._state = State.VENCRYPT_SUBTYPE
        raw = take(buf, 4)
        if raw is None:
            return None
        (chosen,) = struct.unpack(">I", raw)
        if chosen not in self.subtypes:
            session.send(bytes([vencrypt.SUBTYPE_REFUSED]))
            raise ProtocolError(f"VeNCrypt sub-type {chosen} was not offered")
        session.subtype = chosen
        session.send(bytes([vencrypt.SUBTYPE_OK]))
        self.inner = self.subtypes[chosen]()
        started = self.inner.start(session)
        if started is not None:
            return started
        return self.inner.receive(session, buf)

    def answer(self, session: Session, entry: PlainUser | None, refuse: str | None) -> events.Event:
        if self.inner is None:
            return super().answer(session, entry, refuse)
        return self.inner.answer(session, entry, refuse)
