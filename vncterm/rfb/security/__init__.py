"""Security types (RFB spec section 7.2), one handler class each, and the tables that map a
security type, or a VeNCrypt sub-type (section 7.2.19), to its handler.

Handlers compose the way the spec nests them: VeNCrypt negotiates a sub-type whose handler is a
TLS wrapper around an inner type (None, VNC Authentication, Plain). Adding a security type is
one handler class and one row in :data:`TYPES` (or :data:`SUBTYPES`): the row says when the
type is offered for a :class:`SecurityConfig` and how its handler is made.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from ...users import PlainUser
from ..constants import SecurityType, VeNCryptSubtype
from ..vencrypt import NAMES
from .base import SecurityHandler, Session
from .none import NoneSecurity
from .plain import PlainSecurity
from .tls import TLSSecurity
from .vencrypt import VeNCryptSecurity
from .vnc_auth import VncAuthSecurity

__all__ = [
    "SUBTYPES",
    "TYPES",
    "Entry",
    "SecurityConfig",
    "SecurityHandler",
    "Session",
    "describe",
    "handler_for",
]


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """How viewers must authenticate (section 7.2).

    Without TLS: security None when there is no password, else VNC Authentication. With a TLS
    context (``tls_context`` for the X509 sub-types, ``anon_tls_context`` for the anonymous
    ones), VeNCrypt (19) is the only type offered; see :attr:`vencrypt_subtypes`.
    """

    password: bytes | None = None
    view_only_password: bytes | None = None
    tls_context: ssl.SSLContext | None = None
    anon_tls_context: ssl.SSLContext | None = None
    #: X509Plain/TLSPlain users (``vencrypt.parse_users``); None: Plain is not offered.
    plain_users: Mapping[str, PlainUser] | None = None

    @property
    def has_password(self) -> bool:
        return self.password is not None or self.view_only_password is not None

    @property
    def has_tls(self) -> bool:
        return self.tls_context is not None or self.anon_tls_context is not None

    @property
    def unauthenticated(self) -> bool:
        """Neither a password nor a user list: a client certificate required by the TLS
        context, or a loopback listener, is then the only check."""
        return not self.has_password and self.plain_users is None

    @property
    def types(self) -> tuple[int, ...]:
        """The security types offered, in :data:`TYPES` order."""
        return tuple(t for t, entry in TYPES.items() if entry.offered(self))

    @property
    def vencrypt_subtypes(self) -> tuple[int, ...]:
        """VeNCrypt sub-types offered, strongest first (:data:`SUBTYPES` order)."""
        return tuple(t for t, entry in SUBTYPES.items() if entry.offered(self))

    @property
    def needs_random(self) -> bool:
        """True when an offered type sends a random challenge."""
        offered = [TYPES[t] for t in self.types] + [SUBTYPES[t] for t in self.vencrypt_subtypes]
        return any(entry.needs_random for entry in offered)


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of a security table: its name, when it is offered, how its handler is made."""

    name: str
    offered: Callable[[SecurityConfig], bool]
    make: Callable[[SecurityConfig], SecurityHandler]
    needs_random: bool = False


def _vnc_auth(c: SecurityConfig) -> VncAuthSecurity:
    return VncAuthSecurity(c.password, c.view_only_password)


def _vencrypt(c: SecurityConfig) -> VeNCryptSecurity:
    return VeNCryptSecurity({t: partial(SUBTYPES[t].make, c) for t in c.vencrypt_subtypes})


def _x509(inner: Callable[[SecurityConfig], SecurityHandler]) -> Callable[..., SecurityHandler]:
    def make(c: SecurityConfig) -> SecurityHandler:
        assert c.tls_context is not None
        return TLSSecurity(c.tls_context, inner(c))

    return make


def _anon(inner: Callable[[SecurityConfig], SecurityHandler]) -> Callable[..., SecurityHandler]:
    def make(c: SecurityConfig) -> SecurityHandler:
        assert c.anon_tls_context is not None
        return TLSSecurity(c.anon_tls_context, inner(c))

    return make


def _plain(c: SecurityConfig) -> PlainSecurity:
    return PlainSecurity()


def _none(c: SecurityConfig) -> NoneSecurity:
    return NoneSecurity()


#: Security types (section 7.2): VeNCrypt alone when TLS is configured, else None or VNC
#: Authentication.
TYPES: dict[int, Entry] = {
    SecurityType.NONE: Entry("None", lambda c: not c.has_tls and not c.has_password, _none),
    SecurityType.VNC_AUTH: Entry(
        "VncAuth", lambda c: not c.has_tls and c.has_password, _vnc_auth, needs_random=True
    ),
    SecurityType.VENCRYPT: Entry("VeNCrypt", lambda c: c.has_tls, _vencrypt),
}

#: VeNCrypt sub-types (section 7.2.19), strongest first: Plain with a user list, VNC
#: Authentication with a password, None only when neither is configured.
SUBTYPES: dict[int, Entry] = {
    VeNCryptSubtype.X509_PLAIN: Entry(
        NAMES[VeNCryptSubtype.X509_PLAIN],
        lambda c: c.tls_context is not None and c.plain_users is not None,
        _x509(_plain),
    ),
    VeNCryptSubtype.X509_VNC: Entry(
        NAMES[VeNCryptSubtype.X509_VNC],
        lambda c: c.tls_context is not None and c.has_password,
        _x509(_vnc_auth),
        needs_random=True,
    ),
    VeNCryptSubtype.X509_NONE: Entry(
        NAMES[VeNCryptSubtype.X509_NONE],
        lambda c: c.tls_context is not None and c.unauthenticated,
        _x509(_none),
    ),
    VeNCryptSubtype.TLS_PLAIN: Entry(
        NAMES[VeNCryptSubtype.TLS_PLAIN],
        lambda c: c.anon_tls_context is not None and c.plain_users is not None,
        _anon(_plain),
    ),
    VeNCryptSubtype.TLS_VNC: Entry(
        NAMES[VeNCryptSubtype.TLS_VNC],
        lambda c: c.anon_tls_context is not None and c.has_password,
        _anon(_vnc_auth),
        needs_random=True,
    ),
    VeNCryptSubtype.TLS_NONE: Entry(
        NAMES[VeNCryptSubtype.TLS_NONE],
        lambda c: c.anon_tls_context is not None and c.unauthenticated,
        _anon(_none),
    ),
}


def handler_for(config: SecurityConfig, security_type: int) -> SecurityHandler:
    """A fresh handler for an offered ``security_type``."""
    return TYPES[security_type].make(config)


def describe(security_type: int, subtype: int = 0) -> str:
    """A name for logs: ``VncAuth``, ``VeNCrypt/X509Plain``, or the number."""
    if subtype:
        return f"VeNCrypt/{SUBTYPES[subtype].name if subtype in SUBTYPES else subtype}"
    entry = TYPES.get(security_type)
    return entry.name if entry is not None else str(security_type)
