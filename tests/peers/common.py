"""What every real-peer wrapper shares: errors, keysyms for typed text, screen comparison.

A *peer* is any object with ``capture() -> np.ndarray`` returning the client's screen as an
``(height, width)`` ``uint32`` array of ``0x00RRGGBB`` (a plain callable returning such an array
works too). :func:`wait_until_equal` polls it until it equals what the server holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

TESTS_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = TESTS_DIR / ".work"  # build products and scratch files (git-ignored)

# X keysyms (X11 keysymdef.h) for the control characters type_text understands.
XK_BackSpace = 0xFF08
XK_Tab = 0xFF09
XK_Return = 0xFF0D
XK_Escape = 0xFF1B
XK_Delete = 0xFFFF

_CONTROL_KEYSYMS = {
    "\n": XK_Return,
    "\r": XK_Return,
    "\t": XK_Tab,
    "\b": XK_BackSpace,
    "\x1b": XK_Escape,
    "\x7f": XK_Delete,
}


class PeerError(RuntimeError):
    """A real peer failed: could not connect, was refused, or broke off."""


class PeerConnectError(PeerError):
    """The peer could not complete the handshake (connection refused, auth failed, ...)."""


def keysym_for_char(ch: str) -> int:
    """The keysym a VNC viewer sends for one typed character.

    Latin-1 printable characters are their own keysyms; other Unicode characters use the
    ``0x01000000 + codepoint`` form; newline is Return (as is ``\\r``), and Tab, BackSpace,
    Escape and Delete map to their function keysyms. Other control characters need modifiers
    and are refused.
    """
    if len(ch) != 1:
        raise ValueError(f"one character expected, got {ch!r}")
    if ch in _CONTROL_KEYSYMS:
        return _CONTROL_KEYSYMS[ch]
    cp = ord(ch)
    if cp < 0x20 or 0x7F <= cp < 0xA0:
        raise ValueError(f"control character {ch!r} has no plain keysym; send it as a key chord")
    if cp <= 0xFF:
        return cp
    return 0x01000000 | cp


def keysyms_for_text(text: str) -> list[int]:
    return [keysym_for_char(ch) for ch in text]


@dataclass(frozen=True)
class ScreenDiff:
    """How a captured screen differs from the expected one."""

    equal: bool
    actual_shape: tuple[int, ...]
    expected_shape: tuple[int, ...]
    count: int = 0  # differing pixels
    bbox: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 (exclusive) of the differences
    samples: tuple[tuple[int, int, int, int], ...] = ()  # (x, y, actual, expected), first few
    error: str | None = None  # the last capture failed with this message

    def __bool__(self) -> bool:
        return self.equal

    def describe(self) -> str:
        if self.error is not None:
            return f"capture failed: {self.error}"
        if self.equal:
            return "screens are equal"
        if self.actual_shape != self.expected_shape:
            return f"shape differs: captured {self.actual_shape}, expected {self.expected_shape}"
        assert self.bbox is not None
        x0, y0, x1, y1 = self.bbox
        total = int(np.prod(self.expected_shape))
        first = ", ".join(f"({x},{y}) got {a:06x} want {e:06x}" for x, y, a, e in self.samples)
        return (
            f"{self.count} of {total} pixels differ, within x {x0}..{x1 - 1}, y {y0}..{y1 - 1}"
            f" ({x1 - x0}x{y1 - y0}); first: {first}"
        )

    __str__ = describe


def diff_screens(actual: np.ndarray, expected: np.ndarray, samples: int = 5) -> ScreenDiff:
    """Compare two screens (any same-shaped integer arrays, e.g. 0x00RRGGBB or client pixels)."""
    a_shape, e_shape = tuple(actual.shape), tuple(expected.shape)
    if a_shape != e_shape:
        return ScreenDiff(False, a_shape, e_shape)
    mask = np.asarray(actual) != np.asarray(expected)
    count = int(mask.sum())
    if count == 0:
        return ScreenDiff(True, a_shape, e_shape)
    ys, xs = np.nonzero(mask)
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    picked = tuple(
        (int(x), int(y), int(actual[y, x]), int(expected[y, x]))
        for y, x in zip(ys[:samples], xs[:samples], strict=True)
    )
    return ScreenDiff(False, a_shape, e_shape, count, bbox, picked)


@runtime_checkable
class SupportsCapture(Protocol):
    def capture(self) -> np.ndarray: ...


def _capture_fn(peer: SupportsCapture | Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    if isinstance(peer, SupportsCapture):
        return peer.capture
    if callable(peer):
        return peer
    raise TypeError(f"{peer!r} has no capture()")


def wait_until_equal(
    peer: SupportsCapture | Callable[[], np.ndarray],
    get_expected: Callable[[], np.ndarray] | np.ndarray,
    timeout: float = 5.0,
    interval: float = 0.05,
) -> ScreenDiff:
    """Capture until the peer's screen equals the expected one, or ``timeout`` seconds pass.

    ``get_expected`` is called afresh for every attempt (the server's framebuffer may still be
    changing); pass an array for a fixed expectation. Returns the last :class:`ScreenDiff`, which
    is truthy when equal, so tests read ``diff = wait_until_equal(...); assert diff, diff``.
    A capture that raises :class:`PeerError` is retried; the last error is reported.
    """
    capture = _capture_fn(peer)
    deadline = time.monotonic() + timeout
    while True:
        expected = get_expected() if callable(get_expected) else get_expected
        try:
            diff = diff_screens(capture(), np.asarray(expected))
        except PeerError as exc:
            shape = tuple(np.asarray(expected).shape)
            diff = ScreenDiff(False, (), shape, error=str(exc))
        if diff.equal or time.monotonic() >= deadline:
            return diff
        time.sleep(interval)


def assert_screen_equal(
    peer: SupportsCapture | Callable[[], np.ndarray],
    get_expected: Callable[[], np.ndarray] | np.ndarray,
    timeout: float = 5.0,
) -> None:
    """:func:`wait_until_equal`, raising AssertionError with the diff when it never matches."""
    diff = wait_until_equal(peer, get_expected, timeout)
    if not diff.equal:
        raise AssertionError(f"peer screen never matched within {timeout} s: {diff.describe()}")
