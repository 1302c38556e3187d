"""Security type None (RFB spec section 7.2.1), alone or inside a VeNCrypt TLS sub-type."""

from __future__ import annotations

from .. import events
from .base import SecurityHandler, Session, gate, succeed


class NoneSecurity(SecurityHandler):
    """Nothing to check: the owner's gate is asked, then the SecurityResult, which only version
    3.8 has for None (section 7.1.3)."""

    def start(self, session: Session) -> events.Event | None:
        has_result = session.minor_version >= 8
        refused = gate(session, result_expected=has_result)
        if refused is not None:
            return refused
        return succeed(session, view_only=False, send_result=has_result)
