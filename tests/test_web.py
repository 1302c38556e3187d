"""``--web DIR``: static files over HTTP on the shared WebSocket listener (web_static): no
directory listing, paths confined to DIR, the WebSocket's Origin rules; and Debian's noVNC 1.3
(``/usr/share/novnc``, the ``novnc`` package) opened from it in headless Chromium:
``vnc.html?path=NAME`` shows the console pixel for pixel and typing reaches its shell."""

from __future__ import annotations

import base64
import dataclasses
import http.client
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHELL
from host_harness import RunningHost
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from test_browser import browser  # noqa: F401
from test_host import host_config, sleeper
from wsclient import WsRawClient

from vncterm.config import Config

pytestmark = pytest.mark.peer

DEBIAN_NOVNC = Path("/usr/share/novnc")


def get(
    port: int, path: str, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_static_files_only_inside_the_folder(tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "app").mkdir(parents=True)
    (web / "vnc.html").write_text("<html>page</html>")
    (web / "app" / "ui.js").write_text("export default 1;")
    (web / ".secret").write_text("hidden")
    (web / "linked.html").symlink_to(web / "vnc.html")  # a package's own link
    (tmp_path / "outside.txt").write_text("outside")
    config = dataclasses.replace(host_config(tmp_path, alpha=sleeper("A")), web=str(web))
    with RunningHost(config) as run:
        assert run.host is not None
        port = run.host.websocket_addresses[0][1]
        status, headers, body = get(port, "/vnc.html?path=alpha")
        assert (status, body) == (200, b"<html>page</html>")
        assert headers["content-type"].startswith("text/html")
        status, headers, body = get(port, "/app/ui.js")
        assert status == 200 and headers["content-type"].startswith("text/javascript")
        assert get(port, "/linked.html")[2] == b"<html>page</html>"
        status, headers, body = get(port, "/vnc.html", "HEAD")
        assert status == 200 and body == b"" and headers["content-length"] == "17"
        for path in (
            "/",
            "/app/",
            "/app",
            "/.secret",
            "/../outside.txt",
            "/%2e%2e/outside.txt",
            "/app/%2E%2E/%2E%2E/outside.txt",
            "/app/..%2f..%2foutside.txt",
            "/%00",
            "/missing.js",
            "/app\\ui.js",
            "//[x/vnc.html",
        ):
            assert get(port, path)[0] == 404, path
        assert get(port, "/vnc.html", "POST")[0] == 405
        # a console without a password: only loopback pages, as for the WebSocket
        assert get(port, "/vnc.html", Origin="http://evil.example")[0] == 403
        assert get(port, "/vnc.html", Origin="http://127.0.0.1:8080")[0] == 200
        # the WebSocket on the same listener still works
        ws = WsRawClient("127.0.0.1", port, path="/alpha")
        assert ws.name.startswith(b"alpha on ")
        ws.close()


def canvas(driver: webdriver.Chrome) -> np.ndarray:
    w, h, b64 = driver.execute_script(
        """const c = document.querySelector('#noVNC_container canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let t = ''; for (let i = 0; i < d.length; i += 0x8000)
            t += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
        return [c.width, c.height, btoa(t)];"""
    )
    rgba = np.frombuffer(base64.b64decode(b64), dtype=np.uint8).reshape(h, w, 4).astype(np.uint32)
    return (rgba[..., 0] << 16) | (rgba[..., 1] << 8) | rgba[..., 2]


def test_debian_novnc_served_by_vncterm_in_chromium(
    tmp_path: Path,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    assert (DEBIAN_NOVNC / "vnc.html").is_file(), "apt-get install novnc (tests/run does)"
    shell = Config(command=SHELL, listen=[], password=b"webpw")
    config = dataclasses.replace(host_config(tmp_path, alpha=shell), web=str(DEBIAN_NOVNC))
    with RunningHost(config) as run:
        assert run.host is not None
        run["alpha"].wait_text("$")
        port = run.host.websocket_addresses[0][1]
        browser.get(
            f"http://127.0.0.1:{port}/vnc.html?path=alpha&autoconnect=1&password=webpw"
            "&resize=off&reconnect=0"
        )
        service = run.host.services["alpha"]

        def served() -> np.ndarray:
            def grab() -> np.ndarray:
                service.session.refresh()
                return service.renderer.pixels.copy()

            return run.call(grab)

        def same_pixels() -> None:
            deadline = time.monotonic() + 15
            while True:
                connected = browser.execute_script(
                    "return document.documentElement.classList.contains('noVNC_connected')"
                )
                if connected:
                    got, want = canvas(browser), served()
                    if got.shape == want.shape and (got == want).all():
                        return
                assert time.monotonic() < deadline, f"connected={connected}"
                time.sleep(0.2)

        same_pixels()
        ActionChains(browser).click(
            browser.find_element(By.CSS_SELECTOR, "#noVNC_container canvas")
        ).perform()
        ActionChains(browser).send_keys("echo typed-$((6*7))\n").perform()
        run["alpha"].wait_text("typed-42")
        same_pixels()
