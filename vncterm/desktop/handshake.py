"""The RFB client's handshake up to ClientInit (RFB spec sections 7.1.1 to 7.2): the protocol
version, then security None or VNC Authentication, then the SecurityResult. A generator in the
style of the client's parser: it yields how many bytes it needs and gets them back."""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..errors import AuthenticationFailed, ProtocolError
from ..rfb.auth import CHALLENGE_SIZE, vnc_response
from ..rfb.constants import PROTOCOL_VERSION, SecurityResult, SecurityType
from .decoders import Reader, decode_name

#: The longest refusal or failure reason a desktop may make us read.
MAX_REASON = 64 * 1024

_U32 = struct.Struct(">I")


def security_handshake(
    password: bytes | None,
    out: list[bytes],
    set_phase: Callable[[str, tuple[int, int] | None], None],
) -> Reader[None]:
    """Agree on a version and authenticate; answers go to ``out``; ``set_phase`` is told the
    phase (for error messages) and the version once it is agreed."""
    data = yield 12
    m = PROTOCOL_VERSION.fullmatch(data)
    if not m:
        raise ProtocolError(f"not an RFB server: it sent {data!r}")
    major, minor = int(m.group(1)), int(m.group(2))
    if (major, minor) < (3, 3):
        raise ProtocolError(f"RFB {major}.{minor} is older than 3.3")
    # Unknown 3.x versions below 3.7 speak 3.3 (section 7.1.1); 3.889 (Apple) and 4.x, 3.8.
    version = (3, 3) if (major, minor) < (3, 7) else (3, 7) if (major, minor) == (3, 7) else (3, 8)
    set_phase("the security handshake", version)
    out.append(b"RFB 003.%03d\n" % version[1])

    if version == (3, 3):
        (stype,) = _U32.unpack((yield 4))
        if stype == SecurityType.INVALID:
            reason = yield from decode_name(MAX_REASON)
            raise ProtocolError(f"the desktop refused the connection: {reason}")
        if stype not in (SecurityType.NONE, SecurityType.VNC_AUTH):
            raise ProtocolError(f"the desktop wants security type {stype}, which we lack")
    else:
        count = (yield 1)[0]
        if count == 0:
            reason = yield from decode_name(MAX_REASON)
            raise ProtocolError(f"the desktop refused the connection: {reason}")
        offered = list((yield count))
        if SecurityType.NONE in offered:
            stype = SecurityType.NONE
        elif SecurityType.VNC_AUTH in offered:
            stype = SecurityType.VNC_AUTH
        else:
            raise ProtocolError(f"no security type we support among {offered}")
        out.append(bytes((stype,)))
    if stype == SecurityType.VNC_AUTH:
        if password is None:
            raise AuthenticationFailed("the desktop wants a password and none was given")
        challenge = yield CHALLENGE_SIZE
        out.append(vnc_response(password, challenge))
    if stype == SecurityType.VNC_AUTH or version == (3, 8):
        (result,) = _U32.unpack((yield 4))
        if result != SecurityResult.OK:
            reason = (yield from decode_name(MAX_REASON)) if version == (3, 8) else ""
            raise AuthenticationFailed(
                f"the desktop refused authentication: {reason or 'no reason given'}"
            )
