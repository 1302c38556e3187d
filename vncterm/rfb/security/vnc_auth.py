"""VNC Authentication (RFB spec section 7.2.2): a 16-byte challenge, the viewer's DES answer."""

from __future__ import annotations

from ...errors import UsageError
from .. import auth, events
from ..state import State
from .base import SecurityHandler, Session, fail, gate, succeed, take


class VncAuthSecurity(SecurityHandler):
    """Checks the answer against the password, then the view-only password."""

    state = State.VNC_AUTH_RESPONSE

    def __init__(self, password: bytes | None, view_only_password: bytes | None) -> None:
        self.password = password
        self.view_only_password = view_only_password
        self._challenge = b""

    def start(self, session: Session) -> events.Event | None:
        self._challenge = session.challenge(auth.CHALLENGE_SIZE)
        if len(self._challenge) != auth.CHALLENGE_SIZE:
            raise UsageError("random_bytes returned the wrong number of bytes")
        session.send(self._challenge)
        return None

    def receive(self, session: Session, buf: bytearray) -> events.Event | None:
        raw = take(buf, auth.CHALLENGE_SIZE)
        if raw is None:
            return None
        refused = gate(session)
        if refused is not None:
            return refused
        if self._matches(self.password, raw):
            return succeed(session, view_only=False)
        if self._matches(self.view_only_password, raw):
            return succeed(session, view_only=True)
        return fail(session, "Authentication failed")

    def _matches(self, password: bytes | None, response: bytes) -> bool:
        return password is not None and auth.check_response(password, self._challenge, response)
