"""The control socket (``STATE_DIR/control``, a unix socket in the private state directory):
``vncterm --list`` sends the line ``list`` and reads one JSON document describing the
consoles. Only the state directory's owner can reach it (the folder is 0700)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from ..control_client import CONTROL_SOCKET

log = logging.getLogger(__name__)

#: The longest request line, and how long a client may take to send it.
MAX_REQUEST = 256
REQUEST_TIMEOUT = 5.0


def _in_use(path: str) -> bool:
    """True when another vncterm answers on ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(path)
        except OSError:
            return False
    return True


class ControlServer:
    """Answers ``list`` with ``describe()`` as JSON; anything else with an error."""

    def __init__(self, state_dir: str, describe: Callable[[], dict[str, Any]]) -> None:
        self.path = os.path.join(state_dir, CONTROL_SOCKET)
        self.describe = describe
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> bool:
        """Listen, unless another running vncterm already has this state directory's socket
        (False then: it keeps it, and this process is not listed)."""
        if os.path.exists(self.path):
            if _in_use(self.path):
                log.warning(
                    "another vncterm uses %s: this one is not listed by vncterm --list", self.path
                )
                return False
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self.server = await asyncio.start_unix_server(self._serve, self.path)
        os.chmod(self.path, 0o600)
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT)
            request = line[:MAX_REQUEST].strip().decode("ascii", "replace")
            if request == "list":
                answer: dict[str, Any] = self.describe()
            else:
                answer = {"error": f"unknown request {request[:40]!r}: only 'list'"}
            writer.write(json.dumps(answer).encode() + b"\n")
            await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            log.info("control socket: %s", e or type(e).__name__)
        finally:
            writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
            with contextlib.suppress(OSError):
                os.unlink(self.path)
