"""Listening sockets: TCP addresses, unix socket paths and sockets inherited from systemd."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable

from ..config import ListenAddress

log = logging.getLogger(__name__)

Bound = tuple[str, int] | str


async def listen_on(
    addresses: list[ListenAddress], factory: Callable[[], asyncio.Protocol]
) -> tuple[list[asyncio.AbstractServer], list[Bound]]:
    """Listen on each address; the servers and where each listens (host and port, or path).
    OSError when one cannot (those already open are closed again)."""
    loop = asyncio.get_running_loop()
    servers: list[asyncio.AbstractServer] = []
    bound: list[Bound] = []
    try:
        for addr in addresses:
            server: asyncio.AbstractServer
            if addr.fd is not None:
                # an inherited listening socket (systemd): never pass it on to the console
                sock = socket.socket(fileno=addr.fd)
                sock.set_inheritable(False)
                sock.setblocking(False)
                if sock.family == socket.AF_UNIX:
                    server = await loop.create_unix_server(factory, sock=sock)
                    bound.append(str(sock.getsockname()))
                else:
                    server = await loop.create_server(factory, sock=sock)
                    bound.append(sock.getsockname()[:2])
            elif addr.path is not None:
                with contextlib.suppress(FileNotFoundError):
                    if os.path.exists(addr.path) and not os.path.isfile(addr.path):
                        os.unlink(addr.path)
                server = await loop.create_unix_server(factory, addr.path)
                bound.append(addr.path)
            else:
                server = await loop.create_server(factory, addr.host, addr.port, reuse_address=True)
                bound += [s.getsockname()[:2] for s in server.sockets]
            servers.append(server)
            log.info("listening on %s", addr if addr.port or addr.path else bound[-1])
    except OSError:
        for server in servers:
            server.close()
        raise
    return servers, bound
