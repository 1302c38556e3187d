"""libvncclient built with GnuTLS (Debian ``libvncserver-dev``) as a real VeNCrypt peer, through
``libvnc/tls_client.c`` (compiled on first use into ``tests/.work/``).

libvncclient picks the first encrypted VeNCrypt sub-type in the server's list, so a test chooses
the sub-type by configuring the server to offer it first. It checks the server certificate
against ``ca`` (and the host name against the address it connects to).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import WORK_DIR, PeerError
from .libvnc import build as _build_capture

SOURCE = Path(__file__).resolve().parent / "libvnc" / "tls_client.c"


@dataclass(frozen=True)
class TlsResult:
    ok: bool
    subauth: int  # the VeNCrypt sub-type libvncclient used (0 if it never got that far)
    width: int
    height: int
    updates: int
    error: str
    exit_status: int
    log: str
    framebuffer: np.ndarray | None  # (h, w) uint32 0x00RRGGBB when the session succeeded


def build() -> Path:
    """Compile tls_client.c (reusing the capture peer's build steps and checks)."""
    import hashlib
    import shutil

    source = SOURCE.read_bytes()
    exe = WORK_DIR / f"libvnc-tls-{hashlib.sha256(source).hexdigest()[:12]}"
    if exe.exists():
        return exe
    _build_capture()  # fails with a clear message when gcc/pkg-config/libvncclient are missing
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libvncclient"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tmp = exe.with_suffix(f".tmp{os.getpid()}")
    cc = subprocess.run(
        [shutil.which("gcc") or "gcc", "-O2", "-Wall", "-o", str(tmp), str(SOURCE), *flags],
        capture_output=True,
        text=True,
        check=False,
    )
    if cc.returncode != 0:
        raise PeerError(f"compiling {SOURCE.name} failed:\n{cc.stderr}")
    os.replace(tmp, exe)
    return exe


def connect(
    port: int,
    *,
    host: str = "127.0.0.1",
    ca: Path | None = None,
    cert: Path | None = None,
    key: Path | None = None,
    user: str | None = None,
    password: str | None = None,
    keys: list[int] | None = None,
    min_updates: int = 1,
    quiet_ms: int = 300,
    timeout: float = 10.0,
) -> TlsResult:
    """One libvncclient session; never raises for a refused connection (see ``ok``)."""
    exe = build()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    fd, out = tempfile.mkstemp(prefix="libvnc-tls-fb-", dir=WORK_DIR)
    os.close(fd)
    args = [
        str(exe),
        "--host",
        host,
        "--port",
        str(port),
        "--out",
        out,
        "--min-updates",
        str(min_updates),
        "--quiet-ms",
        str(quiet_ms),
        "--timeout-ms",
        str(int(timeout * 1000)),
    ]
    for flag, value in (("--ca", ca), ("--cert", cert), ("--key", key), ("--user", user)):
        if value is not None:
            args += [flag, str(value)]
    if keys:
        args += ["--keys", ",".join(f"{k:x}" for k in keys)]
    env = {k: v for k, v in os.environ.items() if k != "VNCTERM_PEER_PASSWORD"}
    if password is not None:
        env["VNCTERM_PEER_PASSWORD"] = password
    try:
        proc = subprocess.run(args, capture_output=True, env=env, timeout=timeout + 15, check=False)
        lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
        info: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        data = Path(out).read_bytes()
    finally:
        Path(out).unlink(missing_ok=True)
    w, h = int(info.get("width", 0)), int(info.get("height", 0))
    fb = None
    if info.get("ok") and len(data) == w * h * 4:
        fb = np.frombuffer(data, dtype="<u4").reshape(h, w) & 0xFFFFFF
    return TlsResult(
        ok=bool(info.get("ok")),
        subauth=int(info.get("subauth", 0)),
        width=w,
        height=h,
        updates=int(info.get("updates", 0)),
        error=str(info.get("error", "")),
        exit_status=proc.returncode,
        log=proc.stderr.decode("utf-8", "replace"),
        framebuffer=fb,
    )
