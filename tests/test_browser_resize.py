"""noVNC's remote resizing (``resizeSession``) in Chromium: a viewer gets exactly the size it
asks for, so noVNC asks once; two viewers of different sizes settle on the last request.

The fixtures (a page with noVNC's own ``core/rfb.js``, headless Chromium) are
``tests/test_browser.py``'s. SetDesktopSize requests are counted in the audit log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import SHELL
from harness import RunningVncterm
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from test_browser import browser, page_url, wait_event, wait_same_pixels  # noqa: F401

pytestmark = pytest.mark.peer

#: Neither is a whole number of 9x18 cells.
WIDTH, HEIGHT = 803, 605
OTHER_W, OTHER_H = 700, 501

SECOND_VIEWER = """
const [port, w, h, done] = arguments;
const {default: RFB} = await import("./novnc/core/rfb.js");
const div = document.createElement("div");
div.style.width = w + "px";
div.style.height = h + "px";
document.body.appendChild(div);
const rfb = new RFB(div, `ws://127.0.0.1:${port}/`);
rfb.addEventListener("connect", () => { rfb.resizeSession = true; done(true); });
window.second = rfb;
"""


def resize_requests(audit: Path) -> list[dict[str, object]]:
    """The SetDesktopSize requests vncterm received (its audit log)."""
    lines = audit.read_text().splitlines() if audit.exists() else []
    return [e for e in map(json.loads, lines) if e["event"] == "resize"]


def wait_size(server: RunningVncterm, width: int, height: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while server.framebuffer().shape != (height, width):
        assert time.monotonic() < deadline, server.framebuffer().shape
        time.sleep(0.1)


def connect_resizing(driver: webdriver.Chrome, page: str, port: int) -> None:
    """The test page's viewer, its element WIDTH x HEIGHT, with resizeSession on."""
    driver.get(f"{page}?host=127.0.0.1&port={port}")
    wait_event(driver, "connect")
    driver.execute_script(
        "const s = document.getElementById('screen');"
        f"s.style.width = '{WIDTH}px'; s.style.height = '{HEIGHT}px';"
        "window.rfb.resizeSession = true;"
    )


def test_novnc_resize_session_gets_exactly_its_size_in_one_request(
    browser: webdriver.Chrome,  # noqa: F811 (the fixture from test_browser)
    page_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    with RunningVncterm(SHELL, audit_log=str(audit)) as server:
        server.wait_text("$")
        connect_resizing(browser, page_url, server.port)
        wait_size(server, WIDTH, HEIGHT)
        time.sleep(1.5)  # noVNC would ask again every 100 ms if the size differed
        requests = resize_requests(audit)
        assert [(r["width"], r["height"], r["ok"]) for r in requests] == [(WIDTH, HEIGHT, True)], (
            requests
        )
        wait_same_pixels(browser, server)  # margin included, pixel for pixel
        browser.execute_script("window.rfb.focus()")
        ActionChains(browser).send_keys("stty size\n").perform()
        server.wait_text(f"{HEIGHT // 18} {WIDTH // 9}")  # the whole cells: 33 89


def test_two_novnc_viewers_of_different_sizes_settle(
    browser: webdriver.Chrome,  # noqa: F811 (the fixture from test_browser)
    page_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    with RunningVncterm(SHELL, audit_log=str(audit)) as server:
        server.wait_text("$")
        connect_resizing(browser, page_url, server.port)
        wait_size(server, WIDTH, HEIGHT)
        assert browser.execute_async_script(SECOND_VIEWER, server.port, OTHER_W, OTHER_H)
        wait_size(server, OTHER_W, OTHER_H)  # the last request wins
        time.sleep(1.0)
        settled = len(resize_requests(audit))
        time.sleep(2.0)
        requests = resize_requests(audit)
        assert len(requests) == settled, [(r["viewer"], r["width"], r["ts"]) for r in requests]
        assert settled <= 3, requests
        assert server.framebuffer().shape == (OTHER_H, OTHER_W)
        # the first viewer was told "another client" and shows the same frame
        width = browser.execute_script("return document.querySelector('#screen canvas').width")
        assert width == OTHER_W
