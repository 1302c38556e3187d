"""The RFB client side as a sans-I/O state machine (RFB spec sections 7.1 to 7.8).

vncterm connects to a guest's desktop (or accepts its reverse connection) and decodes everything
into its own framebuffer. Feed the desktop's bytes to :meth:`DesktopClient.receive_data`; it
returns the events those bytes completed and queues its answers, which :meth:`data_to_send`
hands back. No sockets, clocks or OS calls. Bytes may arrive split anywhere: the same events come
out. A desktop that breaks the protocol raises :class:`~vncterm.errors.ProtocolError` (its subclass
:class:`~vncterm.errors.AuthenticationFailed` for a refused password) and the client is closed;
every length it sends is capped before anything is allocated for it.

The client asks for 32 bpp true colour, little-endian, shifts 16/8/0 (section 7.5.1), so decoded
pixels are the framebuffer's own ``0x00RRGGBB`` words, and lists only the encodings it decodes
(section 7.5.2) plus Cursor, DesktopSize, ExtendedDesktopSize, DesktopName, LastRect and, unless
disabled, the Extended Clipboard.
"""

from __future__ import annotations

import enum
import logging
import struct
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import ProtocolError, UsageError
from ..geometry import Move, Rect
from ..rfb.constants import (
    ClientMsg,
    DesktopSizeStatus,
    Encoding,
    ServerMsg,
)
from ..rfb.pixel_format import PIXEL_FORMAT_SIZE, SERVER_PIXEL_FORMAT
from .clipboard import DesktopClipboard
from .decoders import (
    Reader,
    TightState,
    ZrleState,
    decode_copyrect,
    decode_cursor,
    decode_extended_desktop_size,
    decode_hextile,
    decode_name,
    decode_raw,
    decode_tight,
    decode_zrle,
)
from .decoders.base import U8, U32
from .events import (
    Bell,
    Connected,
    CursorChanged,
    CutText,
    Event,
    FramebufferUpdated,
    NameChanged,
    Resized,
)
from .handshake import security_handshake

log = logging.getLogger(__name__)

#: The encodings this client decodes, and the default preference order.
DECODABLE = frozenset(
    {Encoding.RAW, Encoding.COPYRECT, Encoding.HEXTILE, Encoding.ZRLE, Encoding.TIGHT}
)
DEFAULT_ENCODINGS: tuple[int, ...] = (
    Encoding.TIGHT,
    Encoding.ZRLE,
    Encoding.HEXTILE,
    Encoding.COPYRECT,
    Encoding.RAW,
)
#: Pseudo-encodings always announced (sections 7.8.2 to 7.8.5, LastRect).
PSEUDO_ENCODINGS: tuple[int, ...] = (
    Encoding.CURSOR,
    Encoding.EXTENDED_DESKTOP_SIZE,
    Encoding.DESKTOP_SIZE,
    Encoding.DESKTOP_NAME,
    Encoding.LAST_RECT,
)

MAX_CUT_TEXT = 1 << 20
_SKIP_CHUNK = 64 * 1024

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_S32 = struct.Struct(">i")
_RECT = struct.Struct(">HHHHi")


class State(enum.Enum):
    """Where the connection is: the handshake (sections 7.1 to 7.3), normal, closed."""

    HANDSHAKE = "handshake"
    NORMAL = "normal"
    CLOSED = "closed"


class DesktopClient:
    """One connection to a VNC desktop, from the first byte the desktop sends.

    ``encodings`` is the preference order among :data:`DECODABLE`; ``jpeg_quality`` (0-9) lets
    a Tight desktop send JPEG (only then does TigerVNC use it); ``compress_level`` (0-9) is sent
    as the compression-level pseudo-encoding. ``max_width``/``max_height`` cap the framebuffer a
    desktop can make us allocate, ``max_cut_text`` the clipboard it can make us keep (larger text
    is skipped, not kept).
    """

    def __init__(
        self,
        password: str | bytes | None = None,
        *,
        encodings: Sequence[int] = DEFAULT_ENCODINGS,
        jpeg_quality: int | None = None,
        compress_level: int | None = None,
        shared: bool = True,
        extended_clipboard: bool = True,
        max_width: int = 8192,
        max_height: int = 8192,
        max_cut_text: int = MAX_CUT_TEXT,
    ) -> None:
        unknown = [e for e in encodings if e not in DECODABLE]
        if unknown:
            raise UsageError(f"cannot decode encodings {unknown}; choose from {sorted(DECODABLE)}")
        for label, level in (("jpeg_quality", jpeg_quality), ("compress_level", compress_level)):
            if level is not None and not 0 <= level <= 9:
                raise UsageError(f"{label} must be 0..9, got {level}")
        self._password = password.encode() if isinstance(password, str) else password
        self._encodings = list(dict.fromkeys(int(e) for e in encodings))
        self._jpeg_quality = jpeg_quality
        self._compress_level = compress_level
        self._shared = shared
        self._ext_clip_announce = extended_clipboard
        self.max_width, self.max_height = max_width, max_height
        self.max_cut_text = max_cut_text

        self.state = State.HANDSHAKE
        #: The negotiated protocol version, e.g. (3, 8).
        self.version: tuple[int, int] | None = None
        self.width = 0
        self.height = 0
        self.name = ""
        #: The desktop's pixels, (height, width) uint32 0x00RRGGBB. Replaced on a resize.
        self.framebuffer: U32 = np.zeros((0, 0), np.uint32)
        #: The desktop's cursor: RGBA image and hotspot, None until it sends one.
        self.cursor: tuple[U8, tuple[int, int]] | None = None

        #: Rectangles received per encoding number (pseudo-encodings included).
        self.rect_counts: Counter[int] = Counter()
        self._zrle = ZrleState()
        self.tight = TightState()
        self._events: list[Event] = []
        self._out: list[bytes] = []
        #: Our side of the desktop's clipboard (its events join ours when they happen).
        self.clipboard = DesktopClipboard(
            self._out.append, lambda ev: self._events.append(ev), max_cut_text
        )
        self._buf = bytearray()
        self._pos = 0
        self._doing: str | None = "the ProtocolVersion"
        self._parser = self._run()
        self._need = next(self._parser)

    # -- bytes in, events and bytes out ---------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Consume bytes from the desktop; return the events they completed.

        Raises ProtocolError (and closes) when the desktop breaks the protocol; the events
        completed before the bad bytes are then kept for :meth:`pending_events`.
        """
        if self.state is State.CLOSED:
            raise UsageError("receive_data on a closed desktop client")
        self._buf += data
        try:
            while len(self._buf) - self._pos >= self._need:
                start = self._pos
                self._pos += self._need
                with memoryview(self._buf) as view:
                    chunk = bytes(view[start : self._pos])
                self._need = self._parser.send(chunk)
        except ProtocolError:
            self.state = State.CLOSED
            raise
        finally:
            if self._pos:
                del self._buf[: self._pos]
                self._pos = 0
        return self.pending_events()

    def pending_events(self) -> list[Event]:
        """Events completed but not yet returned (after a ProtocolError), and forget them."""
        events, self._events = self._events, []
        return events

    def receive_eof(self) -> None:
        """The desktop closed the connection: ProtocolError unless it was between messages."""
        if self.state is State.CLOSED:
            return
        state, self.state = self.state, State.CLOSED
        if state is State.HANDSHAKE:
            raise ProtocolError(f"the desktop closed the connection in {self._doing}")
        if self._doing is not None or self._buf:
            raise ProtocolError(
                f"the desktop closed the connection in the middle of {self._doing or 'a message'}"
            )

    def data_to_send(self) -> bytes:
        """The bytes queued for the desktop (and forget them)."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def close(self) -> None:
        """Mark the client closed (the driver dropped the connection)."""
        self.state = State.CLOSED

    # -- client messages (section 7.5) ----------------------------------------------------------

    def request_update(self, incremental: bool = True, rect: Rect | None = None) -> None:
        """FramebufferUpdateRequest (section 7.5.3), by default for the whole framebuffer."""
        self._check_normal()
        r = rect or Rect(0, 0, self.width, self.height)
        self._out.append(
            struct.pack(
                ">BBHHHH",
                ClientMsg.FRAMEBUFFER_UPDATE_REQUEST,
                int(incremental),
                r.x,
                r.y,
                r.w,
                r.h,
            )
        )

    def key_event(self, keysym: int, down: bool) -> None:
        """KeyEvent (section 7.5.4)."""
        self._check_normal()
        self._out.append(struct.pack(">BBxxI", ClientMsg.KEY_EVENT, int(down), keysym & 0xFFFFFFFF))

    def pointer_event(self, x: int, y: int, buttons: int) -> None:
        """PointerEvent (section 7.5.5); coordinates are clamped to the framebuffer."""
        self._check_normal()
        x = min(max(x, 0), max(self.width - 1, 0))
        y = min(max(y, 0), max(self.height - 1, 0))
        self._out.append(struct.pack(">BBHH", ClientMsg.POINTER_EVENT, buttons & 0xFF, x, y))

    def cut_text(self, text: str) -> None:
        """Offer ``text`` to the desktop's clipboard (see :meth:`DesktopClipboard.offer`)."""
        self._check_normal()
        self.clipboard.offer(text)

    def _check_normal(self) -> None:
        if self.state is not State.NORMAL:
            raise UsageError(f"cannot send messages to the desktop in state {self.state.value}")

    # -- the parser -----------------------------------------------------------------------------

    def _run(self) -> Reader[None]:
        yield from self._handshake()
        while True:
            self._doing = None
            kind = (yield 1)[0]
            if kind == ServerMsg.FRAMEBUFFER_UPDATE:
                self._doing = "a FramebufferUpdate"
                yield from self._update()
            elif kind == ServerMsg.SET_COLOUR_MAP_ENTRIES:
                raise ProtocolError("SetColourMapEntries, although we asked for true colour")
            elif kind == ServerMsg.BELL:
                self._events.append(Bell())
            elif kind == ServerMsg.SERVER_CUT_TEXT:
                self._doing = "a ServerCutText"
                yield from self._server_cut_text()
            else:
                raise ProtocolError(f"unknown server message type {kind}")

    def _handshake(self) -> Reader[None]:
        """Sections 7.1.1 (ProtocolVersion) to 7.3.2 (ServerInit)."""
        yield from security_handshake(self._password, self._out, self._set_phase)
        self._out.append(bytes((int(self._shared),)))

        self._doing = "ServerInit"
        head = yield 4 + PIXEL_FORMAT_SIZE
        width, height = struct.unpack_from(">HH", head)
        self._check_size(width, height)
        self.name = yield from decode_name()
        self.width, self.height = width, height
        self.framebuffer = np.zeros((height, width), np.uint32)
        self._out.append(
            struct.pack(">Bxxx", ClientMsg.SET_PIXEL_FORMAT) + SERVER_PIXEL_FORMAT.to_bytes()
        )
        codes = self.announced_encodings()
        self._out.append(
            struct.pack(f">BxH{len(codes)}i", ClientMsg.SET_ENCODINGS, len(codes), *codes)
        )
        self.state = State.NORMAL
        self._events.append(Connected(width, height, self.name))

    def _set_phase(self, phase: str, version: tuple[int, int] | None = None) -> None:
        """What the handshake is doing (for error messages), and the version once agreed."""
        self._doing = phase
        if version is not None:
            self.version = version

    def announced_encodings(self) -> list[int]:
        """What SetEncodings lists (section 7.5.2): decodable ones, then pseudo-encodings."""
        codes = [*self._encodings, *PSEUDO_ENCODINGS]
        if self._jpeg_quality is not None:
            codes.append(Encoding.JPEG_QUALITY_LOW + self._jpeg_quality)
        if self._compress_level is not None:
            codes.append(Encoding.COMPRESS_LEVEL_LOW + self._compress_level)
        if self._ext_clip_announce:
            codes.append(Encoding.EXTENDED_CLIPBOARD)
        return [int(c) for c in codes]

    def _check_size(self, width: int, height: int) -> None:
        if width > self.max_width or height > self.max_height:
            raise ProtocolError(
                f"desktop of {width}x{height} exceeds the limit of "
                f"{self.max_width}x{self.max_height}"
            )

    def _resize(self, width: int, height: int) -> None:
        self._check_size(width, height)
        new = np.zeros((height, width), np.uint32)
        h, w = min(height, self.height), min(width, self.width)
        new[:h, :w] = self.framebuffer[:h, :w]
        self.framebuffer = new
        self.width, self.height = width, height
        self._events.append(Resized(width, height))

    def _update(self) -> Reader[None]:
        """FramebufferUpdate (section 7.6.1): decode every rectangle, then report the damage."""
        (count,) = _U16.unpack_from((yield 3), 1)
        damage: list[Rect] = []
        copies: list[Move] = []
        bbox = Rect(0, 0, 0, 0)
        for i in range(count):
            x, y, w, h, enc = _RECT.unpack((yield _RECT.size))
            rect = Rect(x, y, w, h)
            self.rect_counts[enc] += 1
            self._doing = f"rectangle {i + 1} of a FramebufferUpdate (encoding {enc})"
            fb = self.framebuffer
            if enc == Encoding.COPYRECT:
                src = yield from decode_copyrect(rect, fb)
                if rect.empty:
                    continue
                if _touches(src, damage, bbox):
                    damage.append(rect)
                    bbox = bbox.union(rect)
                else:
                    copies.append(Move(src, x, y))
                continue
            if enc == Encoding.RAW:
                yield from decode_raw(rect, fb)
            elif enc == Encoding.HEXTILE:
                yield from decode_hextile(rect, fb)
            elif enc == Encoding.ZRLE:
                yield from decode_zrle(rect, fb, self._zrle)
            elif enc == Encoding.TIGHT:
                yield from decode_tight(rect, fb, self.tight)
            else:
                if enc == Encoding.LAST_RECT:
                    break
                if (yield from self._pseudo(rect, enc)):
                    damage, copies, bbox = [], [], Rect(0, 0, 0, 0)
                continue
            if not rect.empty:
                damage.append(rect)
                bbox = bbox.union(rect)
        self._events.append(FramebufferUpdated(damage, copies))

    def _pseudo(self, rect: Rect, enc: int) -> Reader[bool]:
        """A pseudo-encoding rectangle; True when it resized the framebuffer."""
        if enc == Encoding.DESKTOP_SIZE:
            self._resize(rect.w, rect.h)
            return True
        if enc == Encoding.EXTENDED_DESKTOP_SIZE:
            ext = yield from decode_extended_desktop_size(rect)
            if ext.status != DesktopSizeStatus.OK:
                log.info("desktop refused a layout change: status %d", ext.status)
                return False
            if (ext.width, ext.height) == (self.width, self.height):
                return False
            self._resize(ext.width, ext.height)
            return True
        if enc == Encoding.DESKTOP_NAME:
            self.name = yield from decode_name()
            self._events.append(NameChanged(self.name))
            return False
        if enc == Encoding.CURSOR:
            image, hotspot = yield from decode_cursor(rect)
            self.cursor = (image, hotspot)
            self._events.append(CursorChanged(image, hotspot))
            return False
        raise ProtocolError(f"a rectangle with encoding {enc}, which we did not ask for")

    # -- clipboard ------------------------------------------------------------------------------

    def _server_cut_text(self) -> Reader[None]:
        """ServerCutText (section 7.6.4); a negative length is an Extended Clipboard message."""
        (length,) = _S32.unpack_from((yield 7), 3)
        if length < 0 and self._ext_clip_announce:
            size = -length
            if size > self.max_cut_text + 1024:
                log.warning("skipping an extended clipboard message of %d bytes", size)
                yield from _skip(size)
                return
            self.clipboard.extended((yield size))
            return
        size = length & 0xFFFFFFFF
        if size > self.max_cut_text:
            log.warning(
                "skipping %d bytes of desktop clipboard text (limit %d)", size, self.max_cut_text
            )
            yield from _skip(size)
            return
        text = (yield size).decode("latin-1")  # the event list is swapped while we wait
        self._events.append(CutText(text))


def _touches(src: Rect, damage: Iterable[Rect] | list[Rect], bbox: Rect) -> bool:
    """Whether ``src`` may overlap the damage so far (exact for a few rectangles)."""
    if src.intersect(bbox).empty:
        return False
    if isinstance(damage, list) and len(damage) > 32:
        return True
    return any(not src.intersect(d).empty for d in damage)


def _skip(size: int) -> Reader[None]:
    """Read and drop ``size`` bytes in chunks (an oversized message we refuse to keep)."""
    while size:
        n = min(size, _SKIP_CHUNK)
        yield n
        size -= n
