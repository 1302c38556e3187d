"""noVNC (npm ``@novnc/novnc`` 1.7.0, its real ``core/rfb.js``) as a real peer.

``novnc/client.mjs`` runs noVNC in Node with jsdom and a canvas stand-in, over a plain TCP
socket (no websockify), driven by JSON lines. This class starts it, keeps reading its events on a
thread, and offers a synchronous API::

    with NoVncClient() as peer:
        peer.connect("127.0.0.1", port, password="pw")
        peer.type("ls\\n")
        assert wait_until_equal(peer, server_framebuffer, 5)

noVNC always asks for 32 bpp, depth 24, little-endian, red-shift 0 / green 8 / blue 16 (RGBX in
memory). Unless told otherwise it sends its own encoding list: CopyRect, Tight, TightPNG, ZRLE,
JPEG, Hextile, RRE, Zlib, Raw, QualityLevel 6, CompressLevel 2, then DesktopSize, LastRect,
QEMU Extended Key Event, QEMU LED, ExtendedDesktopSize, XVP, Fence, ContinuousUpdates,
DesktopName, Extended Clipboard, Extended Mouse Buttons, VMware cursor, Cursor. noVNC has no API
to choose encodings; ``encodings=``/``pseudo=`` edit that list before it is sent, and
``quality=None`` / ``compression=None`` leave those pseudo-encodings out (so no JPEG: the
harness cannot decode images and reports a ``fatal`` event if one arrives).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .common import WORK_DIR, PeerConnectError, PeerError

NOVNC_DIR = Path(__file__).resolve().parent / "novnc"
CLIENT = NOVNC_DIR / "client.mjs"

_DEFAULT = object()  # "leave noVNC's own setting"

Event = dict[str, Any]


class NoVncClient:
    """One headless noVNC viewer process. Use as a context manager, or call :meth:`close`."""

    def __init__(self, *, node: str | None = None, log_level: str = "warn") -> None:
        node_exe = node or shutil.which("node")
        if node_exe is None:
            raise PeerError("node is not installed")
        if not (NOVNC_DIR / "node_modules" / "@novnc" / "novnc").is_dir():
            raise PeerError(f"run `npm ci` in {NOVNC_DIR} first")
        self.events: list[Event] = []  # every event received, in order
        self.updates = 0  # completed FramebufferUpdates
        self.last_update_at = 0.0  # time.monotonic() of the last one
        self.width = 0
        self.height = 0
        self._cond = threading.Condition()
        self._next_id = 0
        self._stderr: deque[str] = deque(maxlen=200)
        self._session_start = 0  # index in events of the current connection's first event
        self._proc = subprocess.Popen(
            [node_exe, str(CLIENT)],
            cwd=NOVNC_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**os.environ, "NOVNC_LOG_LEVEL": log_level},
        )
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._readers:
            t.start()
        self.wait_for("ready", timeout=20)

    # -- plumbing --------------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                self._stderr.append(f"(bad stdout line) {line.rstrip()}")
                continue
            with self._cond:
                if ev.get("event") == "update":
                    self.updates = int(ev["n"])
                    self.last_update_at = time.monotonic()
                elif ev.get("event") == "resize":
                    self.width, self.height = int(ev["width"]), int(ev["height"])
                self.events.append(ev)
                self._cond.notify_all()
        with self._cond:
            self.events.append({"event": "exit"})
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line.rstrip())

    def stderr(self) -> str:
        return "\n".join(self._stderr)

    def wait_for(
        self,
        name: str | tuple[str, ...],
        timeout: float = 10.0,
        predicate: Callable[[Event], bool] | None = None,
        start: int = 0,
    ) -> Event:
        """The first event (from index ``start``) named ``name`` matching ``predicate``."""
        names = (name,) if isinstance(name, str) else name
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[start:]:
                    if ev.get("event") in names and (predicate is None or predicate(ev)):
                        return ev
                if any(ev.get("event") == "exit" for ev in self.events[start:]):
                    raise PeerError(
                        f"noVNC process exited while waiting for {names}:\n{self.stderr()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PeerError(
                        f"no {names} event from noVNC within {timeout} s; events: "
                        f"{self.events[-10:]}\n{self.stderr()}"
                    )
                self._cond.wait(left)

    def command(self, cmd: str, timeout: float = 10.0, **args: Any) -> Event:
        """Send one command and return its ``ok`` reply (PeerError on ``error``)."""
        if self._proc.poll() is not None:
            raise PeerError(f"noVNC process has exited:\n{self.stderr()}")
        with self._cond:
            self._next_id += 1
            cid = self._next_id
            start = len(self.events)
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"cmd": cmd, "id": cid, **args}) + "\n")
        self._proc.stdin.flush()
        reply = self.wait_for(("ok", "error"), timeout, lambda ev: ev.get("id") == cid, start)
        if reply["event"] == "error":
            raise PeerError(f"noVNC {cmd} failed: {reply.get('message')}")
        return reply

    def fatal_events(self) -> list[Event]:
        """``fatal`` events (e.g. an image rectangle this harness cannot decode) since the last
        connect."""
        with self._cond:
            return [ev for ev in self.events[self._session_start :] if ev.get("event") == "fatal"]

    # -- the viewer ------------------------------------------------------------------------------

    def connect(
        self,
        host: str,
        port: int,
        password: str | None = None,
        *,
        username: str | None = None,
        shared: bool = True,
        encodings: list[str] | None = None,
        pseudo: list[str] | None = None,
        quality: Any = _DEFAULT,
        compression: Any = _DEFAULT,
        timeout: float = 10.0,
        wait: bool = True,
    ) -> Event:
        """Connect; with ``wait`` block until connected and the first update has arrived.

        ``quality``/``compression``: 0..9, or None to send no such pseudo-encoding; left out,
        noVNC's defaults (6 and 2) apply. Raises :class:`PeerConnectError` on failure (security
        failure, credentials required but not given, connection closed).
        """
        args: dict[str, Any] = {"host": host, "port": port, "shared": shared}
        if password is not None:
            args["password"] = password
        if username is not None:
            args["username"] = username
        if encodings is not None:
            args["encodings"] = encodings
        if pseudo is not None:
            args["pseudo"] = pseudo
        if quality is not _DEFAULT:
            args["quality"] = quality
        if compression is not _DEFAULT:
            args["compression"] = compression
        with self._cond:
            start = self._session_start = len(self.events)
        self.command("connect", **args)
        if not wait:
            return {}
        ev = self.wait_for(
            ("connected", "disconnected", "securityfailure", "credentialsrequired"),
            timeout,
            start=start,
        )
        if ev["event"] != "connected":
            # leave no half-open session behind (noVNC waits for credentials forever)
            try:
                self.command("disconnect")
                self.wait_for("disconnected", 5, start=start)
            except PeerError:
                pass
            with self._cond:
                tail = [e for e in self.events[start:] if e.get("event") not in ("update",)]
            raise PeerConnectError(
                f"noVNC could not connect to {host}:{port}: {ev}; events: {tail}"
            )
        self.wait_for("update", timeout, start=start)
        return ev

    def send_credentials(self, password: str, username: str | None = None) -> None:
        self.command("credentials", password=password, username=username)

    def key(self, keysym: int, down: bool | None = None, code: str | None = None) -> None:
        """Key press (down=True), release (False) or both (None). ``code`` (a DOM code such as
        "KeyA") makes noVNC use a QEMU Extended Key Event when the server announced it."""
        args: dict[str, Any] = {"keysym": keysym}
        if down is not None:
            args["down"] = down
        if code is not None:
            args["code"] = code
        self.command("key", **args)

    def type(self, text: str) -> None:
        """Press and release one key per character (noVNC's Unicode-to-keysym table;
        newline is Return)."""
        self.command("type", text=text)

    def pointer(self, x: int, y: int, mask: int = 0) -> None:
        self.command("pointer", x=x, y=y, mask=mask)

    def paste(self, text: str) -> None:
        """Send ``text`` as the client clipboard (noVNC's clipboardPasteFrom: Extended Clipboard
        when the server offers it, otherwise Latin-1 ClientCutText with '?' for the rest)."""
        self.command("paste", text=text)

    def set_desktop_size(self, width: int, height: int) -> None:
        """Ask the server for a new size with noVNC's own SetDesktopSize message (what its
        resizeSession option sends when the browser window changes)."""
        self.command("setdesktopsize", width=width, height=height)

    def sent_encodings(self) -> list[int]:
        """The encodings noVNC sent in its last SetEncodings (signed)."""
        encs = self.command("encodings").get("encodings") or []
        return [e - (1 << 32) if e >= 1 << 31 else e for e in encs]

    def capture_rgba(self) -> np.ndarray:
        """noVNC's framebuffer as (h, w, 4) uint8 RGBA, after its render queue is flushed."""
        fatal = self.fatal_events()
        if fatal:
            raise PeerError(f"noVNC hit a fatal error: {fatal[0].get('message')}")
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="novnc-fb-", dir=WORK_DIR)
        os.close(fd)
        try:
            reply = self.command("capture", path=name)
            w, h = int(reply["width"]), int(reply["height"])
            data = Path(name).read_bytes()
        finally:
            Path(name).unlink(missing_ok=True)
        if len(data) != w * h * 4:
            raise PeerError(f"capture has {len(data)} bytes for {w}x{h}")
        return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 4)

    def capture(self) -> np.ndarray:
        """The screen as an (h, w) uint32 array of 0x00RRGGBB."""
        rgba = self.capture_rgba().astype(np.uint32)
        return (rgba[..., 0] << 16) | (rgba[..., 1] << 8) | rgba[..., 2]

    def wait_for_updates(self, n: int, timeout: float = 10.0) -> None:
        """Block until at least ``n`` FramebufferUpdates have been completed in total."""
        self.wait_for("update", timeout, lambda ev: int(ev["n"]) >= n)

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Block until no update has arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                idle = time.monotonic() - self.last_update_at
            if idle >= quiet:
                return
            if time.monotonic() + (quiet - idle) > deadline:
                raise PeerError(f"noVNC screen never quiet for {quiet} s within {timeout} s")
            time.sleep(quiet - idle)

    def events_named(self, name: str) -> list[Event]:
        with self._cond:
            return [ev for ev in self.events if ev.get("event") == name]

    def disconnect(self, timeout: float = 5.0) -> None:
        with self._cond:
            start = len(self.events)
        self.command("disconnect")
        self.wait_for("disconnected", timeout, start=start)

    def close(self) -> None:
        """Stop the node process (always safe to call)."""
        proc = self._proc
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for t in self._readers:
            t.join(timeout=2)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> NoVncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
