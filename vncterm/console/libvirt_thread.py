"""libvirt off the event loop: its own event loop on a thread, its blocking calls on others.

Every libvirt call is a round trip to libvirtd that waits for the daemon's locks: measured here,
any call on a domain being destroyed (even ``lookupByUUIDString`` or ``isActive``) waits ~1.7 s
for QEMU to die, and over ``qemu+ssh://`` every call costs a network round trip. Made on
vncterm's asyncio loop, that would freeze every console of the process. So:

- libvirt's own (thread-safe) default event implementation runs on a daemon thread
  (``virEventRunDefaultImpl`` forever), registered once per process before any connection;
  libvirt's callbacks (domain events, stream events, a lost connection) run there and hand their
  work to the asyncio loop with ``call_soon_threadsafe``;
- blocking calls go to a small thread pool (:func:`call`);
- a stream is non-blocking: reading happens in its event callback, on libvirt's thread.

libvirt is imported here only when first used.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, Final, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Blocking libvirt calls at once (one waiting for a domain being destroyed does not stop others).
WORKERS: Final = 4

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def libvirt_module() -> ModuleType:
    """libvirt-python (ImportError when missing), with its event loop running."""
    global _executor
    libvirt = importlib.import_module("libvirt")
    with _lock:
        if _executor is None:
            # libvirt prints every error on stderr by default: they reach callers as exceptions
            libvirt.registerErrorHandler(_ignore_error, None)
            libvirt.virEventRegisterDefaultImpl()
            threading.Thread(
                target=_run_events, args=(libvirt,), name="libvirt events", daemon=True
            ).start()
            _executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="libvirt")
    return libvirt


def _ignore_error(_opaque: object, _error: object) -> None:
    """libvirt's error handler: nothing printed."""


def _run_events(libvirt: ModuleType) -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except Exception:  # one callback's fault must not end libvirt's events
            log.exception("libvirt event loop")


async def call(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a libvirt worker thread, awaited."""
    libvirt_module()
    assert _executor is not None
    return await asyncio.get_running_loop().run_in_executor(_executor, fn, *args)


def call_soon(fn: Callable[..., object], *args: Any) -> None:
    """``fn(*args)`` on a libvirt worker thread, not waited for (its errors ignored)."""
    libvirt_module()
    assert _executor is not None
    _executor.submit(_quietly, fn, *args)


def _quietly(fn: Callable[..., object], *args: Any) -> None:
    try:
        fn(*args)
    except Exception as e:  # libvirtError: a stream or connection already gone
        log.debug("libvirt: %s", e)
