"""Giving memory back to the system after a large screen (glibc's allocator; a no-op elsewhere).

glibc serves allocations under its mmap threshold from heaps it rarely returns, and raises that
threshold (up to 32 MiB) each time a larger block is freed. After a viewer's 4096x4096 screen
(64 MiB per frame copy) went back to 80x25, the encoder threads' heaps kept ~110 MB that
nothing used (measured with ``malloc_stats``). A fixed threshold keeps every block of
:data:`MMAP_THRESHOLD` or more (a frame, a snapshot, an encoder's temporaries at that size) in
its own mapping, returned when freed; small screens' frames stay on the heap, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: Blocks this large or larger get their own mapping (glibc's M_MMAP_THRESHOLD, fixed).
MMAP_THRESHOLD = 4 << 20
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD (once, at start); False where there is no
    such allocator."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def trim() -> None:
    """Return free heap memory to the system (after the screen shrank)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
