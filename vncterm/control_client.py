"""``vncterm --list``: ask a running vncterm for its consoles on its control socket.

The protocol: connect to the unix socket ``STATE_DIR/control``, send the line ``list``; the
server answers one JSON document and closes::

    {"consoles": [{"name": "vm1", "ports": [5901], "websocket": "/vm1",
                   "streams": ["console", "monitor"], "viewers": 2, "status": "running",
                   "token": "..."}]}
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from typing import Any

from .errors import VncTermError

#: The control socket's name in the state directory, and the request for the list.
CONTROL_SOCKET = "control"
LIST_REQUEST = b"list\n"
#: The largest answer read (a few hundred bytes per console).
MAX_ANSWER = 16 << 20
COLUMNS = ("NAME", "PORTS", "VIEWERS", "STREAMS", "STATUS", "TOKEN")


class ControlError(VncTermError):
    """No vncterm answered on the control socket, or its answer made no sense."""


def control_path(state_dir: str) -> str:
    return os.path.join(state_dir, CONTROL_SOCKET)


def query(state_dir: str, timeout: float = 5.0) -> dict[str, Any]:
    """The consoles of the vncterm whose state directory is ``state_dir``."""
    path = control_path(state_dir)
    chunks: list[bytes] = []
    size = 0
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(LIST_REQUEST)
            while chunk := sock.recv(65536):
                size += len(chunk)
                if size > MAX_ANSWER:
                    raise ControlError(f"{path}: answer over {MAX_ANSWER} bytes")
                chunks.append(chunk)
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(
            f"no vncterm is listening on {path} (is one running with --state-dir {state_dir}?)"
        ) from None
    except OSError as e:
        raise ControlError(f"{path}: {e}") from None
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError as e:
        raise ControlError(f"{path}: not a JSON answer: {e}") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("consoles"), list):
        raise ControlError(f"{path}: the answer has no list of consoles")
    return answer


def format_consoles(answer: Mapping[str, Any]) -> str:
    """A table: NAME PORTS VIEWERS STREAMS STATUS, one console per line (its ``listen``
    addresses when it has no TCP port, e.g. a unix socket only)."""
    rows = [COLUMNS]
    for console in answer.get("consoles", []):
        item = console if isinstance(console, dict) else {}
        rows.append(
            (
                str(item.get("name", "?")),
                _joined(item.get("ports") or item.get("listen")),
                str(item.get("viewers", "-")),
                _joined(item.get("streams")),
                str(item.get("status", "-")),
                str(item.get("token", "-")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    shared = answer.get("websocket")
    if isinstance(shared, list) and shared:
        lines.append(f"WebSocket by name (/NAME) or token (/?token=TOKEN): {_joined(shared)}")
    return "\n".join(line.rstrip() for line in lines)


def _joined(values: object) -> str:
    if isinstance(values, list) and values:
        return ",".join(str(v) for v in values)
    return "-"
