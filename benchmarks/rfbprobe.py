"""A measuring RFB client for the benchmarks: counts bytes, updates and their arrival times.

It parses every message without decoding pixels: Raw, CopyRect, Tight (lengths from the
compression control byte and compact lengths), ZRLE (U32 length) and the pseudo-encodings the
server sends; that is enough to know where each update ends (RFB spec sections 7.6, 7.7).
"""

from __future__ import annotations

import asyncio
import struct
import time

RAW, COPYRECT, TIGHT, ZRLE = 0, 1, 7, 16
DESKTOP_SIZE, EXT_DESKTOP_SIZE, DESKTOP_NAME, QEMU_KEY = -223, -308, -307, -258
STREAM_ENCODING = 0x56545354


class Probe:
    """One benchmark viewer (32 bpp, the server's native format)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r, self.w = reader, writer
        self.bytes = 0
        self.updates = 0
        self.copyrects = 0
        self.update_times: list[float] = []
        self.width = self.height = 0
        self.closed = asyncio.Event()
        self.got_update = asyncio.Event()

    @classmethod
    async def connect(cls, port: int, encodings: list[int], request: bool = True) -> Probe:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        probe = cls(reader, writer)
        await probe._handshake(encodings)
        if request:
            probe.request(incremental=False)
        return probe

    async def _read(self, n: int) -> bytes:
        data = await self.r.readexactly(n)
        self.bytes += n
        return data

    async def _handshake(self, encodings: list[int]) -> None:
        await self._read(12)
        self.w.write(b"RFB 003.008\n")
        n = (await self._read(1))[0]
        types = await self._read(n)
        assert 1 in types, "benchmarks run vncterm without a password"
        self.w.write(b"\x01")
        await self._read(4)
        self.w.write(b"\x01")
        self.width, self.height = struct.unpack(">HH", await self._read(4))
        await self._read(16)
        (n,) = struct.unpack(">I", await self._read(4))
        await self._read(n)
        self.w.write(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))

    def request(self, incremental: bool = True) -> None:
        self.w.write(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.width, self.height))

    def pointer(self, x: int, y: int, mask: int = 0) -> None:
        self.w.write(struct.pack(">BBHH", 5, mask, x, y))

    def key(self, keysym: int) -> None:
        self.w.write(struct.pack(">BBxxI", 4, 1, keysym) + struct.pack(">BBxxI", 4, 0, keysym))

    async def run(self, keep_requesting: bool = True) -> None:
        """Read messages until the server closes; request again after every update."""
        try:
            while True:
                kind = (await self._read(1))[0]
                if kind == 0:
                    await self._update()
                    self.updates += 1
                    self.update_times.append(time.time())
                    self.got_update.set()
                    if keep_requesting:
                        self.request()
                elif kind == 2:
                    pass
                elif kind == 3:
                    (n,) = struct.unpack(">xxxi", await self._read(7))
                    await self._read(abs(n))
                elif kind == 150:
                    pass
                elif kind == 248:
                    await self._read(7)
                    await self._read((await self._read(1))[0])
                else:
                    raise RuntimeError(f"unexpected message {kind}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()

    async def _update(self) -> None:
        (count,) = struct.unpack(">xH", await self._read(3))
        for _ in range(count):
            _x, _y, w, h, enc = struct.unpack(">HHHHi", await self._read(12))
            if enc == RAW:
                await self._read(w * h * 4)
            elif enc == COPYRECT:
                self.copyrects += 1
                await self._read(4)
            elif enc == ZRLE:
                (n,) = struct.unpack(">I", await self._read(4))
                await self._read(n)
            elif enc == TIGHT:
                await self._tight(w, h)
            elif enc in (DESKTOP_SIZE, QEMU_KEY):
                pass
            elif enc == EXT_DESKTOP_SIZE:
                n = (await self._read(4))[0]
                await self._read(16 * n)
            elif enc in (DESKTOP_NAME, STREAM_ENCODING):
                (n,) = struct.unpack(">I", await self._read(4))
                await self._read(n)
            else:
                raise RuntimeError(f"encoding {enc} not understood by the probe")

    async def _compact(self) -> int:
        value, shift = 0, 0
        for i in range(3):
            b = (await self._read(1))[0]
            value |= (b & (0x7F if i < 2 else 0xFF)) << shift
            shift += 7
            if i < 2 and not b & 0x80:
                break
        return value

    async def _tight(self, w: int, h: int) -> None:
        ctl = (await self._read(1))[0] >> 4
        if ctl == 8:  # fill
            await self._read(3)
            return
        if ctl == 9:  # JPEG
            await self._read(await self._compact())
            return
        filt = (await self._read(1))[0] if ctl & 4 else 0
        if filt == 1:  # palette
            colours = (await self._read(1))[0] + 1
            await self._read(3 * colours)
            size = ((w + 7) // 8) * h if colours == 2 else w * h
        else:  # copy or gradient
            size = w * h * 3
        if size < 12:
            await self._read(size)
        else:
            await self._read(await self._compact())

    async def close(self) -> None:
        self.w.close()
