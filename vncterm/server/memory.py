"""Giving memory back to the system after a large screen (glibc's allocator; a no-op elsewhere).

glibc serves allocations under its mmap threshold from heaps it rarely returns, and raises that
threshold (up to 32 MiB) each time a larger block is freed. After a viewer's 4096x4096 screen
(64 MiB per frame copy) went back to 80x25, the encoder threads' heaps kept ~60-110 MB that
nothing used (measured with ``malloc_stats``; ``malloc_trim`` alone gave back little). So from
the first large screen on, the threshold is fixed at :data:`LARGE_THRESHOLD`: every block that
size or more (frames, snapshots, encoder temporaries) has its own mapping, returned when freed,
and the heap is trimmed when the screen is small again. Until then nothing changes: a 7.8 MB
frame copy (200x60 cells) costs 0.9 ms from the heap, 2 ms as a new mapping.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: Screens of more pixels than this are large (3840x1080: 16 MB per frame copy).
LARGE_AREA = 3840 * 1080
#: From the first large screen on, blocks this large or larger get their own mapping.
LARGE_THRESHOLD = 4 << 20
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


class ScreenMemory:
    """Follows the screen's size: fixes the mmap threshold at the first large screen, trims
    the heap when the screen is small again."""

    def __init__(self) -> None:
        self.large = False  # the screen is large now
        self.fixed = False  # the threshold was fixed
        self._libc = _libc()
        self._shrunk = False

    def screen_size(self, width: int, height: int) -> None:
        """The framebuffer is about to be ``width`` x ``height``."""
        was, self.large = self.large, width * height > LARGE_AREA
        if self.large and not self.fixed and self._libc is not None:
            self.fixed = bool(self._libc.mallopt(_M_MMAP_THRESHOLD, LARGE_THRESHOLD))
        self._shrunk = was and not self.large

    def trim(self) -> None:
        """Give free heap memory back now (the last viewer left: its frames are freed)."""
        if self._libc is not None:
            self._libc.malloc_trim(0)

    def trim_if_small(self) -> None:
        """After the old frame is freed: give free heap memory back if the screen shrank from
        large to small."""
        if self._shrunk and self._libc is not None:
            self._libc.malloc_trim(0)
        self._shrunk = False
