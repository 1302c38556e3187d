"""A libvirt domain's character devices, read from its XML (``virDomainGetXMLDesc``).

``<devices>`` holds ``<serial>``, ``<console>`` and ``<channel>`` elements, each with a ``type``
(``pty``, ``unix``...), ``<source path=.../>``, ``<target type= port= name= state=/>`` and, on a
running domain, ``<alias name=.../>``. The ``<console>`` that duplicates the first serial carries
that serial's alias and is the same device. The first serial is the domain's console (rendered);
every other device is a stream named after its virtio port name (``org.qemu.guest_agent.0``)
or, failing one, its alias.

Parsing is bounded: at most ``MAX_XML`` characters, no DTD or entity, at most ``MAX_DEVICES``
character devices.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Final

MAX_XML: Final = 1 << 20
MAX_DEVICES: Final = 64
MAX_NAME: Final = 64


class DomainXMLError(ValueError):
    """A domain XML that cannot be used (malformed, too large, a DTD)."""


@dataclass(frozen=True)
class CharDevice:
    """One ``<serial>``, ``<console>`` or ``<channel>`` of a domain."""

    kind: str  # serial | console | channel
    type: str  # pty, unix, tcp, file, spicevmc...
    alias: str | None = None
    path: str | None = None  # the pty or unix socket
    target_type: str | None = None  # isa-serial, virtio, serial...
    target_name: str | None = None  # a virtio port's dotted name
    port: str | None = None
    #: connected/disconnected (the guest has the virtio port open), when libvirt says.
    state: str | None = None

    @property
    def stream_name(self) -> str:
        """A virtio port's own name, else its alias, else kind and port."""
        name = self.target_name or self.alias or f"{self.kind}{self.port or ''}"
        return _printable(name)[:MAX_NAME] or self.kind


@dataclass
class DomainDevices:
    """What a domain offers: the rendered console and the other devices by stream name."""

    console: CharDevice | None
    streams: dict[str, CharDevice] = field(default_factory=dict)


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and not c.isspace())


def console_name(domain: str) -> str:
    """A console name (letters, digits, '.', '_', '-'; at most 64) for a domain name: any
    other character becomes '_', and a leading '.' or '-' too."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", domain.encode("ascii", "replace").decode())[:MAX_NAME]
    if not name:
        return "_"
    if name[0] in ".-":
        name = "_" + name[1:]
    return name


def parse_devices(xml: str) -> DomainDevices:
    """The character devices of a domain XML; DomainXMLError when it cannot be read."""
    if len(xml) > MAX_XML:
        raise DomainXMLError(f"domain XML of {len(xml)} characters (at most {MAX_XML})")
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise DomainXMLError("domain XML with a DTD")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise DomainXMLError(f"malformed domain XML: {e}") from None
    devices = root.find("devices")
    found: list[CharDevice] = []
    if devices is not None:
        for element in devices:
            if element.tag in ("serial", "console", "channel"):
                found.append(_device(element))
                if len(found) >= MAX_DEVICES:
                    break
    serials = [d for d in found if d.kind == "serial"]
    first = serials[0] if serials else None
    if first is None:  # no <serial>: a <console> (virtio, xen...) is the console
        first = next((d for d in found if d.kind == "console"), None)
    result = DomainDevices(first)
    for dev in found:
        if dev is first:
            continue
        if dev.kind == "console" and first is not None and _same(dev, first):
            continue  # the <console> that duplicates serial0
        name = dev.stream_name
        if name not in result.streams:
            result.streams[name] = dev
    return result


def _same(a: CharDevice, b: CharDevice) -> bool:
    if a.alias is not None and b.alias is not None:
        return a.alias == b.alias
    return a.target_type == "serial" and (a.port or "0") == (b.port or "0")


def _device(element: ET.Element) -> CharDevice:
    source = element.find("source")
    target = element.find("target")
    alias = element.find("alias")
    path = None
    if source is not None:
        path = source.get("path")
    if path is None and element.get("type") == "pty":
        path = element.get("tty")
    return CharDevice(
        kind=element.tag,
        type=element.get("type", ""),
        alias=alias.get("name") if alias is not None else None,
        path=path,
        target_type=target.get("type") if target is not None else None,
        target_name=target.get("name") if target is not None else None,
        port=target.get("port") if target is not None else None,
        state=target.get("state") if target is not None else None,
    )
