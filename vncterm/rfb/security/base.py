"""What every security handler shares (RFB spec section 7.2): the connection it runs on, seen
through :class:`Session`, the base class, and the SecurityResult answers (section 7.1.3).

A handler is started once the viewer chose its type, then fed the buffered input until it
returns ``Authenticated``, ``AuthenticationFailed`` or ``Refused`` (the connection then goes on to
ClientInit, or closes). :meth:`SecurityHandler.receive` consumes what it uses from the buffer and
makes all the progress it can short of returning an event: a call that returns None and consumes
nothing means "more bytes needed". A handler that hands credentials to the owner
(``PlainCredentials``) sets :attr:`SecurityHandler.awaiting_owner` until :meth:`answer` comes.
"""

from __future__ import annotations

import ssl
import struct
from typing import Protocol

from ...errors import UsageError
from ...users import PlainUser
from .. import events
from ..constants import SecurityResult
from ..state import State

_U32 = struct.Struct(">I")


class Session(Protocol):
    """What a handler may use of its connection (``ServerConnection`` is one)."""

    minor_version: int
    security_type: int
    subtype: int
    user: str | None

    def send(self, data: bytes) -> None:
        """Queue bytes for the viewer (inside TLS once it runs)."""

    def challenge(self, size: int) -> bytes:
        """``size`` random bytes from the owner's source."""

    def gate(self) -> str | None:
        """The owner's ``auth_gate`` verdict: a reason to refuse, or None."""

    def start_tls(self, context: ssl.SSLContext) -> events.AuthenticationFailed | None:
        """Send what is queued in the clear, then run everything through TLS; the bytes the
        viewer sent ahead are the start of its handshake (a failure if it is not TLS)."""

    @property
    def tls_handshake_done(self) -> bool:
        """True once the TLS handshake completed."""


class SecurityHandler:
    """One security type's server side; subclasses override :meth:`start` and
    :meth:`receive` (and :meth:`answer` if they hand credentials to the owner)."""

    #: What the connection reports as its state while this handler runs.
    state: State = State.SECURITY
    #: True while the owner's verdict (:meth:`answer`) is awaited: input is then held.
    awaiting_owner = False

    def start(self, session: Session) -> events.Event | None:
        """The viewer chose this type (or sub-type): send the opening, if any."""
        return None

    def receive(self, session: Session, buf: bytearray) -> events.Event | None:
        """Consume from ``buf``; an event, or None."""
        return None

    def answer(self, session: Session, entry: PlainUser | None, refuse: str | None) -> events.Event:
        """The owner's verdict on credentials this handler handed out."""
        raise UsageError(f"no credentials to answer in state {self.state.name}")


def take(buf: bytearray, n: int) -> bytes | None:
    """Remove and return exactly ``n`` bytes from ``buf``, or None if not all there yet."""
    if len(buf) < n:
        return None
    chunk = bytes(buf[:n])
    del buf[:n]
    return chunk


def send_failed_result(session: Session, reason: str) -> None:
    """SecurityResult "failed" (section 7.1.3), with a reason from version 3.8 on."""
    session.send(_U32.pack(SecurityResult.FAILED))
    if session.minor_version >= 8:
        encoded = reason.encode()
        session.send(_U32.pack(len(encoded)) + encoded)


def fail(session: Session, reason: str) -> events.AuthenticationFailed:
    """The viewer failed: a failed SecurityResult, and the event saying so."""
    send_failed_result(session, reason)
    return events.AuthenticationFailed(reason, user=session.user, subtype=session.subtype)


def refuse(session: Session, reason: str, result_expected: bool = True) -> events.Refused:
    """Refused without a check: a failed SecurityResult where the viewer expects one (else the
    connection just closes)."""
    if result_expected:
        send_failed_result(session, reason)
    return events.Refused(reason)


def gate(session: Session, result_expected: bool = True) -> events.Refused | None:
    """Ask the owner's gate at the moment an answer is checked: None to go on, or the refusal."""
    reason = session.gate()
    return None if reason is None else refuse(session, reason, result_expected)


def succeed(
    session: Session, view_only: bool, user: str | None = None, send_result: bool = True
) -> events.Authenticated:
    """SecurityResult OK (when the version has one here), and the event."""
    if send_result:
        session.send(_U32.pack(SecurityResult.OK))
    return events.Authenticated(
        session.security_type, view_only=view_only, subtype=session.subtype, user=user
    )
