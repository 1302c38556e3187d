"""The rendered serial console of a guest found through QMP (``--qmp`` without ``--unix`` or
``--tcp``): a :class:`SocketConsole` whose socket is known only once QMP names the guest's first
serial chardev. Until then it waits (its status says so); the address may change when QEMU comes
back with other sockets."""

from __future__ import annotations

import asyncio

from .base import DataCallback, StatusCallback
from .socket import Address, SocketConsole


class QmpSerialConsole(SocketConsole):
    """A serial chardev socket named later by :meth:`set_target`."""

    def __init__(self, qmp_path: str) -> None:
        super().__init__(f"the serial chardev named by QMP {qmp_path}")
        self._known: asyncio.Event | None = None
        self._starting: asyncio.Future[None] | None = None

    def _event(self) -> asyncio.Event:
        if self._known is None:
            self._known = asyncio.Event()
        return self._known

    def set_target(self, address: Address, telnet: bool) -> None:
        """The chardev's socket (a path or (host, port)); used from the next attempt on."""
        if isinstance(address, tuple):
            self.address = (address[0], int(address[1]))
            self.description = f"{address[0]}:{address[1]}"
        else:
            self.address = str(address)
            self.description = self.address
        self.telnet = telnet
        self._event().set()

    @property
    def known(self) -> bool:
        return self._known is not None and self._known.is_set()

    async def start(self, on_data: DataCallback, on_status: StatusCallback) -> None:
        """Start the attach loop without waiting for QMP to name the socket."""
        task = self._starting = asyncio.ensure_future(super().start(on_data, on_status))
        await asyncio.sleep(0)  # the loop is running: wait_closed() and close() work
        if task.done():
            task.result()

    async def _attach(self) -> asyncio.Future[str]:
        if not self.known:
            self._status("waiting for QMP to name the serial chardev")
            await self._event().wait()
        return await super()._attach()
