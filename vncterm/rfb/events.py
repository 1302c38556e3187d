"""Events the sans-I/O server connection hands to its owner (one per client message).

Section numbers refer to the RFB spec (rfbproto).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..geometry import Rect
from .pixel_format import PixelFormat


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every event."""


@dataclass(frozen=True, slots=True)
class Authenticated(Event):
    """Security completed (section 7.2); ``view_only`` when the view-only password (or a
    view-only Plain user) was used. ``subtype`` is the VeNCrypt sub-type (section 7.2.19) or 0;
    ``user`` the Plain user name."""

    security_type: int
    view_only: bool
    subtype: int = 0
    user: str | None = None


@dataclass(frozen=True, slots=True)
class AuthenticationFailed(Event):
    """The viewer failed authentication; the connection closes after the failure is sent."""

    reason: str
    user: str | None = None
    subtype: int = 0


@dataclass(frozen=True, slots=True)
class PlainCredentials(Event):
    """Plain credentials arrived (section 7.2.19): the owner checks them and answers with
    ``ServerConnection.plain_checked``."""

    user: str
    password: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Refused(Event):
    """The connection was refused (section 7.1.2: an empty security type list and a reason),
    e.g. a blocked address or too many viewers; or its credentials were refused unchecked
    (a failed SecurityResult with the reason, section 7.1.3), e.g. an address blocked since."""

    reason: str


@dataclass(frozen=True, slots=True)
class TLSClosed(Event):
    """The viewer ended its TLS session (a close_notify alert): our own close_notify is
    queued and the connection is over."""


@dataclass(frozen=True, slots=True)
class ClientInit(Event):
    """ClientInit (section 7.3.1): the owner must answer with ``send_server_init``."""

    shared: bool


@dataclass(frozen=True, slots=True)
class SetPixelFormat(Event):
    """SetPixelFormat (section 7.5.1)."""

    pixel_format: PixelFormat


@dataclass(frozen=True, slots=True)
class SetEncodings(Event):
    """SetEncodings (section 7.5.2), in the viewer's order of preference."""

    encodings: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FramebufferUpdateRequest(Event):
    """FramebufferUpdateRequest (section 7.5.3)."""

    incremental: bool
    rect: Rect


@dataclass(frozen=True, slots=True)
class KeyEvent(Event):
    """KeyEvent (section 7.5.4): an X11 keysym pressed or released."""

    down: bool
    keysym: int


@dataclass(frozen=True, slots=True)
class PointerEvent(Event):
    """PointerEvent (section 7.5.5): button mask (bit 0 = left) and position."""

    button_mask: int
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class ClientCutText(Event):
    """ClientCutText (section 7.5.6), decoded from Latin-1."""

    text: str


@dataclass(frozen=True, slots=True)
class QemuKeyEvent(Event):
    """QEMU Extended Key Event (section 7.5.7.1): keysym plus XT scan code."""

    down: bool
    keysym: int
    keycode: int


@dataclass(frozen=True, slots=True)
class StreamStart(Event):
    """Stream extension: the viewer asks to capture the stream ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class StreamEnd(Event):
    """Stream extension: the viewer ends capture ``stream_id``."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamData(Event):
    """Stream extension: bytes from the viewer for capture ``stream_id``."""

    stream_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ClipboardNotify(Event):
    """Extended Clipboard: the viewer has new clipboard data in ``formats``."""

    formats: int


@dataclass(frozen=True, slots=True)
class ClipboardRequest(Event):
    """Extended Clipboard: the viewer asks for our clipboard in ``formats``."""

    formats: int


@dataclass(frozen=True, slots=True)
class ClipboardPeek(Event):
    """Extended Clipboard: the viewer asks which formats we hold."""


@dataclass(frozen=True, slots=True)
class ClipboardProvide(Event):
    """Extended Clipboard: the viewer's clipboard text (UTF-8, decoded; LF line ends)."""

    text: str


@dataclass(frozen=True, slots=True)
class SetDesktopSize(Event):
    """SetDesktopSize (section 7.5.9): the viewer asks for a new framebuffer size."""

    width: int
    height: int
    screens: tuple[tuple[int, int, int, int, int, int], ...]  # id, x, y, w, h, flags


@dataclass(frozen=True, slots=True)
class EnableContinuousUpdates(Event):
    """EnableContinuousUpdates (section 7.5.10): updates for ``rect`` without requests."""

    enable: bool
    rect: Rect


@dataclass(frozen=True, slots=True)
class ClientFence(Event):
    """ClientFence (section 7.5.11): ``flags`` (bit 31 = request) and up to 64 bytes."""

    flags: int
    payload: bytes
