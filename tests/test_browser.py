"""A real browser: Debian's headless Chromium (driven by selenium through Debian's chromedriver,
nothing downloaded) loads noVNC 1.7's own ``core/rfb.js`` (npm ``@novnc/novnc``) from a page on
a local http.server and connects straight to vncterm, no websockify in between.

Proves: the canvas shows the server's framebuffer pixel for pixel (``getImageData``), keys typed
into the page reach the shell and its output comes back, noVNC's clipboard is typed into the
console on a paste key pressed in the page (Shift+Insert, Ctrl+Shift+V), not before; both on
the VNC port (sniffed WebSocket) and on a ``--websocket-tls`` listener (wss, VNC Authentication
inside); the browser's request arrives well within the sniffing wait; characters beyond
Latin-1 typed into the page (noVNC sends their legacy X11 keysyms) reach the shell as UTF-8.
"""

from __future__ import annotations

import base64
import functools
import http.server
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from certs import CertFiles
from conftest import NON_LATIN1, NON_LATIN1_KEYSYMS, SHELL
from harness import RunningVncterm
from rawclient import RawClient
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from vncterm.config import ListenAddress
from vncterm.server import sniff

pytestmark = pytest.mark.peer

HERE = Path(__file__).resolve().parent
NOVNC = HERE / "peers" / "novnc" / "node_modules" / "@novnc" / "novnc"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    """http://127.0.0.1:PORT/novnc.html: the test page with noVNC beside it."""
    assert (NOVNC / "core" / "rfb.js").is_file(), "run `npm ci` in tests/peers/novnc"
    root = Path(tempfile.mkdtemp(prefix="vncterm-web-"))
    shutil.copy(HERE / "browser" / "novnc.html", root / "novnc.html")
    (root / "novnc").symlink_to(NOVNC)
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/novnc.html"
    httpd.shutdown()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="vncterm-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--ignore-certificate-errors",  # the wss test's self-made CA
        "--window-size=1100,900",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(arg)
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never fetch anything
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def events(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    return list(driver.execute_script("return window.vnctermEvents || []"))


def wait_event(driver: webdriver.Chrome, name: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in events(driver):
            if ev["event"] == name:
                return ev
            if ev["event"] in ("disconnect", "securityfailure"):
                raise AssertionError(f"noVNC: {ev}; all events {events(driver)}")
        time.sleep(0.05)
    raise AssertionError(f"no {name} event; events {events(driver)}")


def canvas(driver: webdriver.Chrome) -> np.ndarray:
    """noVNC's canvas pixels as uint32 0x00RRGGBB."""
    w, h, b64 = driver.execute_script("return window.canvasRGBA()")
    rgba = np.frombuffer(base64.b64decode(b64), dtype=np.uint8).reshape(h, w, 4).astype(np.uint32)
    return (rgba[..., 0] << 16) | (rgba[..., 1] << 8) | rgba[..., 2]


def wait_same_pixels(
    driver: webdriver.Chrome, server: RunningVncterm, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        want, got = server.framebuffer(), canvas(driver)
        if got.shape == want.shape and (got == want).all():
            return
        if time.monotonic() > deadline:
            diff = "size" if got.shape != want.shape else int((got != want).sum())
            raise AssertionError(
                f"canvas {got.shape} differs from the server's {want.shape}: {diff} pixels"
            )
        time.sleep(0.1)


def drive_shell(driver: webdriver.Chrome, server: RunningVncterm) -> None:
    """Pixels, typing and paste through the connected page."""
    wait_same_pixels(driver, server)
    driver.execute_script("window.rfb.focus()")
    ActionChains(driver).send_keys("echo typed-$((6*7))\n").perform()
    server.wait_text("typed-42")
    wait_same_pixels(driver, server)
    # the page's clipboard reaches vncterm but is typed only on a paste key pressed in the page:
    # Shift+Insert, then Ctrl+Shift+V (neither is taken by the browser)
    driver.execute_script(
        "window.rfb.clipboardPasteFrom(arguments[0])", "echo pasted-$((50+5)) é\n"
    )
    assert server.server is not None
    session = server.server.session
    deadline = time.monotonic() + 10
    while "echo pasted-$((50+5)) é\n" not in server.call(
        lambda: [v.clipboard.text for v in session.viewers]
    ):
        assert time.monotonic() < deadline, "the page's clipboard never reached vncterm"
        time.sleep(0.05)
    ActionChains(driver).send_keys("echo marker-$((2*2))\n").perform()
    assert not any("pasted-55" in line for line in server.wait_text("marker-4"))
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.INSERT).key_up(Keys.SHIFT).perform()
    server.wait_text("pasted-55 é")
    ActionChains(driver).send_keys("clear; echo cleared-$((3*3))\n").perform()
    assert not any("pasted-55" in line for line in server.wait_text("cleared-9"))
    ActionChains(driver).key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys("v").key_up(
        Keys.SHIFT
    ).key_up(Keys.CONTROL).perform()
    server.wait_text("pasted-55 é")
    wait_same_pixels(driver, server)


def test_novnc_in_chromium_on_the_vnc_port(
    browser: webdriver.Chrome, page_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=sniff.__name__)
    with RunningVncterm(SHELL, name="browser test") as server:
        server.wait_text("$")
        browser.get(f"{page_url}?host=127.0.0.1&port={server.port}")
        wait_event(browser, "connect")
        drive_shell(browser, server)
        # a plain viewer on the same port, while the browser stays connected
        raw = RawClient("127.0.0.1", server.port)
        raw.update(incremental=False)
        assert (raw.fb == server.framebuffer()).all()
        raw.close()
        browser.execute_script("window.rfb.disconnect()")
        assert wait_event(browser, "disconnect")["clean"]
    # the browser's request came well within the wait (the figure the wait is chosen by)
    sniffed = [
        float(m.group(1))
        for m in (
            re.search(r"sniffed as websocket after ([\d.]+) ms", r.getMessage())
            for r in caplog.records
        )
        if m
    ]
    assert sniffed and max(sniffed) < sniff.WAIT * 1000 / 2, sniffed


def test_novnc_in_chromium_over_wss(
    browser: webdriver.Chrome, page_url: str, certs: CertFiles
) -> None:
    ws = ListenAddress("127.0.0.1", 0)
    with RunningVncterm(
        SHELL,
        password=b"sekrit",
        tls_cert=str(certs.server_cert),
        tls_key=str(certs.server_key),
        websocket=[ws],
        websocket_tls=True,
        websocket_sniff=False,
    ) as server:
        server.wait_text("$")
        assert server.server is not None
        port = server.server.websocket.addresses[0][1]
        browser.get(f"{page_url}?scheme=wss&host=127.0.0.1&port={port}&password=sekrit&binary")
        wait_event(browser, "credentialsrequired")  # VNC Authentication inside TLS
        wait_event(browser, "connect")
        drive_shell(browser, server)


def test_novnc_types_characters_beyond_latin1(
    browser: webdriver.Chrome, page_url: str, tmp_path: Path, keysyms_pressed: list[int]
) -> None:
    out = tmp_path / "typed"
    with RunningVncterm(SHELL, name="browser keys") as server:
        server.wait_text("$")
        browser.get(f"{page_url}?host=127.0.0.1&port={server.port}")
        wait_event(browser, "connect")
        browser.execute_script("window.rfb.focus()")
        ActionChains(browser).send_keys(f"cat > {out}\n").perform()
        server.wait_text(f"cat > {out}")
        ActionChains(browser).send_keys(NON_LATIN1 + "\n").perform()
        want = (NON_LATIN1 + "\n").encode()
        deadline = time.monotonic() + 10
        while not out.exists() or out.read_bytes() != want:
            got = out.read_bytes() if out.exists() else None
            assert time.monotonic() < deadline, f"the shell got {got!r}, not {want!r}"
            time.sleep(0.1)
        browser.execute_script("window.rfb.disconnect()")
    assert NON_LATIN1_KEYSYMS <= set(keysyms_pressed), " ".join(hex(k) for k in keysyms_pressed)
