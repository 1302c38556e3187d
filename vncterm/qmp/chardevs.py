"""A guest's character devices as QMP describes them, and the streams vncterm offers for them.

``query-chardev`` gives each chardev's ``label``, ``filename`` and ``frontend-open``; the
filename of a socket chardev is ``[disconnected:]unix:PATH[,server=on]`` or
``[disconnected:]tcp|telnet:HOST:PORT[,server=on][ <-> PEER]`` (QEMU 7.2 ``char-socket.c``).
The QOM tree says which device uses a chardev (its ``chardev`` property) and, for a virtio port,
its name (``org.qemu.guest_agent.0``). Everything here is pure: the QMP calls are made by the
server's discovery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: QOM types whose ``name`` property is a virtio port's name.
VIRTIO_PORT_TYPES = frozenset({"virtserialport", "virtconsole"})
#: QOM types of serial ports (the first one is the rendered console).
SERIAL_TYPES = frozenset({"isa-serial", "pci-serial", "usb-serial", "sclpconsole", "spapr-vty"})
#: Chardev frontends vncterm looks up in the QOM tree.
FRONTEND_TYPES = VIRTIO_PORT_TYPES | SERIAL_TYPES
#: The QOM containers devices live in (``-device`` with and without an id, built-in ones).
QOM_CONTAINERS = ("/machine/peripheral", "/machine/peripheral-anon", "/machine/unattached")
#: The most chardevs and QOM children looked at (a hostile QMP server answers huge lists).
MAX_CHARDEVS = 256
MAX_CHILDREN = 4096
#: The longest stream name offered (the stream extension's cap).
MAX_NAME = 256


@dataclass(frozen=True)
class Chardev:
    """One entry of ``query-chardev``."""

    label: str
    filename: str
    frontend_open: bool

    @property
    def socket(self) -> tuple[str, str | tuple[str, int], bool, bool] | None:
        """(kind, address, telnet, server) of a socket chardev: kind "unix" with a path or
        "tcp" with (host, port); None when it is not a socket."""
        rest = self.filename.removeprefix("disconnected:")
        rest = rest.split(" <-> ", 1)[0]
        server = False
        if rest.endswith(",server=on"):
            rest, server = rest[: -len(",server=on")], True
        if rest.startswith("unix:"):
            path = rest[len("unix:") :]
            return ("unix", path, False, server) if path else None
        m = re.fullmatch(r"(tcp|telnet):(\[[^\]]*\]|[^:]*):(\d{1,5})", rest)
        if m is None:
            return None
        host = m.group(2).strip("[]")
        return "tcp", (host, int(m.group(3))), m.group(1) == "telnet", server

    def unusable(self) -> str | None:
        """Why vncterm cannot connect to this chardev (None: it can)."""
        sock = self.socket
        if sock is None:
            kind = self.filename.removeprefix("disconnected:").split(":", 1)[0] or "unknown"
            return f"a {kind} chardev, not a socket vncterm can connect to"
        if not sock[3]:
            return "QEMU is the client of this socket (server=off): nothing to connect to"
        return None


def parse_chardevs(answer: Any) -> tuple[list[Chardev], list[str]]:
    """``query-chardev``'s answer: the chardevs, and what was wrong with entries skipped."""
    found: list[Chardev] = []
    problems: list[str] = []
    if not isinstance(answer, list):
        return found, ["query-chardev did not answer a list"]
    if len(answer) > MAX_CHARDEVS:
        problems.append(f"{len(answer)} chardevs: only the first {MAX_CHARDEVS} are looked at")
    for entry in answer[:MAX_CHARDEVS]:
        if not isinstance(entry, dict):
            problems.append(f"a chardev entry that is not an object: {str(entry)[:60]}")
            continue
        label, filename = entry.get("label"), entry.get("filename")
        if not isinstance(label, str) or not isinstance(filename, str) or not label:
            problems.append(f"a chardev entry without label or filename: {str(entry)[:60]}")
            continue
        found.append(Chardev(label, filename, bool(entry.get("frontend-open", False))))
    return found, problems


def frontend_children(answer: Any, container: str) -> list[tuple[str, str]]:
    """(QOM path, type) of the chardev frontends among ``qom-list container``'s answer."""
    out: list[tuple[str, str]] = []
    if not isinstance(answer, list):
        return out
    for prop in answer[:MAX_CHILDREN]:
        if not isinstance(prop, dict):
            continue
        name, kind = prop.get("name"), prop.get("type")
        if not isinstance(name, str) or not isinstance(kind, str):
            continue
        m = re.fullmatch(r"child<(.+)>", kind)
        if m is not None and m.group(1) in FRONTEND_TYPES:
            out.append((f"{container}/{name}", m.group(1)))
    return out


@dataclass(frozen=True)
class Frontend:
    """The device using a chardev: its QOM type and, for a virtio port, its name."""

    qom_type: str
    port_name: str | None = None

    @property
    def serial(self) -> bool:
        return self.qom_type in SERIAL_TYPES


@dataclass(frozen=True)
class Offer:
    """A chardev offered as a stream: where to connect, and whether the guest has it open."""

    label: str
    address: str | tuple[str, int]
    telnet: bool
    guest_open: bool | None


def _serial_order(label: str) -> tuple[int, str]:
    m = re.fullmatch(r"serial(\d+)", label)
    return (int(m.group(1)) if m else 1 << 30, label)


def first_serial(chardevs: list[Chardev], frontends: dict[str, Frontend]) -> Chardev | None:
    """The guest's first serial port (``serial0`` for ``-serial``), the rendered console."""
    serials = [
        c
        for c in chardevs
        if (c.label in frontends and frontends[c.label].serial)
        or (c.label not in frontends and re.fullmatch(r"serial\d+", c.label))
    ]
    return min(serials, key=lambda c: _serial_order(c.label), default=None)


def stream_name(chardev: Chardev, frontend: Frontend | None) -> str:
    """A virtio port keeps its own (dotted) name; any other chardev is named by its id."""
    if frontend is not None and frontend.port_name:
        return frontend.port_name
    return chardev.label


def plan(
    chardevs: list[Chardev],
    frontends: dict[str, Frontend],
    exclude: set[str],
    own_paths: set[str],
) -> tuple[dict[str, Offer], dict[str, str]]:
    """The streams to offer (by name) and the chardevs skipped (label -> reason).
    ``exclude``: labels not offered (the rendered console); ``own_paths``: sockets vncterm
    itself uses (the QMP socket), never offered. A chardev no device uses and no frontend has
    open (added and not yet given to a device, or left by a device deleted) is not offered
    either: nothing in the guest is behind it. A monitor's chardev has no device but is open."""
    offers: dict[str, Offer] = {}
    skipped: dict[str, str] = {}
    for chardev in chardevs:
        if chardev.label in exclude:
            continue
        sock = chardev.socket
        if sock is not None and sock[0] == "unix" and sock[1] in own_paths:
            continue
        why = chardev.unusable()
        if why is not None:
            skipped[chardev.label] = why
            continue
        assert sock is not None
        frontend = frontends.get(chardev.label)
        if frontend is None and not chardev.frontend_open:
            continue
        name = stream_name(chardev, frontend)
        if len(name.encode()) > MAX_NAME:
            skipped[chardev.label] = f"its name is longer than {MAX_NAME} bytes"
            continue
        if name in offers:
            skipped[chardev.label] = f"stream name {name!r} already taken"
            continue
        guest_open = chardev.frontend_open if frontend is not None else None
        offers[name] = Offer(chardev.label, sock[1], sock[2], guest_open)
    return offers, skipped
