"""Many hosts behind one browser front, with the real components: Debian's redis-server, two
vncterm processes standing for two hosts (127.0.0.2 and 127.0.0.3) each serving a guest console
and publishing it (``--publish-redis``, ``--publish-tokens``), websockify routing by token with
its own plugins (PyPI's 0.13 and Debian's 0.10, TokenRedis and TokenFile), and noVNC in headless
Chromium opening each host's console by token through one front: pixel for pixel against what
the host serves, typing reaching the guest, VNC Authentication asked end to end. A host killed
with SIGKILL loses its tokens within the expiry (the front answers them as unknown); restarted,
it publishes the same tokens again."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fronts import DEBIAN_PACKAGES, DEBIAN_PYTHON, RedisServer, Websockify
from rawclient import RawClient
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from test_browser import browser, canvas, page_url, wait_event  # noqa: F401
from wsclient import HandshakeRefused, WsRawClient

pytestmark = pytest.mark.peer

PASSWORD = "fleet-pw"
EXPIRY = 3.0


class Host:
    """One vncterm process for one "host": a guest console that writes what is typed to a
    file, on ADDRESS:0, published to Redis and to the shared token folder."""

    def __init__(self, tmp: Path, name: str, address: str, redis: int, tokens: Path) -> None:
        self.name, self.address = name, address
        self.state = tmp / f"state-{name}"
        self.typed = tmp / f"typed-{name}"
        (tmp / "pw").write_text(PASSWORD + "\n")
        guest = f'echo {name}-guest-up; while read -r l; do echo "$l" >> {self.typed}; done'
        self.argv = [sys.executable, "-m", "vncterm", "--listen", f"{address}:0"]
        self.argv += ["--password-file", str(tmp / "pw"), "--console-name", "guest"]
        self.argv += ["--name", f"guest on {name}"]
        self.argv += ["--state-dir", str(self.state), "--host-id", name]
        self.argv += ["--publish-redis", f"127.0.0.1:{redis}", "--publish-expiry", str(EXPIRY)]
        self.argv += ["--publish-tokens", str(tokens), "--", "sh", "-c", guest]
        self.log = tmp / f"vncterm-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, object]:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            listing = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "vncterm",
                    "--list",
                    "--json",
                    "--state-dir",
                    str(self.state),
                ],
                capture_output=True,
                text=True,
            )
            if listing.returncode == 0:
                console: dict[str, object] = json.loads(listing.stdout)["consoles"][0]
                if console["ports"]:
                    return console
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[tuple[RedisServer, Path, Host, Host]]:
    tokens = tmp_path / "tokens"
    with RedisServer() as redis:
        a = Host(tmp_path, "hosta", "127.0.0.2", redis.port, tokens)
        b = Host(tmp_path, "hostb", "127.0.0.3", redis.port, tokens)
        try:
            yield redis, tokens, a, b
        finally:
            a.stop()
            b.stop()


def served(address: str, port: int) -> np.ndarray:
    """The host's framebuffer as a viewer connected straight to it gets it (Raw)."""
    with RawClient(address, port, password=PASSWORD.encode()) as raw:
        raw.update(incremental=False)
        return raw.fb


def rfb_name(front: int, token: str) -> bytes:
    """The desktop name a viewer gets through the front by ``token`` (VNC Authentication)."""
    ws = WsRawClient("127.0.0.1", front, path=f"/websockify?token={token}", password=b"fleet-pw")
    ws.close()
    return ws.name


def refused(front: int, token: str) -> bool:
    """True when the front answers ``token`` as unknown (no RFB comes through)."""
    try:
        rfb_name(front, token)
    except (HandshakeRefused, ConnectionError, OSError, AssertionError):
        return True
    return False


def open_in_browser(driver: webdriver.Chrome, page: str, front: int, token: str) -> None:
    path = urllib.parse.quote(f"websockify?token={token}", safe="")
    driver.get(f"{page}?host=127.0.0.1&port={front}&path={path}&password={PASSWORD}")
    wait_event(driver, "credentialsrequired")  # VNC Authentication, end to end with vncterm
    wait_event(driver, "connect")


def same_pixels(driver: webdriver.Chrome, address: str, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        want, got = served(address, port), canvas(driver)
        if got.shape == want.shape and (got == want).all():
            return
        assert time.monotonic() < deadline, f"canvas {got.shape} differs from {want.shape}"
        time.sleep(0.2)


def typed_reaches(driver: webdriver.Chrome, host: Host, text: str) -> None:
    driver.execute_script("window.rfb.focus()")
    ActionChains(driver).send_keys(text + "\n").perform()
    deadline = time.monotonic() + 10
    while not (host.typed.exists() and text in host.typed.read_text()):
        assert time.monotonic() < deadline, f"{text!r} never reached {host.name}'s guest"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_hosts_behind_one_websockify_front_by_token(
    hosts: tuple[RedisServer, Path, Host, Host],
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    redis, tokens, a, b = hosts
    listed_a, listed_b = a.start(), b.start()
    token_a, token_b = str(listed_a["token"]), str(listed_b["token"])
    port_a, port_b = (int(x["ports"][0]) for x in (listed_a, listed_b))  # type: ignore[index]
    deadline = time.monotonic() + 10
    while redis.keys() != sorted([token_a, token_b]):
        assert time.monotonic() < deadline, redis.keys()
        time.sleep(0.1)
    assert json.loads(redis.get(token_a) or "") == {"host": f"127.0.0.2:{port_a}"}
    assert sorted(p.name for p in tokens.iterdir()) == ["hosta.guest", "hostb.guest"]
    assert "loopback address 127.0.0.2" in a.log.read_text()  # the warning for a shared Redis

    debian = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import importlib.metadata as m; print(m.version('websockify'))"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": DEBIAN_PACKAGES},
    )
    assert debian.stdout.strip().startswith("0.10"), debian
    pypi = importlib.metadata.version("websockify")  # the one python3 -m websockify runs
    assert tuple(int(x) for x in pypi.split(".")[:2]) >= (0, 13), pypi
    fronts = [
        Websockify("TokenRedis", f"127.0.0.1:{redis.port}", debian=False, log=tmp_path / "r13"),
        Websockify("TokenRedis", f"127.0.0.1:{redis.port}", debian=True, log=tmp_path / "r10"),
        Websockify("TokenFile", str(tokens), debian=False, log=tmp_path / "f13"),
        Websockify("TokenFile", str(tokens), debian=True, log=tmp_path / "f10"),
    ]
    try:
        for front in fronts:  # every plugin of both versions routes both hosts
            assert rfb_name(front.port, token_a) == b"guest on hosta"
            assert rfb_name(front.port, token_b) == b"guest on hostb"
            assert refused(front.port, "no-such-token")
        front = fronts[0].port
        # the browser, through one front, on each host in turn
        open_in_browser(browser, page_url, front, token_a)
        same_pixels(browser, "127.0.0.2", port_a)
        typed_reaches(browser, a, "typed-into-hosta")
        same_pixels(browser, "127.0.0.2", port_a)
        open_in_browser(browser, page_url, front, token_b)
        same_pixels(browser, "127.0.0.3", port_b)
        typed_reaches(browser, b, "typed-into-hostb")
        assert "typed-into-hostb" not in a.typed.read_text()

        # host A dies without a word: its Redis token expires, the front forgets it
        a.kill()
        killed = time.monotonic()
        while token_a in redis.keys():
            assert time.monotonic() - killed < EXPIRY + 1.0, "the token outlived its expiry"
            time.sleep(0.1)
        assert refused(fronts[0].port, token_a) and refused(fronts[1].port, token_a)
        assert rfb_name(front, token_b) == b"guest on hostb"
        # restarted, it publishes the same token again (at its new port)
        listed_a = a.start()
        assert listed_a["token"] == token_a
        port_a = int(listed_a["ports"][0])  # type: ignore[index]
        deadline = time.monotonic() + 10
        while json.loads(redis.get(token_a) or "{}") != {"host": f"127.0.0.2:{port_a}"}:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert rfb_name(fronts[1].port, token_a) == b"guest on hosta"
        assert rfb_name(fronts[3].port, token_a) == b"guest on hosta"  # its file rewritten
        open_in_browser(browser, page_url, front, token_a)
        same_pixels(browser, "127.0.0.2", port_a)
        # a clean exit takes its publications with it
        a.stop()
        assert token_a not in redis.keys()
        assert sorted(p.name for p in tokens.iterdir()) == ["hostb.guest"]
    finally:
        for f in fronts:
            f.stop()
