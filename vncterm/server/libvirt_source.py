"""Consoles found through libvirt (``vncterm --libvirt URI``): every running domain becomes a
console named after it, its first serial rendered, its other serials, consoles and channels
offered as named streams; domains that start or stop and devices attached or detached follow
at once (libvirt's lifecycle and device events), and a lost libvirtd is reconnected.

How each device is reached:

- a **pty** serial or console through ``virDomainOpenConsole`` (a local or remote URI); libvirt
  gives it to one holder at a time: see :mod:`vncterm.console.libvirt_stream`;
- a **unix** serial or channel at its socket path, as any QEMU chardev socket (local URIs only);
- over a remote URI (``qemu+ssh://``) a channel through ``virDomainOpenChannel``; a unix serial
  is then out of reach and skipped (logged).

A guest that stops (destroyed, shut down, crashed) keeps its console for ``GRACE`` seconds: its
status row says what happened (its viewers see it), its streams are removed, and ``--list``
shows it as ``guest destroyed``. If it starts again meanwhile it is served again under the same
name and port (its viewers then reconnect); else the console goes.

libvirt's calls block (up to seconds: a domain being destroyed holds its lock): they run on
worker threads and libvirt's callbacks on its own thread (:mod:`vncterm.console.libvirt_thread`);
the event loop only gets their results.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import json
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

from ..config import Config
from ..console.base import Console
from ..console.libvirt_stream import LibvirtStreamConsole
from ..console.libvirt_thread import call, call_soon, libvirt_module
from ..console.socket import SocketConsole
from ..errors import ConfigError
from .host import Host
from .libvirt_xml import CharDevice, DomainXMLError, console_name, parse_devices

log = logging.getLogger(__name__)

#: Seconds a stopped guest's console stays (with its status) before it is removed.
GRACE: Final = 60.0
#: Waits between reconnection attempts to a lost libvirtd: doubling from the first to the last.
RECONNECT_FIRST: Final = 0.5
RECONNECT_LAST: Final = 10.0
#: Keepalive: a probe every KEEPALIVE_INTERVAL s, the daemon lost after KEEPALIVE_COUNT unanswered.
KEEPALIVE_INTERVAL: Final = 5
KEEPALIVE_COUNT: Final = 3
#: Most pending events (a storm of them beyond this is resolved by one full re-sync).
MAX_EVENTS: Final = 1024

_STOPPED = {
    0: "shut down",
    1: "destroyed",
    2: "crashed",
    3: "migrated",
    4: "saved",
    5: "failed",
    6: "restored from a snapshot",
}


def load_libvirt() -> ModuleType:
    """libvirt-python (its event loop running), or a ConfigError saying how to install it."""
    try:
        return libvirt_module()
    except ImportError:
        raise ConfigError(
            "--libvirt needs libvirt-python: pip install 'vncterm[libvirt]' "
            "(it builds against libvirt's headers: Debian's libvirt-dev, pkg-config, gcc)"
        ) from None


@dataclass
class Guest:
    """A domain served as a console."""

    name: str  # the console's name
    uuid: str
    console: Console
    streams: dict[str, CharDevice] = field(default_factory=dict)
    gone: str | None = None  # why the guest stopped, while its console waits out GRACE
    removal: asyncio.TimerHandle | None = None


class LibvirtSource:
    """Keeps ``host``'s consoles in step with the running domains of ``uri``; each console
    is configured as ``template`` (its ports from the host's range)."""

    def __init__(
        self, host: Host, uri: str, template: Config, *, force_console: bool = False
    ) -> None:
        self.host = host
        self.uri = uri
        self.template = dataclasses.replace(template, listen=[], streams=[], console=None)
        self.force_console = force_console
        self.remote = _is_remote(uri)
        self.grace = GRACE
        self.guests: dict[str, Guest] = {}
        self.conn: Any = None
        self._libvirt = load_libvirt()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: asyncio.Queue[tuple[str, Any, str]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._warned: set[str] = set()
        self._closed = False
        self._sync_queued = False
        #: Called with (console name, event) after each change (tests, benchmarks).
        self.on_change: Callable[[str, str], None] | None = None

    # -- connecting ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and serve every running domain; a libvirtd that cannot be reached now is
        retried in the background."""
        self._loop = asyncio.get_running_loop()
        self._worker = asyncio.create_task(self._work(), name="libvirt events")
        try:
            self.conn = await call(self._connect)
            log.info("libvirt %s: connected", self.uri)
        except self._libvirt.libvirtError as e:
            log.error("libvirt %s: %s: retrying", self.uri, e.get_error_message() or e)
            self._reconnecting = asyncio.create_task(self._reconnect())
            return
        self._events.put_nowait(("sync", None, ""))
        await self._events.join()

    def _connect(self) -> Any:
        """On a worker thread: a new connection with keepalive and our callbacks."""
        lv = self._libvirt
        conn = lv.open(self.uri)
        try:
            conn.setKeepAlive(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)
        except lv.libvirtError as e:  # a driver without keepalive (test:///)
            log.debug("libvirt keepalive: %s", e.get_error_message())
        conn.registerCloseCallback(self._on_close, None)
        ids = lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lv.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED
        conn.domainEventRegisterAny(None, ids[0], self._on_lifecycle, None)
        conn.domainEventRegisterAny(None, ids[1], self._on_device, None)
        conn.domainEventRegisterAny(
            None, lv.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, self._on_device, None
        )
        try:  # the guest opening and closing virtio ports: QEMU's own event, passed through
            libvirt_qemu = importlib.import_module("libvirt_qemu")
            libvirt_qemu.qemuMonitorEventRegister(
                conn, None, "VSERPORT_CHANGE", self._on_port, None, 0
            )
        except (ImportError, lv.libvirtError) as e:  # not a QEMU driver, or a remote refusing
            log.info("libvirt %s: no virtio port states: %s", self.uri, e)
        return conn

    # libvirt's callbacks run on its thread: each hands its work to the event loop

    def _soon(self, fn: Callable[..., object], *args: Any) -> None:
        if self._loop is not None and not self._closed:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(fn, *args)

    def _on_close(self, conn: Any, reason: int, _opaque: object) -> None:
        self._soon(self._closed_connection, conn, reason)

    def _closed_connection(self, conn: Any, reason: int) -> None:
        why = {0: "error", 1: "end of file", 2: "keepalive timeout", 3: "client"}.get(reason, "?")
        if self._closed or conn is not self.conn:
            return
        log.warning("libvirt %s: connection lost (%s): reconnecting", self.uri, why)
        self.conn = None
        for backend in self._stream_backends():
            backend.connection_lost(f"libvirtd connection lost ({why})")
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = RECONNECT_FIRST
        while not self._closed:
            await asyncio.sleep(delay)
            try:
                self.conn = await call(self._connect)
                log.info("libvirt %s: connected again", self.uri)
            except self._libvirt.libvirtError as e:
                log.info("libvirt %s: %s: again in %g s", self.uri, e.get_error_message(), delay)
                delay = min(delay * 2, RECONNECT_LAST)
                continue
            self._events.put_nowait(("sync", None, ""))
            return

    def close(self) -> None:
        self._closed = True
        for task in (self._worker, self._reconnecting):
            if task is not None:
                task.cancel()
        for guest in self.guests.values():
            if guest.removal is not None:
                guest.removal.cancel()
        conn, self.conn = self.conn, None
        if conn is not None:
            call_soon(_close_connection, conn)

    # -- events (libvirt calls these on the event loop; the worker applies them in order) --------

    def _queue(self, what: str, dom: Any, detail: str = "") -> None:
        if self._events.qsize() >= MAX_EVENTS:  # a storm: one full re-sync resolves it all
            if not self._sync_queued:
                self._sync_queued = True
                self._events.put_nowait(("sync", None, ""))
                self._warn_once("storm", "libvirt: over %d events waiting: re-syncing", MAX_EVENTS)
            return
        self._events.put_nowait((what, dom, detail))

    def _on_lifecycle(self, conn: Any, dom: Any, event: int, detail: int, opaque: object) -> None:
        self._soon(self._lifecycle, dom, event, detail)

    def _lifecycle(self, dom: Any, event: int, detail: int) -> None:
        lv = self._libvirt
        if event == lv.VIR_DOMAIN_EVENT_STARTED:
            self._queue("up", dom)
        elif event == lv.VIR_DOMAIN_EVENT_STOPPED:
            self._queue("down", dom, _STOPPED.get(detail, "stopped"))
        elif event == lv.VIR_DOMAIN_EVENT_UNDEFINED:
            self._queue("undefined", dom)

    def _on_device(self, _conn: Any, dom: Any, alias: str, _opaque: object) -> None:
        self._soon(self._queue, "devices", dom, alias)

    def _on_port(
        self, _c: Any, dom: Any, _event: str, _s: int, _us: int, details: str, _o: object
    ) -> None:
        self._soon(self._port_changed, dom, details)

    async def _work(self) -> None:
        while True:
            what, dom, detail = await self._events.get()
            try:
                await self._apply(what, dom, detail)
            except self._libvirt.libvirtError as e:  # the domain vanished meanwhile...
                log.info("libvirt: %s %s: %s", what, detail, e.get_error_message())
            except Exception:  # one event's fault never stops the others
                log.exception("libvirt: handling %s failed", what)
            finally:
                self._events.task_done()

    async def _apply(self, what: str, dom: Any, detail: str) -> None:
        if what == "sync":
            self._sync_queued = False
            await self._sync()
        elif what in ("up", "devices"):
            await self._domain_up(dom)
        elif what == "down":
            await self._domain_down(console_name(dom.name()), detail)
        elif what == "undefined":
            guest = self.guests.get(console_name(dom.name()))
            if guest is not None and guest.gone is not None:
                await self._remove(guest.name)

    # -- keeping the consoles in step ------------------------------------------------------------

    async def _sync(self) -> None:
        """Every running domain served; consoles of domains no longer running stopped."""
        if self.conn is None:
            return
        flag = self._libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE
        running = await call(self.conn.listAllDomains, flag)
        names = set()
        for dom in running:
            names.add(console_name(dom.name()))
            await self._domain_up(dom)
        for name, guest in list(self.guests.items()):
            if name not in names and guest.gone is None:
                await self._domain_down(name, "stopped")

    async def _domain_up(self, dom: Any) -> None:
        """Serve a running domain, or bring its streams up to date."""
        name = console_name(dom.name())
        uuid = dom.UUIDString()
        try:
            devices = parse_devices(await call(dom.XMLDesc, 0))
        except DomainXMLError as e:
            self._warn_once(f"xml {uuid} {e}", "domain %s skipped: %s", name, e)
            return
        guest = self.guests.get(name)
        if guest is not None and guest.uuid != uuid and guest.gone is None:
            # two running domains whose names map to one console name: the first keeps it
            self._warn_once(f"clash {uuid}", "domain %s: console name taken", dom.name())
            return
        if guest is not None and guest.gone is not None:
            await self._remove(name)  # started again (or another domain of that name)
            guest = None
        if guest is None:
            if devices.console is None:
                self._warn_once(f"noserial {uuid}", "domain %s: no serial or console", name)
                return
            backend = self._backend(dom, devices.console, rendered=True)
            if backend is None:
                return
            if name in self.host.services:
                self._warn_once(f"taken {name}", "domain %s: console name taken", name)
                return
            service = await self.host.add_console(name, self.template, console=backend)
            service.session.set_name(dom.name())
            guest = Guest(name, uuid, backend)
            self.guests[name] = guest
            self._changed(name, "added")
        await self._update_streams(guest, devices.streams, dom)

    async def _update_streams(self, guest: Guest, wanted: dict[str, CharDevice], dom: Any) -> None:
        service = self.host.services.get(guest.name)
        if service is None:
            return
        session = service.session
        for stream_name in [n for n in guest.streams if n not in wanted]:
            del guest.streams[stream_name]
            session.remove_stream(stream_name)
            self._changed(guest.name, f"stream removed {stream_name}")
        for stream_name, dev in wanted.items():
            known = guest.streams.get(stream_name)
            if known is not None and _same_device(known, dev):
                guest.streams[stream_name] = dev
                self._set_open(session, stream_name, dev)  # its state may have changed
                continue
            if stream_name in guest.streams or stream_name in session.streams.streams:
                session.remove_stream(stream_name)  # another device under that name now
            if self._backend(dom, dev, rendered=False) is None:  # cannot be reached: logged
                continue
            guest.streams[stream_name] = dev
            # connected only while captured: the guest sees the host side open and close
            session.offer_stream(stream_name, self._connector(dom, dev), _guest_open(dev))
            self._changed(guest.name, f"stream added {stream_name}")

    @staticmethod
    def _set_open(session: Any, stream_name: str, dev: CharDevice) -> None:
        """A virtio port's state as libvirt reports it (``target/@state``), when it does."""
        state = _guest_open(dev)
        if state is not None:
            session.streams.set_open(stream_name, state)

    def _connector(self, dom: Any, dev: CharDevice) -> Callable[[], Console]:
        def connect() -> Console:
            backend = self._backend(dom, dev, rendered=False)
            assert backend is not None  # checked when offered
            return backend

        return connect

    def _port_changed(self, dom: Any, details: str | None) -> None:
        """QEMU's VSERPORT_CHANGE ``{id, open}``: the guest opened or closed a virtio port
        (``id`` is the device's libvirt alias)."""
        try:
            event = json.loads(details or "{}")
            alias, is_open = str(event["id"]), bool(event["open"])
        except (ValueError, KeyError, TypeError) as e:
            self._warn_once("vserport", "VSERPORT_CHANGE not understood: %s", e)
            return
        guest = self.guests.get(console_name(dom.name()))
        service = self.host.services.get(guest.name) if guest is not None else None
        if guest is None or service is None:
            return
        for stream_name, dev in guest.streams.items():
            if dev.alias == alias:
                service.session.streams.set_open(stream_name, is_open)
                self._changed(guest.name, f"stream {'open' if is_open else 'closed'} {stream_name}")

    async def _domain_down(self, name: str, reason: str) -> None:
        """A guest stopped: its console says so and stays for ``grace`` seconds."""
        guest = self.guests.get(name)
        if guest is None or guest.gone is not None:
            return
        guest.gone = reason
        log.info("domain %s %s: its console goes in %g s", name, reason, self.grace)
        if isinstance(guest.console, LibvirtStreamConsole):
            guest.console.domain_gone(f"guest {reason}")
        else:
            guest.console.close()
        service = self.host.services.get(name)
        if service is not None:
            for stream_name in list(guest.streams):
                service.session.remove_stream(stream_name)
            service.state = f"guest {reason}"
            service.session.notice(
                "libvirt",
                f"the guest was {reason}: this console closes in {self.grace:g} s "
                "unless it starts again",
                None,
            )
        guest.streams.clear()
        loop = asyncio.get_running_loop()
        guest.removal = loop.call_later(self.grace, lambda: self._queue("undefined", _Named(name)))
        self._changed(name, "down")

    async def _remove(self, name: str) -> None:
        guest = self.guests.pop(name, None)
        if guest is None:
            return
        if guest.removal is not None:
            guest.removal.cancel()
        await self.host.remove_console(name, f"the guest was {guest.gone or 'replaced'}")
        self._changed(name, "removed")

    # -- backends --------------------------------------------------------------------------------

    def _backend(self, dom: Any, dev: CharDevice, rendered: bool) -> Console | None:
        """How vncterm reaches ``dev`` (None, logged once, when it cannot)."""
        uuid = dom.UUIDString()
        label = f"{dom.name()}/{dev.alias or dev.stream_name}"
        lookup = self._lookup(uuid)
        if dev.type == "pty" and dev.kind in ("serial", "console"):
            breaker = self._breaker(lookup, dev.alias) if rendered else None
            return LibvirtStreamConsole(
                lookup, dev.alias, label, force=self.force_console, breaker=breaker
            )
        if dev.type == "unix" and dev.path and not self.remote:
            console = SocketConsole(dev.path)
            if rendered:  # BREAK through QMP (keys typed meanwhile follow it)
                breaker = self._breaker(lookup, dev.alias)
                console.break_hook = lambda: asyncio.ensure_future(call(breaker))
            return console
        if dev.kind == "channel" and dev.alias and dev.type in ("unix", "pty"):
            return LibvirtStreamConsole(lookup, dev.alias, label, channel=True)
        why = "remote URI: only pty devices and channels" if self.remote else "not pty or unix"
        self._warn_once(f"dev {uuid} {dev.alias}", "%s (%s) skipped: %s", label, dev.type, why)
        return None

    def _lookup(self, uuid: str) -> Callable[[], Any]:
        def lookup() -> Any:
            if self.conn is None:
                raise self._libvirt.libvirtError("not connected to libvirtd")
            return self.conn.lookupByUUIDString(uuid)

        return lookup

    def _breaker(self, lookup: Callable[[], Any], alias: str | None) -> Callable[[], None]:
        """A serial BREAK through QEMU's ``chardev-send-break`` (libvirt's QMP passthrough;
        libvirt names a device's chardev ``char`` + alias)."""
        chardev = f"char{alias or 'serial0'}"

        command = json.dumps({"execute": "chardev-send-break", "arguments": {"id": chardev}})

        def send_break() -> None:  # on a worker thread
            try:
                libvirt_qemu = importlib.import_module("libvirt_qemu")
                libvirt_qemu.qemuMonitorCommand(lookup(), command, 0)
            except (ImportError, self._libvirt.libvirtError) as e:
                self._soon(self._warn_once, f"break {chardev}", "BREAK via QMP failed: %s", e)

        return send_break

    # -- helpers ---------------------------------------------------------------------------------

    def _stream_backends(self) -> list[LibvirtStreamConsole]:
        """Every device of ours read through a libvirt stream."""
        found = []
        for guest in self.guests.values():
            service = self.host.services.get(guest.name)
            if service is None:
                continue
            for stream in service.session.streams.streams.values():
                if isinstance(stream.backend, LibvirtStreamConsole):
                    found.append(stream.backend)
        return found

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned and len(self._warned) < 4096:
            self._warned.add(key)
            log.warning(message, *args)

    def _changed(self, name: str, event: str) -> None:
        if self.on_change is not None:
            self.on_change(name, event)


@dataclass(frozen=True)
class _Named:
    """A domain known only by its console name (the grace period's end)."""

    console: str

    def name(self) -> str:
        return self.console


def _guest_open(dev: CharDevice) -> bool | None:
    """Whether the guest has a virtio port open, as libvirt says (None: it does not)."""
    return {"connected": True, "disconnected": False}.get(dev.state or "")


def _same_device(a: CharDevice, b: CharDevice) -> bool:
    """The same device, its state aside."""
    return dataclasses.replace(a, state=None) == dataclasses.replace(b, state=None)


def _close_connection(conn: Any) -> None:
    conn.unregisterCloseCallback()
    conn.close()


def _is_remote(uri: str) -> bool:
    """Whether ``uri`` names another host (``qemu+ssh://host/system``)."""
    host = urllib.parse.urlsplit(uri).hostname
    return host not in (None, "", "localhost", "127.0.0.1", "::1")
