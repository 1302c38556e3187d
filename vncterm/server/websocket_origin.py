"""Which web pages may open a WebSocket to vncterm (RFC 6455 section 10.2).

Origin policy (:class:`OriginPolicy`): browsers let any web page open a WebSocket to any
address, localhost included, so a hostile page could otherwise drive a console that needs no
password (cross-site WebSocket hijacking). Requests without ``Origin`` (not from a browser) are
always accepted. With ``--websocket-origin`` given, the ``Origin`` must be one of those (``*``
allows every origin). Without it, any origin is accepted when the server asks viewers for
authentication (a password, Plain users or client certificates), and only loopback origins
(``http(s)://localhost``, ``127.0.0.0/8``, ``[::1]``, any port) when it does not.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    """Which ``Origin`` headers may open a WebSocket (RFC 6455 section 10.2); see the module
    docstring for the rules."""

    #: Exact origins allowed (``scheme://host[:port]``, ``null``, or ``*`` for any); empty: the
    #: default rule.
    allowed: tuple[str, ...] = ()
    #: True when the server authenticates viewers (then any origin is allowed by default).
    authenticated: bool = False

    def refusal(self, origin: str | None) -> str | None:
        """Why ``origin`` is refused, or None when it is allowed."""
        if origin is None:
            return None
        if self.allowed:
            wanted = origin.rstrip("/").lower()
            if "*" in self.allowed or wanted in (a.rstrip("/").lower() for a in self.allowed):
                return None
            return f"origin {origin} is not one of --websocket-origin {' '.join(self.allowed)}"
        if self.authenticated or is_loopback_origin(origin):
            return None
        return (
            f"origin {origin} is not a loopback origin and the server asks for no "
            "password (allow it with --websocket-origin)"
        )


def is_loopback_origin(origin: str) -> bool:
    """True for ``http(s)://`` origins whose host is localhost or a loopback address."""
    try:
        url = urllib.parse.urlsplit(origin)
        host = url.hostname
    except ValueError:
        return False
    if url.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
