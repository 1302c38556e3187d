"""The real guest (Debian's kernel and busybox under QEMU) driven from noVNC in headless Chromium:
keys an operator presses in a browser page, where there is no Break key and the browser or the
operating system keeps some combinations for itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import RunningVncterm
from peers.qemu_guest import QemuGuest, Serial
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from test_browser import browser, page_url, wait_event  # noqa: F401 (fixtures)

from vncterm.config import ConsoleSpec

pytestmark = [pytest.mark.peer, pytest.mark.slow]

BOOT = 120.0  # seconds: TCG boots in ~7 s on an idle machine; CI may be busy


def press(driver: webdriver.Chrome, *mods: str, key: str) -> None:
    """``key`` pressed with ``mods`` held, in the page."""
    chain = ActionChains(driver)
    for mod in mods:
        chain.key_down(mod)
    chain.send_keys(key)
    for mod in reversed(mods):
        chain.key_up(mod)
    chain.perform()


def test_ctrl_shift_b_in_a_browser_sends_magic_sysrq(
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Ctrl+Shift+B pressed in noVNC in Chromium is a serial BREAK on a telnet unix chardev:
    the `h` that follows is the SysRq command, so the guest's kernel prints its help."""
    serial = tmp_path / "ttyS0.sock"
    with (
        QemuGuest(tmp_path / "vm", [Serial.unix(serial, telnet=True)], monitor=False),
        RunningVncterm([], console=ConsoleSpec("unix", str(serial), telnet=True)) as vt,
    ):
        vt.wait_text("guest:", timeout=BOOT)
        browser.get(f"{page_url}?host=127.0.0.1&port={vt.port}")
        wait_event(browser, "connect")
        browser.execute_script("window.rfb.focus()")
        ActionChains(browser).send_keys("echo typed-$((6*7))\n").perform()
        vt.wait_text("typed-42", timeout=30)
        press(browser, Keys.CONTROL, Keys.SHIFT, key="b")
        ActionChains(browser).send_keys("h").perform()
        vt.wait_text("sysrq: HELP", timeout=30)
        browser.execute_script("window.rfb.disconnect()")
