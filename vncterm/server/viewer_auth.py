"""One viewer's authentication as the server sees it: the events of the sans-I/O core's
handshake (RFB section 7.2, VeNCrypt), logged, audited and reported to the gatekeeper, which
counts failures by address; Plain credentials are checked by the gatekeeper's worker."""

from __future__ import annotations

import logging
from typing import Protocol

from ..rfb import events
from ..rfb.connection import ServerConnection
from ..users import PlainUser
from .security import Gatekeeper

log = logging.getLogger(__name__)

#: Why a viewer that ended its TLS session (close_notify) is disconnected: not a fault.
TLS_CLOSED = "closed by viewer (TLS close_notify)"
#: The events this module handles.
AUTH_EVENTS = (
    events.Authenticated,
    events.AuthenticationFailed,
    events.PlainCredentials,
    events.TLSClosed,
    events.Refused,
)


class AuthOwner(Protocol):
    """The viewer, as its authentication needs it."""

    conn: ServerConnection
    guard: Gatekeeper
    address_key: str

    @property
    def closed(self) -> bool: ...

    def close(self, reason: str, abort: bool = False) -> None: ...

    def process(self, evs: list[events.Event]) -> None: ...


class ViewerAuth:
    """Handles one viewer's ``AUTH_EVENTS``; ``end_reason`` says why the core closed, if so."""

    def __init__(self, viewer: AuthOwner) -> None:
        self.viewer = viewer
        self.end_reason: str | None = None
        #: The user it authenticated as (Plain), for the status row's "who else is here".
        self.user: str | None = None

    def handle(self, ev: events.Event) -> None:
        viewer, guard = self.viewer, self.viewer.guard
        if isinstance(ev, events.Authenticated):
            self._authenticated(ev)
        elif isinstance(ev, events.AuthenticationFailed):
            log.warning("%s: authentication failed: %s", viewer, ev.reason)
            self.end_reason = f"authentication failed: {ev.reason}"
            if guard.audit is not None:
                guard.audit.record(
                    "auth",
                    str(viewer),
                    ok=False,
                    method=self.method(),
                    user=ev.user,
                    reason=ev.reason,
                )
            guard.auth_failed(viewer)
        elif isinstance(ev, events.PlainCredentials):
            guard.plain.submit(
                viewer.conn.security.plain_users or {},
                ev.user,
                ev.password,
                self._plain_moot,
                self._plain_checked,
            )
        elif isinstance(ev, events.TLSClosed):
            self.end_reason = TLS_CLOSED
        elif isinstance(ev, events.Refused):
            log.warning("%s: refused: %s", viewer, ev.reason)
            self.end_reason = f"refused: {ev.reason}"
            if guard.audit is not None:
                guard.audit.record("refused", str(viewer), reason=ev.reason)

    def method(self) -> str:
        """The security type (and VeNCrypt sub-type) in use, by name."""
        return self.viewer.conn.security_name

    def _authenticated(self, ev: events.Authenticated) -> None:
        viewer, guard = self.viewer, self.viewer.guard
        self.user = ev.user or None
        tls = viewer.conn.tls_info
        log.info(
            "%s: authenticated (%s%s%s%s)",
            viewer,
            self.method(),
            f", user {ev.user}" if ev.user else "",
            ", view-only" if ev.view_only else "",
            f", {tls}" if tls else "",
        )
        if guard.audit is not None:
            guard.audit.record(
                "auth",
                str(viewer),
                ok=True,
                method=self.method(),
                user=ev.user,
                view_only=ev.view_only,
                tls=tls,
            )
        reason = guard.auth_succeeded(viewer)
        if reason is not None:
            self.end_reason = reason
            viewer.close(reason)

    def _plain_moot(self) -> bool:
        """True when checking this viewer's Plain credentials is wasted work (it left, or its
        address got blocked: the answer is then a refusal whatever they are)."""
        viewer = self.viewer
        return viewer.closed or viewer.guard.blocked_reason(viewer.address_key) is not None

    def _plain_checked(self, entry: PlainUser | None, refuse: str | None) -> None:
        """The verdict on this viewer's Plain credentials, from a worker thread's check."""
        if not self.viewer.closed:
            self.viewer.process([self.viewer.conn.plain_checked(entry, refuse)])
