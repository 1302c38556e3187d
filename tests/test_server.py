"""The running server over real sockets: handshakes, bad input, bells, replies, exit."""

from __future__ import annotations

import logging
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from harness import RunningVncterm
from rawclient import RawClient

from vncterm.config import ListenAddress

pytestmark = pytest.mark.peer


def test_garbage_viewer_is_dropped_with_a_reason_and_others_carry_on(
    vncterm_shell: RunningVncterm, caplog: pytest.LogCaptureFixture
) -> None:
    good = RawClient("127.0.0.1", vncterm_shell.port)
    good.update(incremental=False)
    bad_cases = [
        b"GET / HTTP/1.1\r\n\r\n",  # not RFB at all
        None,  # handshake, then an unknown message type
        None,  # handshake, then an absurd SetEncodings count
        None,  # handshake, then an absurd cut text length
    ]
    payloads = [b"\x09", struct.pack(">BxH", 2, 60000), struct.pack(">BxxxI", 6, 0x7FFFFFFF)]
    with caplog.at_level(logging.INFO, logger="vncterm"):
        for i, raw in enumerate(bad_cases):
            if raw is not None:
                s = socket.create_connection(("127.0.0.1", vncterm_shell.port), timeout=5)
                s.recv(12)
                s.sendall(raw)
                assert s.recv(100) == b""  # closed at once
                s.close()
                continue
            bad = RawClient("127.0.0.1", vncterm_shell.port)
            bad.sock.sendall(payloads[i - 1])
            assert bad.is_closed_by_server(), "the server kept a broken viewer"
            bad.close()
        # the console and the good viewer are unaffected
        vncterm_shell.write_console(b"echo still-alive\r")
        vncterm_shell.wait_text("still-alive")
        good.wait_for(lambda c: (c.fb == vncterm_shell.framebuffer()).all())
    reasons = [
        r.getMessage() for r in caplog.records if "disconnected: protocol error" in r.getMessage()
    ]
    assert any("unsupported protocol version b'GET / HTTP" in r for r in reasons), reasons
    assert any("unknown or unannounced message type 9" in r for r in reasons), reasons
    assert any("SetEncodings lists 60000 encodings" in r for r in reasons), reasons
    assert any("cut text of 2147483647 bytes" in r for r in reasons), reasons
    good.close()


def test_bell_and_terminal_replies(vncterm_shell: RunningVncterm) -> None:
    client = RawClient("127.0.0.1", vncterm_shell.port)
    client.update(incremental=False)
    vncterm_shell.write_console(b"printf 'ding\\a\\n'\r")
    client.wait_for(lambda c: c.bells >= 1)
    # a program asks for device attributes and the cursor position, and prints the answers
    probe = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    probe.write(
        "import os, tty\n"
        "tty.setraw(0)\n"
        "os.write(1, b'\\x1b[c\\x1b[6n')\n"
        "r = b''\n"
        "while r.count(b'\\x1b') < 2 or not r.endswith(b'R'):\n"
        "    r += os.read(0, 64)\n"
        "tty.setcbreak(0)\n"
        "print('GOT=' + r.hex())\n"
    )
    probe.close()
    vncterm_shell.write_console(f"{sys.executable} {probe.name}\r".encode())
    lines = vncterm_shell.wait_text("GOT=")
    got = bytes.fromhex(next(ln for ln in lines if ln.startswith("GOT=")).split("=")[1].strip())
    os.unlink(probe.name)
    da = b"\x1b[?64;1;6;21;22;28c"
    assert got.startswith(da)  # DA: a VT420 with 132 columns, DECSCA, SL/SR, colour, rectangles
    row, col = got[len(da + b"\x1b[") : -1].split(b";")
    assert int(col) == 1 and 1 <= int(row) <= 25  # CPR: raw mode put the cursor at column 1
    client.close()


def test_wrong_password_gets_the_reason_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with (
        RunningVncterm(["/bin/sh"], password=b"s3cret") as server,
        caplog.at_level(logging.INFO, logger="vncterm"),
    ):
        with pytest.raises(PermissionError, match="Authentication failed"):
            RawClient("127.0.0.1", server.port, password=b"wrong")
        ok = RawClient("127.0.0.1", server.port, password=b"s3cret")
        ok.update(incremental=False)
        ok.close()
    assert any("authentication failed" in r.getMessage() for r in caplog.records)


def test_ipv6_and_unix_listeners() -> None:
    path = os.path.join(tempfile.mkdtemp(), "vncterm.sock")
    listen = [ListenAddress("::1", 0), ListenAddress(path=path)]
    with RunningVncterm(["/bin/sh"], listen=listen) as server:
        c6 = RawClient("::1", server.port)
        cu = RawClient(path, family=socket.AF_UNIX)
        for c in (c6, cu):
            c.update(incremental=False)
            assert c.fb.shape == (server.framebuffer().shape)
            c.close()


@pytest.mark.parametrize(
    ("policy", "dropped"), [("force-shared", False), ("allow-exclusive", True)]
)
def test_share_policy(policy: str, dropped: bool) -> None:
    with RunningVncterm(["/bin/sh"], share_policy=policy) as server:
        first = RawClient("127.0.0.1", server.port)
        first.update(incremental=False)
        second = RawClient("127.0.0.1", server.port, shared=False)
        second.update(incremental=False)
        assert first.is_closed_by_server(timeout=1.0) is dropped
        first.close()
        second.close()


def test_final_update_then_exit_status() -> None:
    command = ["/bin/sh", "-c", "read x; echo bye-$x; exit 3"]
    with RunningVncterm(command) as server:
        client = RawClient("127.0.0.1", server.port)
        client.update(incremental=False)
        client.request()
        server.write_console(b"now\r")
        # a viewer keeps asking for updates until the server closes the connection
        while True:
            try:
                client.read_message()
                client.request()
            except (ConnectionError, OSError):
                break
        assert server.exit_status.result(timeout=10) == 3
        assert server.server is not None
        final = server.server.renderer.pixels
        assert "bye-now" in "\n".join(server.server.emulator.text())
        assert (client.fb == final).all()


def test_cli_exit_status_and_refusals(tmp_path: object) -> None:
    env = dict(os.environ)
    base = [sys.executable, "-m", "vncterm", "--listen", "127.0.0.1:0"]
    t0 = time.monotonic()
    done = subprocess.run(
        base + ["--", "sh", "-c", "exit 7"], env=env, capture_output=True, timeout=30
    )
    assert done.returncode == 7, done.stderr
    assert time.monotonic() - t0 < 20
    refused = subprocess.run(
        [sys.executable, "-m", "vncterm", "--listen", "0.0.0.0:0", "--", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2
    assert "without --password-file" in refused.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "vncterm", "--geometry", "80by25"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "COLSxROWS" in bad.stderr


def test_killed_command_reports_128_plus_signal() -> None:
    with RunningVncterm(["/bin/sh", "-c", "kill -TERM $$"]) as server:
        assert server.exit_status.result(timeout=10) == 128 + 15


def test_many_viewers_get_the_same_pixels(vncterm_shell: RunningVncterm) -> None:
    clients = [RawClient("127.0.0.1", vncterm_shell.port) for _ in range(5)]
    vncterm_shell.write_console(b"printf '\\033[1;31mred\\033[0m \\033[42mgreen\\033[0m\\n'\r")
    vncterm_shell.wait_text("red green")
    expected = vncterm_shell.framebuffer()
    for c in clients:
        c.wait_for(lambda cl: bool((cl.fb == expected).all()))
    assert len(np.unique(expected)) >= 4
    for c in clients:
        c.close()


def test_cp437_console() -> None:
    with RunningVncterm(
        ["/bin/sh", "-c", "printf '\\311\\315\\273 \\202t\\202'; sleep 10"], charset="cp437"
    ) as server:
        server.wait_text("╔═╗ été")
