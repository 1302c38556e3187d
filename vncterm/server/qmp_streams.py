"""A console's QMP link (``--qmp PATH``): the guest's character devices as streams.

It lists the chardevs (``query-chardev``) and maps each to its device through the QOM tree
(``qom-list`` of the device containers, ``qom-get`` of a frontend's ``chardev`` and, for a virtio
port, ``name``); see ``qmp/chardevs.py``. The first serial chardev is the rendered console (when
no ``--unix``/``--tcp`` names one); every other socket chardev is offered as a stream connected on
demand (only while captured). QEMU 7.2 has no event for ``device_add`` or ``chardev-add``, so the
list is read again every ``poll`` seconds and at once on ``DEVICE_DELETED``; ``VSERPORT_CHANGE``
carries a virtio port's open/closed state as it happens. A BREAK on the rendered console goes
through ``chardev-send-break``.

Faults stay here: a QMP socket that closes or answers garbage is retried with backoff (by the
client), a chardev vncterm cannot use is skipped, each logged once with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ..config import ConsoleSpec
from ..console.base import Console
from ..console.qmp_client import QmpClient, QmpError
from ..console.qmp_serial import QmpSerialConsole
from ..console.socket import SocketConsole
from ..qmp import chardevs as cd
from .session import Session

log = logging.getLogger(__name__)

#: Seconds between two readings of the chardev list (hot-plug has no event in QEMU 7.2).
POLL = 1.0
#: Seconds the keys typed after a BREAK wait for QEMU to confirm it.
BREAK_WAIT = 2.0


class QmpLink:
    """Follows one guest's chardevs through QMP for one console's session."""

    def __init__(
        self,
        path: str,
        session: Session,
        console: Callable[[], Console],
        spec: ConsoleSpec | None,
        *,
        poll: float = POLL,
    ) -> None:
        self.path = path
        self.session = session
        self.console = console  # the rendered console now (a restart makes a new one)
        self.spec = spec
        self.poll = poll
        self.client = QmpClient(
            path, on_event=self._event, on_ready=self._ready, on_lost=self._lost
        )
        #: The chardev label of the rendered console, once known.
        self.rendered: str | None = None
        #: Streams offered now, by name.
        self.offered: dict[str, cd.Offer] = {}
        self._frontends: dict[tuple[str, str], tuple[str, cd.Frontend] | None] = {}
        self._device_ids: dict[str, str] = {}  # device id -> chardev label (VSERPORT_CHANGE)
        self._logged: set[str] = set()  # troubles logged (each once)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._scanning = asyncio.Lock()

    def start(self) -> None:
        self.client.start()
        self._task = asyncio.ensure_future(self._poller())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.client.close()

    def _once(self, text: str) -> None:
        if text not in self._logged:
            self._logged.add(text)
            log.warning("QMP %s: %s", self.path, text)

    # -- BREAK -----------------------------------------------------------------------------------

    def send_break(self) -> asyncio.Future[Any] | None:
        """A serial BREAK on the rendered console's chardev (``chardev-send-break``): a future
        done once QEMU answered (the console holds the keys typed until then), or None."""
        if self.rendered is None or not self.client.ready:
            return None
        done = asyncio.ensure_future(
            self.client.execute("chardev-send-break", {"id": self.rendered}, timeout=BREAK_WAIT)
        )
        done.add_done_callback(self._break_sent)
        return done

    def _break_sent(self, done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.warning("QMP %s: BREAK not sent: %s", self.path, done.exception())

    # -- QMP events ------------------------------------------------------------------------------

    def _ready(self) -> None:
        self._frontends.clear()
        self._wake.set()

    def _lost(self, reason: str) -> None:
        """QEMU went away: its devices are unknown until it answers again."""
        for name in list(self.offered):
            self.session.remove_stream(name)
        self.offered.clear()

    def _event(self, name: str, data: dict[str, Any]) -> None:
        if name == "VSERPORT_CHANGE":
            label = self._device_ids.get(str(data.get("id")))
            opened = data.get("open")
            for stream, offer in self.offered.items():
                if offer.label == label and isinstance(opened, bool):
                    self.session.streams.set_open(stream, opened)
        elif name == "DEVICE_DELETED":
            path = data.get("path")
            for key in [k for k in self._frontends if k[0] == path]:
                del self._frontends[key]
            self._wake.set()

    # -- reading the chardevs --------------------------------------------------------------------

    async def _poller(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()
            if not self.client.ready:
                continue
            try:
                await self.scan()
            except (ConnectionError, TimeoutError) as e:
                log.debug("QMP %s: scan interrupted: %s", self.path, e)
            except QmpError as e:
                self._once(f"cannot list the chardevs: {e}")
            except Exception as e:  # an answer no check foresaw: the console goes on
                self._once(f"reading the chardevs failed: {e!r}")

    async def scan(self) -> None:
        """Read the chardevs and their devices; offer, remove and update streams."""
        async with self._scanning:
            answer = await self.client.execute("query-chardev")
            chardevs, problems = cd.parse_chardevs(answer)
            for problem in problems:
                self._once(problem)
            frontends = await self._read_frontends()
            self._choose_rendered(chardevs, frontends)
            exclude = {self.rendered} if self.rendered is not None else set()
            offers, skipped = cd.plan(chardevs, frontends, exclude, {self.path})
            for label, why in skipped.items():
                self._once(f"chardev {label} skipped: {why}")
            self._apply(offers)

    async def _read_frontends(self) -> dict[str, cd.Frontend]:
        """chardev label -> the device using it, from the QOM containers."""
        found: dict[str, cd.Frontend] = {}
        seen: set[tuple[str, str]] = set()
        device_ids: dict[str, str] = {}
        for container in cd.QOM_CONTAINERS:
            try:
                children = cd.frontend_children(
                    await self.client.execute("qom-list", {"path": container}), container
                )
            except QmpError:
                continue
            for key in children:
                seen.add(key)
                if key not in self._frontends:
                    self._frontends[key] = await self._frontend(*key)
                entry = self._frontends[key]
                if entry is None:
                    continue
                label, frontend = entry
                found[label] = frontend
                if container == "/machine/peripheral":
                    device_ids[key[0].rsplit("/", 1)[1]] = label
        for key in [k for k in self._frontends if k not in seen]:
            del self._frontends[key]
        self._device_ids = device_ids
        return found

    async def _frontend(self, path: str, qom_type: str) -> tuple[str, cd.Frontend] | None:
        try:
            label = await self.client.execute("qom-get", {"path": path, "property": "chardev"})
            port = None
            if qom_type in cd.VIRTIO_PORT_TYPES:
                port = await self.client.execute("qom-get", {"path": path, "property": "name"})
        except QmpError:  # gone meanwhile, or no such property
            return None
        if not isinstance(label, str) or not label:
            return None
        return label, cd.Frontend(qom_type, port if isinstance(port, str) and port else None)

    def _choose_rendered(
        self, chardevs: list[cd.Chardev], frontends: dict[str, cd.Frontend]
    ) -> None:
        """Which chardev the rendered console is: the one --unix/--tcp names, else the first
        serial; a QmpSerialConsole is told its socket."""
        console = self.console()
        if self.spec is not None:
            want: str | tuple[str, int] | None = (
                self.spec.target if self.spec.kind == "unix" else (self.spec.host, self.spec.port)
            )
            self.rendered = next(
                (c.label for c in chardevs if c.socket is not None and c.socket[1] == want), None
            )
        else:
            first = cd.first_serial(chardevs, frontends)
            if first is None:
                self._once("no serial chardev: nothing to render")
                self.rendered = None
                return
            self.rendered = first.label
            sock = first.socket
            why = first.unusable()
            if sock is None or why is not None:
                self._once(f"the first serial chardev {first.label} cannot be rendered: {why}")
                return
            if isinstance(console, QmpSerialConsole) and (
                not console.known or console.address != sock[1]
            ):
                log.info("QMP %s: rendering chardev %s (%s)", self.path, first.label, sock[1])
                console.set_target(sock[1], sock[2])
        if isinstance(console, SocketConsole) and console.break_hook is None:
            console.break_hook = self.send_break

    def _apply(self, offers: dict[str, cd.Offer]) -> None:
        for name, old in list(self.offered.items()):
            new = offers.get(name)
            if new is None or (new.address, new.telnet, new.label) != (
                old.address,
                old.telnet,
                old.label,
            ):
                log.info("QMP %s: stream %s gone (chardev %s)", self.path, name, old.label)
                del self.offered[name]
                self.session.remove_stream(name)
        for name, offer in offers.items():
            if name not in self.offered:
                if name in self.session.streams.streams:
                    self._once(f"chardev {offer.label} skipped: stream name {name!r} is taken")
                    continue
                log.info("QMP %s: stream %s (chardev %s)", self.path, name, offer.label)
                self.offered[name] = offer
                self.session.offer_stream(name, self._connector(offer), offer.guest_open)
            elif offer.guest_open is not None:
                self.offered[name] = offer
                self.session.streams.set_open(name, offer.guest_open)

    @staticmethod
    def _connector(offer: cd.Offer) -> Callable[[], Console]:
        def connect() -> Console:
            return SocketConsole(offer.address, telnet=offer.telnet)

        return connect
