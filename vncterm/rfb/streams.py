"""The tunnelled-stream extension: named byte streams carried over an RFB connection.

Wire format (first proposed for QEMU character devices on pseudo-encoding -260):

* The server announces streams with FramebufferUpdate rectangles of the stream pseudo-encoding:
  x = 0 adds a stream, x = 1 removes one; y, w and h are 0; the payload is U32 length + name.
* Message type 255, sub-type 2, then an operation byte, in both directions:
  0 start capture (client: U32 length + name; server answers U32 id, U32 length + name),
  1 end capture (U32 id), 2 data (U32 id, U32 length, bytes).

-260 is also Tight PNG, which noVNC lists in every SetEncodings. The rule vncterm implements:
a viewer gets stream rectangles if it lists :data:`STREAM_ENCODING` (vncterm's own unambiguous
number), or lists -260 *without* Tight (7); a viewer listing Tight and -260 means Tight PNG and
never sees a stream rectangle. Rectangles carry the number the viewer asked with.

Stream states (vncterm's own addition, only for a viewer that also lists
:data:`STREAM_STATE_ENCODING`): a rectangle of that pseudo-encoding with x = state flags
(:data:`STATE_GUEST_OPEN`, :data:`STATE_GUEST_KNOWN`, :data:`STATE_CONNECTED`), y, w and h 0,
payload U32 length + name, after a stream's addition and whenever its state changes. A viewer
that lists only the base numbers gets exactly the base format.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ProtocolError
from ..geometry import Rect
from .constants import Encoding

#: The proposal's number (shared with Tight PNG).
STREAM_ENCODING_260 = Encoding.TIGHT_PNG_OR_STREAM
#: vncterm's unambiguous number for the same extension ("VTST"; listed by no registry).
STREAM_ENCODING = 0x56545354
#: vncterm's stream-state pseudo-encoding ("VTSU", next to VTST; listed by no registry).
STREAM_STATE_ENCODING = 0x56545355

#: State flags (the rectangle's x): the guest has the port open; the guest's side is known
#: at all (a plain serial port reports nothing); vncterm is attached to the device's backend.
STATE_GUEST_OPEN = 1
STATE_GUEST_KNOWN = 2
STATE_CONNECTED = 4

QEMU_MSG = 255
STREAM_SUBTYPE = 2
OP_START, OP_END, OP_DATA = 0, 1, 2

#: Caps on what a client may send.
MAX_NAME = 256
MAX_DATA = 1 << 20

_U32 = struct.Struct(">I")


def stream_encoding_for(encodings: Sequence[int]) -> int | None:
    """The number to announce streams with for this SetEncodings list, or None (no streams)."""
    if STREAM_ENCODING in encodings:
        return STREAM_ENCODING
    if STREAM_ENCODING_260 in encodings and Encoding.TIGHT not in encodings:
        return int(STREAM_ENCODING_260)
    return None


@dataclass(frozen=True)
class StreamState:
    """A stream's state: whether the guest has it open (None: unknown) and whether vncterm
    is attached to its backend (for a device connected on demand: while it is captured)."""

    name: str
    guest_open: bool | None = None
    connected: bool = False

    @property
    def flags(self) -> int:
        known = self.guest_open is not None
        return (
            (STATE_GUEST_OPEN if self.guest_open else 0)
            | (STATE_GUEST_KNOWN if known else 0)
            | (STATE_CONNECTED if self.connected else 0)
        )

    @classmethod
    def from_flags(cls, name: str, flags: int) -> StreamState:
        guest = bool(flags & STATE_GUEST_OPEN) if flags & STATE_GUEST_KNOWN else None
        return cls(name, guest, bool(flags & STATE_CONNECTED))

    def rect(self) -> tuple[Rect, bytes]:
        """The state rectangle (pseudo-encoding :data:`STREAM_STATE_ENCODING`) and payload."""
        data = self.name.encode()
        return Rect(self.flags, 0, 0, 0), _U32.pack(len(data)) + data


#: One change announced to stream clients: (name, added) or a new state.
StreamChange = tuple[str, bool] | StreamState


def wants_states(encodings: Sequence[int]) -> bool:
    """Whether a SetEncodings list asks for stream states (and gets streams at all)."""
    return STREAM_STATE_ENCODING in encodings and stream_encoding_for(encodings) is not None


def announcement(name: str, added: bool) -> tuple[Rect, bytes]:
    """The rectangle and payload announcing that ``name`` was added or removed."""
    data = name.encode()
    return Rect(0 if added else 1, 0, 0, 0), _U32.pack(len(data)) + data


def started(stream_id: int, name: str) -> bytes:
    """Server answer to a start-capture request."""
    data = name.encode()
    return struct.pack(">BBBII", QEMU_MSG, STREAM_SUBTYPE, OP_START, stream_id, len(data)) + data


def ended(stream_id: int) -> bytes:
    """End of a capture (either direction)."""
    return struct.pack(">BBBI", QEMU_MSG, STREAM_SUBTYPE, OP_END, stream_id)


def data_message(stream_id: int, data: bytes) -> bytes:
    """Stream bytes (either direction)."""
    return struct.pack(">BBBII", QEMU_MSG, STREAM_SUBTYPE, OP_DATA, stream_id, len(data)) + data


def start_request(name: str) -> bytes:
    """Client request to start capturing ``name``."""
    data = name.encode()
    return struct.pack(">BBBI", QEMU_MSG, STREAM_SUBTYPE, OP_START, len(data)) + data


def parse_client_message(buf: bytes | bytearray) -> tuple[int, tuple[object, ...]] | None:
    """Parse one client stream message at the start of ``buf`` (which begins 255, 2).

    Returns (bytes consumed, (op, args...)) or None when more bytes are needed. Lengths are
    checked against the caps before anything is read.
    """
    if len(buf) < 3:
        return None
    op = buf[2]
    if op == OP_START:
        if len(buf) < 7:
            return None
        (n,) = _U32.unpack_from(buf, 3)
        if n > MAX_NAME:
            raise ProtocolError(f"stream name of {n} bytes (limit {MAX_NAME})")
        if len(buf) < 7 + n:
            return None
        try:
            name = bytes(buf[7 : 7 + n]).decode()
        except UnicodeDecodeError:
            raise ProtocolError("stream name is not UTF-8") from None
        return 7 + n, (OP_START, name)
    if op == OP_END:
        if len(buf) < 7:
            return None
        return 7, (OP_END, _U32.unpack_from(buf, 3)[0])
    if op == OP_DATA:
        if len(buf) < 11:
            return None
        stream_id, n = struct.unpack_from(">II", buf, 3)
        if n > MAX_DATA:
            raise ProtocolError(f"stream data message of {n} bytes (limit {MAX_DATA})")
        if len(buf) < 11 + n:
            return None
        return 11 + n, (OP_DATA, stream_id, bytes(buf[11 : 11 + n]))
    raise ProtocolError(f"unknown stream operation {op}")
