"""The declared sizes of incoming WebSocket frames (RFC 6455 section 5.2), checked before any
payload is passed on."""

from __future__ import annotations


class FrameSizeGuard:
    """Reads just the frame headers (RFC 6455 section 5.2) of the incoming byte stream, so a
    frame or message declared longer than ``limit`` is refused before any of its payload is
    passed on (wsproto streams payloads and does not expose the declared lengths)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._header = bytearray()
        self._skip = 0  # payload bytes of the current frame still to come
        self._message = 0  # declared payload of the data message so far

    def feed(self, data: bytes) -> tuple[int, str | None]:
        """``(n, reason)``: the first ``n`` bytes of ``data`` are fine; ``reason`` is set when
        the frame whose header ends past them is too long."""
        pos = 0
        while pos < len(data):
            if self._skip:
                step = min(self._skip, len(data) - pos)
                self._skip -= step
                pos += step
                continue
            start = pos - len(self._header)
            take = min(self._header_size() - len(self._header), len(data) - pos)
            self._header += data[pos : pos + take]
            pos += take
            if len(self._header) < self._header_size():
                continue
            opcode, length = self._header[0] & 0x0F, self._length()
            self._header.clear()
            if opcode < 8:  # a data frame: it counts towards its message
                if opcode != 0:
                    self._message = 0
                self._message += length
                if self._message > self.limit:
                    what = "frame" if length > self.limit else "message"
                    return max(start, 0), f"{what} of {self._message} bytes over {self.limit}"
            self._skip = length
        return len(data), None

    def _header_size(self) -> int:
        if len(self._header) < 2:
            return 2
        n = self._header[1] & 0x7F
        mask = 4 if self._header[1] & 0x80 else 0
        return 2 + mask + (2 if n == 126 else 8 if n == 127 else 0)

    def _length(self) -> int:
        n = self._header[1] & 0x7F
        if n == 126:
            return int.from_bytes(self._header[2:4], "big")
        if n == 127:
            return int.from_bytes(self._header[2:10], "big")
        return n
