"""The state directory (``--state-dir``): one private folder (mode 0700) for what vncterm keeps
per console across restarts: ports handed out, tokens, saved terminal state, the control
socket. Files written there are replaced atomically (a temporary file renamed over)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (and parents) as 0700, or tighten an existing folder of ours to 0700;
    refuse one owned by someone else or a symlink."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except FileExistsError:
        raise ConfigError(f"state directory {path} is not a directory") from None
    except OSError as e:
        raise ConfigError(f"state directory {path}: {e.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"state directory {path} is not a directory")
    if info.st_uid != os.geteuid():
        raise ConfigError(f"state directory {path} belongs to uid {info.st_uid}, not to us")
    if stat.S_IMODE(info.st_mode) != 0o700:
        log.warning("state directory %s was mode %o: now 0700", path, stat.S_IMODE(info.st_mode))
        os.chmod(path, 0o700)
    return path


def write_atomic(path: str, data: bytes, mode: int = 0o600, tmp_dir: str | None = None) -> None:
    """Replace ``path`` with ``data``: a temporary file in the same folder (or ``tmp_dir``, on
    the same filesystem), synced, renamed."""
    folder = tmp_dir or os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: str, default: Any) -> Any:
    """A JSON file of the state directory; ``default`` when missing or unreadable (logged)."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read(1 << 20))
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as e:
        log.warning("state file %s unreadable (%s): starting afresh", path, e)
        return default


def read_per_name(path: str | None, valid: Callable[[object], bool]) -> dict[str, Any]:
    """A state file mapping console names to values (ports, tokens): the valid entries; none
    when there is no file (or no state directory: ``path`` None)."""
    saved = read_json(path, {}) if path else {}
    if not isinstance(saved, dict):
        return {}
    return {str(name): value for name, value in saved.items() if valid(value)}


def save_per_name(path: str | None, values: Mapping[str, object], lost: str = "") -> None:
    """Write a per-name state file (nothing without a state directory); a failure is logged,
    with what it costs (``lost``), and never raised."""
    if path is None:
        return
    try:
        write_atomic(path, json.dumps(values, indent=1, sort_keys=True).encode())
    except OSError as e:
        log.warning("cannot save %s: %s%s", path, e, lost)
