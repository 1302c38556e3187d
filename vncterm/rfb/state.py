"""Where a server connection is (RFB spec sections 7.1 to 7.3, then 7.5), as its owner sees it.

The connection itself moves through VERSION, SECURITY_CHOICE, SECURITY, CLIENT_INIT,
SERVER_INIT, NORMAL and CLOSED; while a security type runs, the state shown is the one its
handler reports (a new handler may simply report SECURITY).
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    """The state of a ``ServerConnection``."""

    VERSION = "waiting for ProtocolVersion"
    SECURITY_CHOICE = "waiting for the security type"
    SECURITY = "in a security type's exchange"
    VNC_AUTH_RESPONSE = "waiting for the VNC authentication response"
    VENCRYPT_VERSION = "waiting for the VeNCrypt version"
    VENCRYPT_SUBTYPE = "waiting for the VeNCrypt sub-type"
    TLS_HANDSHAKE = "in the TLS handshake"
    PLAIN_AUTH = "waiting for the Plain credentials"
    PLAIN_CHECK = "waiting for the owner to check the Plain credentials"
    CLIENT_INIT = "waiting for ClientInit"
    SERVER_INIT = "waiting for the owner to send ServerInit"
    NORMAL = "normal"
    CLOSED = "closed"
