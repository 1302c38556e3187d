"""vncdotool (PyPI) as a real peer, usable from synchronous tests.

vncdotool runs on Twisted; ``vncdotool.api`` runs the reactor on a daemon thread and proxies
calls to the protocol object there. We use that, with a subclass of its client that works around
its flaws (found reading vncdotool 1.4.2):

- its screen is created from the *first rectangle* received (``updateRectangle`` does
  ``if not self.screen: self.screen = update``), so both its ``capture`` command and later
  updates are wrong whenever the first rectangle is not the whole screen. We pre-size the screen
  from ServerInit's width and height (black) before asking for the first update;
- it ignores CopyRect (the base ``copyRectangle`` is a no-op): we implement it;
- ``captureScreen`` completes on whichever update arrives next after its request, which may
  answer an earlier incremental request; instead we keep requesting incremental updates like any
  viewer and :meth:`VncDoToolPeer.capture` returns the screen as it stands (use
  ``wait_until_equal`` to wait for convergence);
- typing text with ``keyPress`` sends ``ord(ch)`` as keysym (newline becomes keysym 10, not
  Return; non-Latin-1 characters get no ``0x01000000`` prefix): we send keysyms ourselves;
- ``updateDesktopSize`` resizes its screen but not its ``width``/``height``, so every update
  request after a DesktopSize still asks for the old size: we update them;
- it only offers one encoding (Raw by default) plus DesktopSize, LastRect and QEMU Extended Key
  Event; its ZRLE decoder assumes 3-byte CPIXELs of a 32 bpp format. It keeps the server's pixel
  format when it knows it (vncterm's 32 bpp 0x00RRGGBB is one) and asks for 32 bpp RGBX otherwise.

Calls run on the reactor thread through :func:`_in_reactor` (not vncdotool's threaded proxy,
which cannot return values). The Twisted reactor cannot be restarted: never call
``vncdotool.api.shutdown()`` in tests.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import numpy as np
from PIL import Image
from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure
from vncdotool import api
from vncdotool.client import VNCDoToolClient, VNCDoToolFactory
from vncdotool.rfb import Encoding

from .common import PeerConnectError, PeerError, keysyms_for_text

ENCODINGS = {
    "raw": Encoding.RAW,
    "copyrect": Encoding.COPY_RECTANGLE,
    "rre": Encoding.RRE,
    "corre": Encoding.CORRE,
    "hextile": Encoding.HEXTILE,
    "zrle": Encoding.ZRLE,
}


class PresizedClient(VNCDoToolClient):  # type: ignore[misc]
    """vncdotool's client with a screen sized from ServerInit, CopyRect, and a standing
    incremental update request. Runs on the reactor thread."""

    updates = 0
    last_update_at = 0.0
    lost: str | None = None
    bells = 0

    def vncConnectionMade(self) -> None:
        self.cut_texts: list[str] = []
        self.setImageMode()
        encodings = [ENCODINGS[name] for name in self.factory.encoding_names]
        # the same pseudo-encodings vncdotool itself announces by default
        encodings += [
            Encoding.PSEUDO_DESKTOP_SIZE,
            Encoding.PSEUDO_LAST_RECT,
            Encoding.PSEUDO_QEMU_EXTENDED_KEY_EVENT,
        ]
        self.setEncodings(encodings)
        self.screen = Image.new("RGB", (self.width, self.height), "black")
        self.framebufferUpdateRequest(incremental=False)
        self.factory.clientConnectionMade(self)

    def copyRectangle(self, srcx: int, srcy: int, x: int, y: int, width: int, height: int) -> None:
        assert self.screen is not None
        region = self.screen.crop((srcx, srcy, srcx + width, srcy + height))
        self.screen.paste(region, (x, y))

    def commitUpdate(self, rectangles: list[tuple[int, int, int, int]] | None = None) -> None:
        self.updates += 1
        self.last_update_at = time.monotonic()
        super().commitUpdate(rectangles)
        self.framebufferUpdateRequest(incremental=True)

    def updateDesktopSize(self, width: int, height: int) -> None:
        super().updateDesktopSize(width, height)
        self.width, self.height = width, height

    def connectionLost(self, reason: Any) -> None:
        self.lost = str(getattr(reason, "value", reason))
        super().connectionLost(reason)

    def bell(self) -> None:
        self.bells += 1

    def copy_text(self, text: str) -> None:
        self.cut_texts.append(text)

    # -- called through the threaded proxy ------------------------------------------------------

    def peer_state(self) -> dict[str, Any]:
        return {
            "updates": self.updates,
            "last_update_at": self.last_update_at,
            "lost": self.lost,
            "bells": self.bells,
            "cut_texts": list(self.cut_texts),
            "width": self.width,
            "height": self.height,
            "name": bytes(self.name).decode("utf-8", "replace"),
        }

    def peer_snapshot(self) -> np.ndarray:
        assert self.screen is not None
        rgb = np.asarray(self.screen.convert("RGB"), dtype=np.uint32)
        return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]

    def peer_keys(self, keysyms: list[int]) -> None:
        for k in keysyms:
            self.keyEvent(k, down=True)
            self.keyEvent(k, down=False)

    def peer_key(self, keysym: int, down: bool) -> None:
        self.keyEvent(keysym, down=down)

    def peer_drop(self, on_lost: Any) -> None:
        if self.lost is not None:
            on_lost(self.lost)
            return
        self.factory._disconnect_callbacks.append(on_lost)
        self.transport.loseConnection()


class PresizedFactory(VNCDoToolFactory):  # type: ignore[misc]
    protocol = PresizedClient
    encoding_names: tuple[str, ...] = ("raw",)


def _in_reactor(fn: Any, *args: Any, timeout: float) -> Any:
    """Run ``fn(*args)`` on the reactor thread and return its (deferred) result.

    (vncdotool's threaded proxy cannot return values: it threads each call's result through its
    connection Deferred, so a method returning anything but the protocol breaks the next call.)
    """
    results: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        maybeDeferred(fn, *args).addBoth(results.put)

    reactor.callFromThread(run)
    try:
        result = results.get(timeout=timeout)
    except queue.Empty:
        raise PeerError(
            f"vncdotool call {getattr(fn, '__name__', fn)} timed out after {timeout} s"
        ) from None
    if isinstance(result, Failure):
        result.raiseException()
    return result


class VncDoToolPeer:
    """A vncdotool viewer. ``connect``, then ``type``/``key``/``pointer``/``paste``/``capture``;
    ``close`` (or use as a context manager)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._client: PresizedClient | None = None

    def connect(
        self,
        host: str,
        port: int,
        password: str | None = None,
        *,
        encodings: tuple[str, ...] | list[str] = ("raw",),
        shared: bool = True,
    ) -> None:
        """Connect and wait for the first update. PeerConnectError if refused."""
        unknown = [e for e in encodings if e not in ENCODINGS]
        if unknown:
            raise ValueError(f"vncdotool cannot decode {unknown}")
        factory_class = type(
            "Factory",
            (PresizedFactory,),
            {"encoding_names": tuple(encodings), "shared": shared},
        )
        server = f"[{host}]::{port}" if ":" in host else f"{host}::{port}"
        # api.connect starts the reactor thread (once per process) and the connection attempt.
        factory = api.connect(
            server, password=password, factory_class=factory_class, timeout=self.timeout
        ).factory

        def when_connected() -> Deferred[PresizedClient]:
            done: Deferred[PresizedClient] = Deferred()

            def ok(protocol: PresizedClient) -> PresizedClient:
                done.callback(protocol)
                return protocol

            def failed(reason: Failure) -> None:
                done.errback(reason)

            factory.deferred.addCallbacks(ok, failed)
            return done

        try:
            self._client = _in_reactor(when_connected, timeout=self.timeout)
        except PeerError:
            raise
        except Exception as exc:  # vncdotool's AuthenticationError, ConnectionRefusedError...
            raise PeerConnectError(
                f"vncdotool could not connect to {host}:{port}: {type(exc).__name__}: {exc}"
            ) from exc
        self.wait_for_updates(1)

    def _call(self, method: str, *args: Any) -> Any:
        if self._client is None:
            raise PeerError("not connected")
        return _in_reactor(getattr(self._client, method), *args, timeout=self.timeout)

    def state(self) -> dict[str, Any]:
        """updates, last_update_at, lost (why the connection ended, or None), bells, cut_texts,
        width, height, name."""
        return dict(self._call("peer_state"))

    def wait_for_updates(self, n: int, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            st = self.state()
            if st["updates"] >= n:
                return
            if st["lost"] is not None:
                raise PeerError(f"vncdotool lost the connection: {st['lost']}")
            if time.monotonic() >= deadline:
                raise PeerError(f"vncdotool saw {st['updates']} of {n} updates")
            time.sleep(0.02)

    def capture(self) -> np.ndarray:
        """The screen as an (h, w) uint32 array of 0x00RRGGBB."""
        return np.asarray(self._call("peer_snapshot"))

    def type(self, text: str) -> None:
        self._call("peer_keys", keysyms_for_text(text))

    def key(self, keysym: int, down: bool | None = None) -> None:
        if down is None:
            self._call("peer_keys", [keysym])
        else:
            self._call("peer_key", keysym, down)

    def pointer(self, x: int, y: int, mask: int = 0) -> None:
        self._call("pointerEvent", x, y, mask)

    def paste(self, text: str) -> None:
        """ClientCutText (Latin-1 only, as vncdotool sends it)."""
        self._call("clientCutText", text)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        done = threading.Event()
        _in_reactor(client.peer_drop, lambda _reason: done.set(), timeout=self.timeout)
        done.wait(timeout=2)

    def __enter__(self) -> VncDoToolPeer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
