"""Persistent deflate streams for the zlib-based encodings.

RFB spec sections 7.7.5 (Zlib), 7.7.6 (Tight) and 7.7.7 (ZRLE): each of these keeps one or more
zlib streams open for the life of a connection, and every rectangle's data ends with a
``Z_SYNC_FLUSH`` so the viewer can inflate it without waiting for more input.

The library is zlib-ng (PyPI ``zlib-ng``), which produces standard zlib streams and measured
2-4x faster than the stdlib module on terminal frames at similar sizes (see
``benchmarks/bench_encoders.py --zlib``).
"""

from __future__ import annotations

from zlib_ng import zlib_ng as _zlib

#: The zlib level used when the viewer sent no compression-level pseudo-encoding.
DEFAULT_LEVEL = 6


class ZStream:
    """One deflate stream; ``compress`` returns a chunk that ends on a sync-flush boundary."""

    __slots__ = ("_obj", "level")

    def __init__(self, level: int = DEFAULT_LEVEL) -> None:
        self.level = max(0, min(9, level))
        self._obj = _zlib.compressobj(self.level)

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """Deflate ``data`` and sync-flush, so the chunk can be inflated on its own."""
        return self._obj.compress(data) + self._obj.flush(_zlib.Z_SYNC_FLUSH)


def zlib_level(compress_level: int | None) -> int:
    """Map an RFB compression level (0..9, section 7.8.x) to a zlib level."""
    if compress_level is None:
        return DEFAULT_LEVEL
    return max(0, min(9, compress_level))
