"""The exception tree shared by every layer.

``ProtocolError`` means the peer broke the protocol (drop it, log the reason);
``UsageError`` means our own code called an API wrongly (a bug);
``ConfigError`` means the user's options cannot work.
"""


class VncTermError(Exception):
    """Base of every vncterm exception."""


class ProtocolError(VncTermError):
    """The peer sent something the RFB protocol does not allow, or that we refuse."""


class AuthenticationFailed(ProtocolError):
    """The viewer did not prove it knows the password."""


class UsageError(VncTermError):
    """An API was used in a way it does not support (a bug in the caller)."""


class ConfigError(VncTermError):
    """The configuration is invalid or unsafe."""
