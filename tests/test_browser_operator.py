"""vncterm's own keys pressed in noVNC in headless Chromium, where there is no Break key and the
browser or the operating system keeps some combinations for itself: Ctrl+Shift+B on the real
guest (Debian's kernel and busybox under QEMU), Ctrl+Shift+F (search) and Ctrl+Shift+L (take
the keyboard) on a shell, Escape stopping a paced paste on a --tty."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import SHELL
from harness import RunningVncterm
from peers.novnc_client import NoVncClient
from peers.qemu_guest import QemuGuest, Serial
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from test_browser import browser, page_url, wait_event, wait_same_pixels  # noqa: F401 (fixtures)
from test_paste_pacing import TEXT, OverrunReader

from vncterm.config import ConsoleSpec

pytestmark = pytest.mark.peer

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


@pytest.mark.slow
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


def status_text(vt: RunningVncterm) -> str:
    assert vt.server is not None
    status = vt.server.session.status
    return vt.call(status.text) or ""


def wait_status(vt: RunningVncterm, needle: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while needle not in (text := status_text(vt)):
        assert time.monotonic() < deadline, f"status row {text!r} never said {needle!r}"
        time.sleep(0.05)
    return text


def test_search_and_keyboard_takeover_keys_reach_vncterm_from_chromium(
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
) -> None:
    """Ctrl+Shift+F opens the search (Enter, Shift+Enter, Escape work in the page), and
    Ctrl+Shift+L takes the keyboard from a noVNC viewer (Node) under --input one."""
    with RunningVncterm(SHELL, input_policy="one", input_idle=60.0) as vt, NoVncClient() as node:
        vt.wait_text("$")
        assert vt.server is not None
        view = vt.server.session.terminal.view
        node.connect("127.0.0.1", vt.port, quality=None)
        node.type("for i in $(seq 1 80); do echo line-$i; done\n")
        vt.wait_text("line-80")
        browser.get(f"{page_url}?host=127.0.0.1&port={vt.port}")
        wait_event(browser, "connect")
        browser.execute_script("window.rfb.focus()")
        ActionChains(browser).send_keys("echo not-mine\n").perform()
        assert "keyboard held by" in wait_status(vt, "keyboard held by")
        press(browser, Keys.CONTROL, Keys.SHIFT, key="l")
        wait_status(vt, "has the keyboard")
        ActionChains(browser).send_keys("echo typed-$((6*7))\n").perform()
        vt.wait_text("typed-42")
        press(browser, Keys.CONTROL, Keys.SHIFT, key="f")
        wait_status(vt, "search:")
        ActionChains(browser).send_keys("line-1").perform()  # line-1, line-10 .. line-19
        wait_status(vt, "1 of 11")
        assert vt.call(lambda: view.offset) > 0
        ActionChains(browser).send_keys(Keys.ENTER).perform()
        wait_status(vt, "2 of 11")
        press(browser, Keys.SHIFT, key=Keys.ENTER)
        wait_status(vt, "1 of 11")
        wait_same_pixels(browser, vt)  # the page shows the view, highlights and search line
        ActionChains(browser).send_keys(Keys.ESCAPE).perform()
        deadline = time.monotonic() + 10
        while vt.call(lambda: view.offset) or "search:" in status_text(vt):
            assert time.monotonic() < deadline, status_text(vt)
            time.sleep(0.05)
        lines = vt.text()
        assert not any("not-mine" in line or "line-1line" in line for line in lines), lines
        browser.execute_script("window.rfb.disconnect()")


def test_paced_paste_from_chromium_shows_progress_and_escape_cancels(
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
) -> None:
    """On a --tty (paced by default), a long paste from noVNC's clipboard in Chromium shows
    its progress on the status row (drawn on the page's canvas) and Escape pressed in the page
    stops it; the far end got a beginning of the text and no Escape."""
    reader = OverrunReader()
    text = TEXT * 8
    try:
        with RunningVncterm([], console=ConsoleSpec("tty", reader.path)) as vt:
            assert vt.server is not None
            session = vt.server.session
            browser.get(f"{page_url}?host=127.0.0.1&port={vt.port}")
            wait_event(browser, "connect")
            browser.execute_script("window.rfb.focus()")
            browser.execute_script("window.rfb.clipboardPasteFrom(arguments[0])", text)
            deadline = time.monotonic() + 10
            while text not in vt.call(lambda: [v.clipboard.text for v in session.viewers]):
                assert time.monotonic() < deadline, "the page's clipboard never reached vncterm"
                time.sleep(0.05)
            press(browser, Keys.SHIFT, key=Keys.INSERT)
            wait_status(vt, "pasting:")
            wait_same_pixels(browser, vt)  # the progress, on the page
            ActionChains(browser).send_keys(Keys.ESCAPE).perform()
            wait_status(vt, "paste cancelled")
            browser.execute_script("window.rfb.disconnect()")
    finally:
        reader.close()
    got = bytes(reader.kept)
    assert reader.lost == 0 and 0 < len(got) < len(text) // 2, (len(got), reader.lost)
    assert text.replace("\n", "\r").encode().startswith(got) and b"\x1b" not in got
