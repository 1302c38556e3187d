"""Input only by a deliberate act: a viewer's clipboard is kept for that viewer and typed only on
its own paste action (Shift+Insert, Ctrl+Shift+V, middle click), never on arrival and never by
another viewer; pastes and stream writes are audited without their text; selections reach other
viewers coalesced; view-only viewers neither set nor receive a clipboard; a keysym that is no
character is ignored. Byte-level, with the raw client (TigerVNC and noVNC show the same rules in
test_viewers_desktop.py and test_interaction.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import struct
import time
import zlib
from pathlib import Path

import pytest
from conftest import SHELL
from harness import RunningVncterm
from rawclient import RawClient

from vncterm.client import StreamClient
from vncterm.rfb import clipboard
from vncterm.server import reserved_keys, viewer_clipboard
from vncterm.server.viewer_clipboard import OFFER_INTERVAL

pytestmark = pytest.mark.peer

SHIFT, CTRL, INSERT, RETURN = 0xFFE1, 0xFFE3, 0xFF63, 0xFF0D
EXTENDED_CLIPBOARD = -1063131698  # 0xc0a1e5ce as the signed S32 of SetEncodings
SECRET = "echo SECRET-$((40+2))\n"  # its output, SECRET-42, shows that it was run


def key(client: RawClient, keysym: int, down: bool) -> None:
    client.sock.sendall(struct.pack(">BBxxI", 4, int(down), keysym))


def chord(client: RawClient, *keysyms: int) -> None:
    """Press the keys in order, release them in reverse."""
    for k in keysyms:
        key(client, k, True)
    for k in reversed(keysyms):
        key(client, k, False)


def type_text(client: RawClient, text: str) -> None:
    for ch in text:
        chord(client, RETURN if ch in "\r\n" else ord(ch))


def cut_text(client: RawClient, text: str) -> None:
    data = text.encode("latin-1")
    client.sock.sendall(struct.pack(">BxxxI", 6, len(data)) + data)


def extended(client: RawClient, payload: bytes) -> None:
    """An Extended Clipboard message (ClientCutText with a negative length)."""
    client.sock.sendall(struct.pack(">Bxxxi", 6, -len(payload)) + payload)


def middle_click(client: RawClient, x: int = 10, y: int = 10) -> None:
    client.sock.sendall(struct.pack(">BBHH", 5, 2, x, y) + struct.pack(">BBHH", 5, 0, x, y))


def label(server: RunningVncterm, client: RawClient) -> str:
    """The server's name for ``client`` (as in logs and the audit log)."""
    port = client.sock.getsockname()[1]
    assert server.server is not None
    session = server.server.session
    names = server.call(lambda: [str(v) for v in session.viewers])
    return next(n for n in names if n.endswith(f":{port}"))


def synced(server: RunningVncterm, client: RawClient, mark: str) -> list[str]:
    """Type a marker command from ``client`` and wait for its output: everything ``client``
    sent before has been handled. The screen lines."""
    type_text(client, f"echo {mark}-$((1+1))\n")
    return server.wait_text(f"{mark}-2")


def shown(lines: list[str], needle: str) -> bool:
    return any(needle in line for line in lines)


def test_cut_text_waits_for_that_viewers_own_paste(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with RunningVncterm(SHELL, audit_log=str(audit)) as server:
        server.wait_text("$")
        a = RawClient("127.0.0.1", server.port)
        b = RawClient("127.0.0.1", server.port)
        cut_text(a, SECRET)  # what TigerVNC sends when its window gets focus
        a.update(incremental=False)  # answered once the cut text has been handled
        # B's every paste action: none types A's clipboard
        chord(b, SHIFT, INSERT)
        chord(b, CTRL, SHIFT, ord("V"))
        middle_click(b)
        lines = synced(server, b, "B")
        # nor did its arrival type it
        lines = synced(server, a, "A")
        assert not shown(lines, "SECRET"), lines
        # A's own paste does: Shift+Insert, then Ctrl+Shift+V, then the middle button
        a_name = label(server, a)
        chord(a, SHIFT, INSERT)
        server.wait_text("SECRET-42")
        for n, paste in enumerate(
            (lambda: chord(a, CTRL, SHIFT, ord("v")), lambda: middle_click(a))
        ):
            type_text(a, "clear\n")
            assert not shown(synced(server, a, f"CLEARED{n}"), "SECRET-42")
            paste()
            server.wait_text("SECRET-42")
        a.close()
        b.close()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    pastes = [r for r in records if r["event"] == "paste"]
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    assert [(r["viewer"], r["bytes"], r["sha256"]) for r in pastes] == [
        (a_name, len(SECRET), digest)
    ] * 3
    assert "SECRET" not in audit.read_text()


def test_middle_click_is_the_programs_under_mouse_reporting_shift_middle_pastes() -> None:
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        client = RawClient("127.0.0.1", server.port)
        cut_text(client, SECRET)
        type_text(client, "printf '\\033[?1000h'\n")  # X10 mouse reports on, for the shell
        synced(server, client, "ON")
        middle_click(client)  # a report for the program (typed, then erased with ^U)
        chord(client, CTRL, ord("u"))
        assert not shown(synced(server, client, "REPORTED"), "SECRET")
        key(client, SHIFT, True)
        middle_click(client)
        key(client, SHIFT, False)
        server.wait_text("SECRET-42")
        client.close()


def test_extended_clipboard_provide_is_kept_until_a_paste() -> None:
    text = "echo ÜNÏ-$((6*7)) 中\n"
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        client = RawClient("127.0.0.1", server.port)
        client.sock.sendall(struct.pack(">BxH2i", 2, 2, 0, EXTENDED_CLIPBOARD))
        # the viewer announces text; vncterm asks for it at once (to have it for a paste)
        extended(client, clipboard.notify(clipboard.TEXT))
        deadline = time.monotonic() + 10
        while not any(
            clipboard.parse(m, 1 << 20).action == clipboard.REQUEST
            for m in client.extended_clipboard
        ):
            assert time.monotonic() < deadline, client.extended_clipboard
            client.update()
        body = text.replace("\n", "\r\n").encode() + b"\0"
        extended(
            client,
            struct.pack(">I", clipboard.PROVIDE | clipboard.TEXT)
            + zlib.compress(struct.pack(">I", len(body)) + body),
        )
        client.update(incremental=False)
        assert not shown(synced(server, client, "M"), "ÜNÏ-42")
        chord(client, SHIFT, INSERT)
        server.wait_text("ÜNÏ-42 中")
        client.close()


def test_a_paste_before_the_provide_arrives_is_typed_when_it_does() -> None:
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        client = RawClient("127.0.0.1", server.port)
        client.sock.sendall(struct.pack(">BxH2i", 2, 2, 0, EXTENDED_CLIPBOARD))
        extended(client, clipboard.notify(clipboard.TEXT))
        chord(client, SHIFT, INSERT)  # before the text came
        synced(server, client, "EARLY")
        body = b"echo LATE-$((2*3))\r\n\0"
        extended(
            client,
            struct.pack(">I", clipboard.PROVIDE | clipboard.TEXT)
            + zlib.compress(struct.pack(">I", len(body)) + body),
        )
        server.wait_text("LATE-6")
        client.close()


def provide(client: RawClient, text: str) -> None:
    body = text.replace("\n", "\r\n").encode() + b"\0"
    extended(
        client,
        struct.pack(">I", clipboard.PROVIDE | clipboard.TEXT)
        + zlib.compress(struct.pack(">I", len(body)) + body),
    )


def test_a_late_or_superseded_provide_is_kept_not_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        client = RawClient("127.0.0.1", server.port)
        client.sock.sendall(struct.pack(">BxH2i", 2, 2, 0, EXTENDED_CLIPBOARD))
        # a paste, then a new announcement: the paste was of the older text
        extended(client, clipboard.notify(clipboard.TEXT))
        chord(client, SHIFT, INSERT)
        extended(client, clipboard.notify(clipboard.TEXT))
        provide(client, "echo NEWER-$((2*3))\n")
        client.update(incremental=False)
        # a provide that comes after the paste has stopped waiting for it
        monkeypatch.setattr(viewer_clipboard, "PASTE_WAIT", -1.0)
        extended(client, clipboard.notify(clipboard.TEXT))
        chord(client, SHIFT, INSERT)
        provide(client, "echo LATER-$((2*4))\n")
        client.update(incremental=False)
        lines = synced(server, client, "KEPT")
        assert not shown(lines, "NEWER-6") and not shown(lines, "LATER-8"), lines
        chord(client, SHIFT, INSERT)  # kept: the next paste types the newest
        server.wait_text("LATER-8")
        client.close()


def test_view_only_viewer_neither_pastes_nor_receives_the_clipboard(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    with RunningVncterm(SHELL, password=b"full", view_only_password=b"look") as server:
        server.wait_text("$")
        watcher = RawClient("127.0.0.1", server.port, password=b"look")
        full = RawClient("127.0.0.1", server.port, password=b"full")
        for _ in range(3):
            cut_text(watcher, SECRET)
        chord(watcher, SHIFT, INSERT)
        middle_click(watcher)
        watcher.update(incremental=False)  # everything above has been handled
        lines = synced(server, full, "F")
        assert not shown(lines, "SECRET"), lines
        ignored = [r for r in caplog.records if "its clipboard is ignored" in r.getMessage()]
        assert len(ignored) == 1, [r.getMessage() for r in ignored]
        # the program's OSC 52 reaches the viewer with control, not the view-only one
        payload = base64.b64encode(b"copied by the program").decode()
        server.write_console(f"printf '\\033]52;c;{payload}\\a'\r".encode())
        while not full.cut_text:
            full.read_message()
        assert full.cut_text == [b"copied by the program"]
        watcher.update()
        watcher.update(incremental=False)
        assert watcher.cut_text == []
        watcher.close()
        full.close()


def test_surrogate_keysyms_are_ignored_and_the_viewer_stays() -> None:
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        client = RawClient("127.0.0.1", server.port)
        client.sock.sendall(struct.pack(">BxH2i", 2, 2, 0, -258))  # QEMU key events too
        client.update()
        type_text(client, "echo x")
        chord(client, 0x0100D800)
        chord(client, 0x0100DFFF)
        for down in (1, 0):  # a QEMU extended key event carrying a lone surrogate
            client.sock.sendall(struct.pack(">BBHII", 255, 0, down, 0x0100DBFF, 0x1E))
        type_text(client, "y\n")
        server.wait_text("xy")
        assert not client.is_closed_by_server(timeout=0.5)
        client.sock.settimeout(5)
        client.update()
        client.close()


def test_selection_flood_reaches_another_viewer_coalesced() -> None:
    # 12000 characters wrapped over a 200x60 screen: a whole-screen selection is 12 KB
    program = "yes abcdefghij | head -n 1200 | tr -d '\\n'; sleep 60"
    with RunningVncterm(["/bin/sh", "-c", program], cols=200, rows=60) as server:
        server.wait_text("abcdefghij")
        assert server.server is not None
        r = server.server.renderer
        right, bottom = 200 * r.cell_w - 1, 60 * r.cell_h - 1
        selector = RawClient("127.0.0.1", server.port)
        other = RawClient("127.0.0.1", server.port)
        other.update(incremental=False)
        flood = 80
        start = time.monotonic()
        for i in range(flood):  # whole-screen selections, each a little different
            x0 = (i % 2) * r.cell_w
            selector.sock.sendall(
                struct.pack(">BBHH", 5, 1, x0, 0)
                + struct.pack(">BBHH", 5, 1, right, bottom)
                + struct.pack(">BBHH", 5, 0, right, bottom)
            )
        session = server.server.session
        selector.update(incremental=False)  # answered after every selection was made
        last = server.call(lambda: session.clipboard)
        assert last is not None and len(last) > 11000
        # the other viewer keeps being served, and ends up with the newest selection
        other.request(incremental=False)
        updates = 0
        deadline = time.monotonic() + 20
        while not updates or not other.cut_text or other.cut_text[-1] != last.encode():
            assert time.monotonic() < deadline, [len(t) for t in other.cut_text]
            if other.read_message() == 0:
                updates += 1
                other.request()
        elapsed = time.monotonic() - start
        received = sum(len(t) for t in other.cut_text)
        # at most one text per OFFER_INTERVAL, not one per selection
        assert len(other.cut_text) <= 2 + elapsed / OFFER_INTERVAL < flood, (
            len(other.cut_text),
            elapsed,
        )
        print(
            f"{flood} selections of {len(last)} bytes in {elapsed:.2f} s: the other viewer "
            f"got {len(other.cut_text)} texts, {received} bytes"
        )
        selector.close()
        other.close()


def test_stream_writes_are_audited_per_capture(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    first, second = b"echo $((6*7))\r", b"echo $((7*8))\r"
    with RunningVncterm(SHELL, audit_log=str(audit)) as server:
        server.wait_text("$")

        async def go() -> None:
            client = await StreamClient.connect("127.0.0.1", server.port)
            capture = await client.open("console")
            capture.write(first)
            capture.write(first)
            await capture.drain()
            capture.close()  # ended by the viewer
            server.wait_text("42")
            again = await client.open("console")
            again.write(second)
            await again.drain()
            server.wait_text("56")
            await client.close()  # the viewer leaves with the capture open

        asyncio.run(go())
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    ends = [r for r in records if r["event"] == "stream_end"]
    assert [(r["bytes_in"], r["sha256_in"], r.get("reason")) for r in ends] == [
        (2 * len(first), hashlib.sha256(first * 2).hexdigest(), None),
        (len(second), hashlib.sha256(second).hexdigest(), "viewer disconnected"),
    ]
    assert "echo" not in audit.read_text()


def test_readme_lists_every_reserved_key() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("### Reserved keys", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| \*\*(.+?)\*\* \|", section, re.M)
    assert rows == [k.name for k in reserved_keys.RESERVED]
