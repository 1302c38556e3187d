"""A QEMU serial chardev socket (unix path or TCP host:port) as a console.

QEMU's server-mode socket chardev (``-serial unix:PATH,server=on,wait=off``) serves one client at
a time (a second connection is accepted by the kernel but waits, silent, until the first one
leaves), drops what the guest prints while no client is attached, and stalls the guest's UART
once a client stops reading and the socket buffer fills. So this backend connects, reads
continuously whether or not anyone watches, and when the socket is not there yet or closes (QEMU
restarted) it reports that through ``on_status`` and reconnects with capped exponential backoff
until :meth:`SocketConsole.close`.

With ``telnet=True`` (a chardev with ``telnet=on``) the telnet layer is handled here: option
negotiation is stripped from the data and answered (binary both ways, QEMU echoes and suppresses
go-ahead, every other option refused), 0xFF in writes is doubled, and :meth:`send_break` sends
IAC BREAK, which QEMU turns into a serial break on the guest's UART (Magic SysRq on Linux).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any, Final, cast

from .reattach import MAX_PENDING_WRITE, ReattachingConsole

log = logging.getLogger(__name__)

CONNECT_TIMEOUT: Final = 10.0

# Telnet (RFC 854) bytes and the options we accept.
IAC: Final = 255
DONT: Final = 254
DO: Final = 253
WONT: Final = 252
WILL: Final = 251
SB: Final = 250
SE: Final = 240
BREAK: Final = 243
OPT_BINARY: Final = 0
OPT_ECHO: Final = 1
OPT_SGA: Final = 3
SB_LIMIT: Final = 64  # longest subnegotiation we swallow; past it the bytes were data after all

Address = str | os.PathLike[str] | tuple[str, int]


class TelnetFilter:
    """Sans-I/O telnet layer: :meth:`feed` returns (payload, replies to send back).

    We accept (DO) the server's BINARY, ECHO and SUPPRESS-GO-AHEAD and offer (WILL) BINARY and
    SUPPRESS-GO-AHEAD; everything else is refused. A reply is sent only when an option's state
    changes, so negotiation cannot loop. QEMU does not double 0xFF in what the guest prints, so
    an IAC followed by a byte that is not a telnet command is passed through as data.
    """

    them_ok: Final = frozenset({OPT_BINARY, OPT_ECHO, OPT_SGA})  # options we let the server do
    us_ok: Final = frozenset({OPT_BINARY, OPT_SGA})  # options we agree to do

    def __init__(self) -> None:
        self._state = 0  # 0 data, 1 after IAC, 2 option byte expected, 3 in SB, 4 IAC in SB
        self._verb = 0
        self._sb = bytearray()
        self.them: set[int] = set()  # options the server has enabled
        self.us: set[int] = set()  # options we have enabled

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        out = bytearray()
        replies = bytearray()
        for b in data:
            st = self._state
            if st == 0:
                if b == IAC:
                    self._state = 1
                else:
                    out.append(b)
            elif st == 1:
                if b == IAC:
                    out.append(IAC)
                    self._state = 0
                elif b in (WILL, WONT, DO, DONT):
                    self._verb = b
                    self._state = 2
                elif b == SB:
                    self._sb.clear()
                    self._state = 3
                elif b >= SE:  # NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, stray SE: no payload
                    self._state = 0
                else:  # an unescaped 0xFF from the guest
                    out += bytes((IAC, b))
                    self._state = 0
            elif st == 2:
                replies += self._negotiate(self._verb, b)
                self._state = 0
            elif st == 3:
                if b == IAC:
                    self._state = 4
                else:
                    self._sb.append(b)
                    if len(self._sb) > SB_LIMIT:
                        out += bytes((IAC, SB)) + self._sb
                        self._state = 0
            else:  # IAC inside SB
                if b == SE:
                    self._state = 0
                else:
                    self._sb.append(b)
                    self._state = 3
        return bytes(out), bytes(replies)

    def _negotiate(self, verb: int, opt: int) -> bytes:
        if verb == WILL:
            if opt in self.them:
                return b""
            if opt in self.them_ok:
                self.them.add(opt)
                return bytes((IAC, DO, opt))
            return bytes((IAC, DONT, opt))
        if verb == WONT:
            if opt in self.them:
                self.them.discard(opt)
                return bytes((IAC, DONT, opt))
            return b""
        if verb == DO:
            if opt in self.us:
                return b""
            if opt in self.us_ok:
                self.us.add(opt)
                return bytes((IAC, WILL, opt))
            return bytes((IAC, WONT, opt))
        # DONT
        if opt in self.us:
            self.us.discard(opt)
            return bytes((IAC, WONT, opt))
        return b""

    @staticmethod
    def escape(data: bytes) -> bytes:
        """Double every 0xFF so the server takes it as data."""
        return data.replace(b"\xff", b"\xff\xff")


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: SocketConsole) -> None:
        self.owner = owner
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Attach here, before any data_received, so no byte misses the telnet filter. uvloop's
        # transports are not asyncio.Transport subclasses, but they behave as one.
        self.owner._connected(cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        self.owner._received(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(str(exc) if exc else "closed by peer")


class SocketConsole(ReattachingConsole):
    """A QEMU serial socket: ``address`` is a unix socket path or a ``(host, port)`` pair."""

    attaching = "connecting to"

    def __init__(
        self,
        address: Address,
        *,
        telnet: bool = False,
        min_backoff: float = 0.25,
        max_backoff: float = 5.0,
        max_pending_write: int = MAX_PENDING_WRITE,
    ) -> None:
        if isinstance(address, tuple):
            self.address: str | tuple[str, int] = (address[0], int(address[1]))
            description = f"{address[0]}:{address[1]}"
        else:
            self.address = os.fspath(address)
            description = self.address
        super().__init__(
            description,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            max_pending_write=max_pending_write,
        )
        self.telnet = telnet
        self._transport: asyncio.Transport | None = None
        self._filter = TelnetFilter()
        self._paused = False
        self._held = bytearray()  # bytes read while paused, delivered on resume
        #: Sends a BREAK some other way (QMP ``chardev-send-break``) when not telnet: a
        #: future done once the BREAK is on the line (None: it cannot be sent now).
        self.break_hook: Callable[[], asyncio.Future[Any] | None] | None = None
        self._after_break: bytearray | None = None  # writes held until the BREAK is done

    async def _attach(self) -> asyncio.Future[str]:
        loop = asyncio.get_running_loop()
        if isinstance(self.address, tuple):
            coro = loop.create_connection(lambda: _Protocol(self), *self.address)
        else:
            coro = loop.create_unix_connection(lambda: _Protocol(self), self.address)
        _, protocol = await asyncio.wait_for(coro, CONNECT_TIMEOUT)
        return protocol.lost

    def _connected(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._filter = TelnetFilter()
        if self._paused:
            transport.pause_reading()
        self._attached()

    def _detach(self) -> None:
        transport, self._transport = self._transport, None
        self.connected = False
        if transport is not None:
            transport.abort()

    def _received(self, data: bytes) -> None:
        if self.telnet:
            data, replies = self._filter.feed(data)
            if replies and self._transport is not None:
                self._transport.write(replies)
        if self._paused:  # read before the pause took hold (uvloop starts reading after attach)
            self._held += data
            if self._transport is not None and not self._transport.is_closing():
                self._transport.pause_reading()
            return
        if data and self._on_data is not None:
            self._on_data(data)

    def _send(self, data: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():  # lost, the loop not told yet
            return self._may_queue(0, data, attached=False)
        if not self._may_queue(transport.get_write_buffer_size(), data):
            return False
        transport.write(data)
        return True

    def write(self, data: bytes) -> None:
        """Queue bytes for the guest; dropped while detached or beyond the write cap."""
        if data and self._after_break is not None:  # the SysRq key must follow the BREAK
            if len(self._after_break) + len(data) <= self.max_pending_write:
                self._after_break += data
        elif data:
            self._send(TelnetFilter.escape(data) if self.telnet else data)

    def send_break(self) -> bool:
        """IAC BREAK on a telnet chardev (QEMU makes it a UART break), else through
        :attr:`break_hook` when there is one; False when neither can."""
        if not self.telnet:
            done = self.break_hook() if self.break_hook is not None else None
            if done is None:
                return False
            if self._after_break is None:
                self._after_break = bytearray()
            done.add_done_callback(self._break_done)
            return True
        return self._send(bytes((IAC, BREAK)))

    def _break_done(self, _: object) -> None:
        """The BREAK went out another way: the keys typed meanwhile follow it."""
        held, self._after_break = self._after_break, None
        if held:
            self.write(bytes(held))

    def pending_write(self) -> int:
        """Bytes written but still queued for the socket."""
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def pause_reading(self) -> None:
        """Stop reading (the guest stalls once the socket fills); kept across reconnects."""
        self._paused = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading`."""
        self._paused = False
        held, self._held = bytes(self._held), bytearray()
        if held and self._on_data is not None:
            self._on_data(held)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()
