"""Real components of a browser front for the publishing tests: Debian's ``redis-server`` on a
loopback port, and websockify routing by token, PyPI's 0.13 (``python3 -m websockify``) and
Debian's 0.10 (``/usr/bin/websockify`` under Debian's own ``/usr/bin/python3`` and packages)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REDIS_SERVER = "/usr/bin/redis-server"
DEBIAN_WEBSOCKIFY = "/usr/bin/websockify"
DEBIAN_PYTHON = "/usr/bin/python3"
#: Debian's own Python packages, first on the path: a pip-installed websockify or redis in
#: /usr/local (when Debian's python3 is the one pip installed into) must not stand in for them.
DEBIAN_PACKAGES = "/usr/lib/python3/dist-packages"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing answers on {host}:{port}") from None
            time.sleep(0.05)


class RedisServer:
    """``redis-server`` on 127.0.0.1:PORT, no persistence; ``stop()``/``start()`` again on the
    same port (a Redis restart)."""

    def __init__(self, port: int | None = None, password: str | None = None) -> None:
        self.port = port or free_port()
        self.password = password
        self.dir = tempfile.mkdtemp(prefix="vncterm-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", self.dir, "--protected-mode", "no"]
            + (["--requirepass", self.password] if self.password else []),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cli(self, *command: str, db: int = 0) -> list[str]:
        """One command by ``redis-cli`` (Debian's, beside the server): its output lines."""
        env = {**os.environ, "REDISCLI_AUTH": self.password} if self.password else None
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), "-n", str(db), "--raw", *command],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return [line for line in done.stdout.splitlines() if line]

    def keys(self, db: int = 0) -> list[str]:
        return sorted(self.cli("KEYS", "*", db=db))

    def get(self, key: str, db: int = 0) -> str | None:
        found = self.cli("GET", key, db=db)
        return found[0] if found else None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Websockify:
    """A websockify process on 127.0.0.1:PORT routing by token (``plugin``, ``source``)."""

    def __init__(self, plugin: str, source: str, *, debian: bool, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = dict(os.environ)
        if debian:
            # Debian's 0.10 under Debian's own python3: its python3-websockify, python3-redis
            argv = [DEBIAN_PYTHON, DEBIAN_WEBSOCKIFY]
            env["PYTHONPATH"] = DEBIAN_PACKAGES
        else:
            argv = [sys.executable, "-m", "websockify"]
        argv += ["--token-plugin", plugin, "--token-source", source, f"127.0.0.1:{self.port}"]
        self._out = open(log, "wb")  # closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, env=env)
        wait_port("127.0.0.1", self.port)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._out.close()

    def __enter__(self) -> Websockify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
