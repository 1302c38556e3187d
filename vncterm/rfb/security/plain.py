"""VeNCrypt's Plain (RFB spec section 7.2.19): a user name and password, in the clear, so only
ever run inside TLS here. The check (a slow hash) is the owner's: the credentials go out as a
``PlainCredentials`` event and the verdict comes back through :meth:`PlainSecurity.answer`."""

from __future__ import annotations

from ...users import PlainUser
from .. import events, vencrypt
from ..state import State
from .base import SecurityHandler, Session, fail, gate, refuse, succeed


class PlainSecurity(SecurityHandler):
    """U32 user length, U32 password length, user, password (lengths capped in
    :func:`vencrypt.parse_plain`); then the owner's verdict and the SecurityResult."""

    state = State.PLAIN_AUTH

    def receive(self, session: Session, buf: bytearray) -> events.Event | None:
        if self.awaiting_owner:
            return None
        parsed = vencrypt.parse_plain(buf)
        if parsed is None:
            return None
        used, user, password = parsed
        del buf[:used]
        session.user = user
        self.state, self.awaiting_owner = State.PLAIN_CHECK, True
        return events.PlainCredentials(user, password)

    def answer(
        self, session: Session, entry: PlainUser | None, refusal: str | None
    ) -> events.Event:
        """The user entry, or None for wrong credentials; ``refusal`` refuses without a verdict.
        The owner's gate is asked first."""
        if not self.awaiting_owner:
            return super().answer(session, entry, refusal)
        self.awaiting_owner = False
        refused = gate(session)
        if refused is not None:
            return refused
        if refusal is not None:
            return refuse(session, refusal)
        if entry is None:
            return fail(session, "Authentication failed")
        return succeed(session, view_only=entry.view_only, user=entry.name)
