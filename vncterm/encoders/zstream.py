"""Persistent deflate streams for the zlib-based encodings.

RFB spec sections 7.7.5 (Zlib), 7.7.6 (Tight) and 7.7.7 (ZRLE): each of these keeps one or more
zlib streams open for the life of a connection, and every rectangle's data ends with a
``Z_SYNC_FLUSH`` so the viewer can inflate it without waiting for more input.

The library is zlib-ng (PyPI ``zlib-ng``), which produces standard zlib streams and measured
2-4x faster than the stdlib module on terminal frames at similar sizes (see
``benchmarks/bench_encoders.py --zlib``).
"""

from __future__ import annotations

from dataclasses import dataclass

from zlib_ng import zlib_ng as _zlib

#: The zlib level used when the viewer sent no compression-level pseudo-encoding.
DEFAULT_LEVEL = 6


class ZStream:
    """One deflate stream; ``compress`` returns a chunk that ends on a sync-flush boundary.

    :meth:`relevel` changes the compression level without the viewer noticing: the stream
    continues with a fresh raw deflater (no zlib header) at the new level. After a sync flush
    the viewer's inflater stands at a block boundary, and blocks that refer only to their own
    output are a valid continuation (RFC 1951 section 3.2.3); the Adler-32 trailer is never
    checked because the stream never ends. This is how we honour a new compression level
    without resetting a stream, which noVNC cannot survive (below).

    Why no resets: noVNC's vendored pako (1.7.0) ``inflateReset`` zeroes the window size of an
    inflater whose window is already allocated and never restores it, so after a Tight reset
    of a used stream every back-reference into an earlier rectangle fails ("zlib inflate
    failed"). Tight therefore sets a stream's reset bit only on its first use.
    """

    __slots__ = ("_obj", "level")

    def __init__(self, level: int = DEFAULT_LEVEL) -> None:
        self.level = max(0, min(9, level))
        self._obj = _zlib.compressobj(self.level)

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """Deflate ``data`` and sync-flush, so the chunk can be inflated on its own."""
        return self._obj.compress(data) + self._obj.flush(_zlib.Z_SYNC_FLUSH)

    def relevel(self, level: int) -> None:
        """Continue the stream at another level (a new raw deflater; see the class doc)."""
        level = max(0, min(9, level))
        if level != self.level:
            self.level = level
            self._obj = _zlib.compressobj(level, _zlib.DEFLATED, -15)


@dataclass
class OneStream:
    """The state of an encoding with one stream for the connection's life (Zlib, ZRLE)."""

    stream: ZStream | None = None

    def at(self, level: int) -> ZStream:
        """The stream (made on first use) at ``level``; a new level continues it."""
        if self.stream is None:
            self.stream = ZStream(level)
        self.stream.relevel(level)
        return self.stream


#: zlib level for each RFB compression level (0..9, pseudo-encodings -256..-247, section 7.8)
#: when the data is palette-coded (Tight 1 bpp bitmaps and index bytes, ZRLE tiles). Such data
#: is a few tens of KB per terminal frame, so higher levels cost little: on the recorded
#: ``ls -l`` screen zlib-ng level 6 instead of 2 saves 12-20% of the bytes for 0.2 ms (80x25)
#: to 1 ms (200x60); see ``benchmarks/bench_encoders.py --zlib``. noVNC and TigerVNC send 2.
PALETTE_LEVELS = (1, 3, 6, 6, 7, 7, 8, 8, 9, 9)


def zlib_level(compress_level: int | None, *, palette: bool = False) -> int:
    """The zlib level for an RFB compression level (None: not sent, use DEFAULT_LEVEL).

    Raw pixel data (the Zlib encoding, Tight's copy and gradient filters) maps level to level;
    palette-coded data uses :data:`PALETTE_LEVELS`.
    """
    if compress_level is None:
        return DEFAULT_LEVEL
    level = max(0, min(9, compress_level))
    return PALETTE_LEVELS[level] if palette else level
