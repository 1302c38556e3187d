"""Clipboard, resize, desktop name and QEMU key events, judged by noVNC (a viewer nobody here
wrote) and by the shell inside vncterm."""

from __future__ import annotations

import struct
import time

import pytest
from harness import RunningVncterm
from peers.common import wait_until_equal
from peers.novnc_client import NoVncClient
from rawclient import RawClient

from vncterm.rfb import clipboard
from vncterm.terminal.colours import DEFAULT_BG

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def test_utf8_paste_through_the_extended_clipboard() -> None:
    with RunningVncterm(SHELL) as server, NoVncClient() as viewer:
        server.wait_text("$")
        viewer.connect("127.0.0.1", server.port, quality=None)
        viewer.type("echo ")
        viewer.paste("naïve €uro 中文")  # Notify, our Request, its Provide: kept, not typed
        assert server.server is not None
        session = server.server.session
        deadline = time.monotonic() + 10
        while server.call(lambda: [v.clipboard.text for v in session.viewers]) != [
            "naïve €uro 中文"
        ]:
            assert time.monotonic() < deadline, "vncterm never got the viewer's clipboard"
            time.sleep(0.02)
        assert not any("naïve" in line for line in server.text())
        viewer.key(0xFFE1, True)  # Shift+Insert: this viewer's paste action
        viewer.key(0xFF63)
        viewer.key(0xFFE1, False)
        server.wait_text("$ echo naïve €uro 中文", timeout=10)
        viewer.type("\n")
        # printed by echo: on a line of its own as well as in the command line
        deadline = time.monotonic() + 10
        while not any(line.startswith("naïve €uro 中文") for line in server.text()):
            assert time.monotonic() < deadline, server.text()
        assert wait_until_equal(viewer, server.framebuffer, timeout=10)


def test_clipboard_offered_to_viewers_is_utf8_for_extended_and_latin1_for_others() -> None:
    with RunningVncterm(SHELL) as server, NoVncClient() as viewer:
        viewer.connect("127.0.0.1", server.port, quality=None)
        legacy = RawClient("127.0.0.1", server.port)
        legacy.update(incremental=False)
        assert server.server is not None
        session = server.server.session
        server.call(lambda: session.set_clipboard("grüße 中"))
        ev = viewer.wait_for("clipboard", 10)
        assert ev["text"] == "grüße 中"
        while not legacy.cut_text:
            legacy.read_message()
        assert legacy.cut_text == ["grüße ?".encode("latin-1")]


def test_bracketed_paste_when_the_program_asks() -> None:
    with RunningVncterm(["/bin/sh", "-c", "printf '\\033[?2004h'; od -c; sleep 10"]) as server:
        client = RawClient("127.0.0.1", server.port)
        client.sock.sendall(struct.pack(">BxxxI", 6, 3) + b"a\nb")
        for keysym, down in ((0xFFE1, 1), (0xFF63, 1), (0xFF63, 0), (0xFFE1, 0)):
            client.sock.sendall(struct.pack(">BBxxI", 4, down, keysym))  # Shift+Insert
        client.update(incremental=False)  # the paste has been typed
        server.write_console(b"\x04")
        lines = server.wait_text("201~", timeout=10)
        # the tty echoes ESC as ^[ and the pasted line break (a CR) ends the first line
        assert any(line.startswith("^[[200~a ") for line in lines), lines
        assert any(line.startswith("b^[[201~") for line in lines), lines
        client.close()


def test_set_desktop_size_resizes_the_pty_and_every_viewer() -> None:
    with RunningVncterm(SHELL) as server, NoVncClient() as a, NoVncClient() as b:
        server.wait_text("$")
        a.connect("127.0.0.1", server.port, quality=None)
        b.connect("127.0.0.1", server.port, quality=None)
        cw, ch = server.call(
            lambda: (
                server.server.renderer.cell_w,  # type: ignore[union-attr]
                server.server.renderer.cell_h,
            )
        )  # type: ignore[union-attr]
        width, height = 100 * cw + 3, 30 * ch + 5  # not whole cells: exactly this size
        a.set_desktop_size(width, height)
        a.wait_for("resize", 10, predicate=lambda e: e["width"] == width)
        b.wait_for("resize", 10, predicate=lambda e: e["height"] == height)
        a.type("stty size\n")
        server.wait_text("30 100")  # the whole cells that fit
        for viewer in (a, b):
            assert wait_until_equal(viewer, server.framebuffer, timeout=10)
            assert viewer.capture().shape == (height, width)
        fb = server.framebuffer()  # the margin: the terminal's default background
        assert (fb[:, 100 * cw :] == DEFAULT_BG).all() and (fb[30 * ch :, :] == DEFAULT_BG).all()


def test_resize_of_a_serial_console_is_prohibited_unless_allowed() -> None:
    from vncterm.config import ConsoleSpec

    spec = ConsoleSpec("unix", "/nonexistent/serial.sock")
    with RunningVncterm([], console=spec) as server:
        client = RawClient("127.0.0.1", server.port)
        client.sock.sendall(struct.pack(">BxH2i", 2, 2, 0, -308))
        client.sock.sendall(
            struct.pack(">BxHHBx", 251, 800, 600, 1) + struct.pack(">IHHHHI", 0, 0, 0, 800, 600, 0)
        )
        client.request()
        kind = client.recv_exact(1)[0]
        assert kind == 0
        client.recv_exact(3)
        x, y, _w, _h, enc = struct.unpack(">HHHHi", client.recv_exact(12))
        assert (x, y, enc) == (1, 1, -308)  # reason: this client; status: prohibited
        client.close()


def test_title_becomes_the_desktop_name_and_qemu_keys_type() -> None:
    with RunningVncterm(SHELL) as server, NoVncClient() as viewer:
        server.wait_text("$")
        viewer.connect("127.0.0.1", server.port, quality=None)
        assert -258 in viewer.sent_encodings()
        # noVNC switches to QEMU extended key events once the server confirms them
        viewer.type("echo qemu-keys-ok\n")
        server.wait_text("qemu-keys-ok")
        server.write_console(b"printf '\\033]2;my title\\007'\r")
        ev = viewer.wait_for("desktopname", 10, predicate=lambda e: e["name"] == "my title")
        assert ev["name"] == "my title"


def test_extended_clipboard_caps_are_announced() -> None:
    with RunningVncterm(SHELL) as server:
        client = RawClient("127.0.0.1", server.port)
        client.sock.sendall(struct.pack(">BxH2i", 2, 2, 0, -1063131698))
        kind = client.recv_exact(1)[0]
        assert kind == 3
        (length,) = struct.unpack(">xxxi", client.recv_exact(7))
        assert length < 0
        msg = clipboard.parse(client.recv_exact(-length), 1 << 20)
        assert msg.action == clipboard.CAPS and msg.formats == clipboard.TEXT
        client.close()


def test_mouse_reports_reach_the_program() -> None:
    # the program turns on button tracking with SGR reports, then shows what it reads
    script = "printf '\\033[?1000h\\033[?1006h'; stty raw -echo; od -An -c -N 18"
    with (
        RunningVncterm(["/bin/sh", "-c", script + "; sleep 10"]) as server,
        NoVncClient() as viewer,
    ):
        viewer.connect("127.0.0.1", server.port, quality=None)
        assert server.server is not None
        cw, ch = server.server.renderer.cell_w, server.server.renderer.cell_h
        viewer.pointer(5 * cw + 1, 2 * ch + 1, 1)  # press left at cell (5, 2)
        viewer.pointer(5 * cw + 1, 2 * ch + 1, 0)  # release
        lines = server.wait_text("m", timeout=10)
        text = "".join(lines).replace(" ", "")
        assert "033[<0;6;3M033[<0;6;3m" in text, lines


def _cell_xy(server: RunningVncterm, col: int, row: int) -> tuple[int, int]:
    assert server.server is not None
    r = server.server.renderer
    return col * r.cell_w + r.cell_w // 2, row * r.cell_h + r.cell_h // 2


def test_drag_double_and_triple_click_select_utf8_text() -> None:
    with (
        RunningVncterm(
            ["/bin/sh", "-c", "printf 'first line\\nhello wörld 中文 end\\n'; sleep 30"]
        ) as server,
        NoVncClient() as viewer,
    ):
        server.wait_text("end")
        viewer.connect("127.0.0.1", server.port, quality=None)
        x0, y = _cell_xy(server, 0, 1)
        x1, _ = _cell_xy(server, 13, 1)  # the second half of 中
        viewer.pointer(x0, y, 1)
        viewer.pointer(x1, y, 1)
        viewer.pointer(x1, y, 0)
        ev = viewer.wait_for("clipboard", 10)
        assert ev["text"] == "hello wörld 中"
        # the selection is highlighted identically for every viewer
        assert wait_until_equal(viewer, server.framebuffer, timeout=10)
        start = len(viewer.events)
        wx, _ = _cell_xy(server, 8, 1)  # inside "wörld"
        for _ in range(2):
            viewer.pointer(wx, y, 1)
            viewer.pointer(wx, y, 0)
        ev = viewer.wait_for("clipboard", 10, start=start)
        assert ev["text"] == "wörld"
        start = len(viewer.events)
        viewer.pointer(wx, y, 1)
        viewer.pointer(wx, y, 0)
        ev = viewer.wait_for("clipboard", 10, start=start)
        assert ev["text"] == "hello wörld 中文 end"
        start = len(viewer.events)
        # a drag over two lines copies them with a newline between
        xa, ya = _cell_xy(server, 6, 0)
        xb, yb = _cell_xy(server, 4, 1)
        viewer.pointer(xa, ya, 1)
        viewer.pointer(xb, yb, 1)
        viewer.pointer(xb, yb, 0)
        ev = viewer.wait_for("clipboard", 10, start=start)
        assert ev["text"] == "line\nhello"


def test_shift_page_up_shows_lines_that_scrolled_away() -> None:
    with RunningVncterm(SHELL) as server, NoVncClient() as viewer:
        server.wait_text("$")
        viewer.connect("127.0.0.1", server.port, quality=None)
        viewer.type("seq 1 100\n")
        server.wait_text("100")
        # and the prompt after it: output still arriving after Shift+PgUp would (rightly) keep
        # the view on the same lines, one further up
        deadline = time.monotonic() + 10
        while True:
            lines = [line.strip() for line in server.text()]
            if (
                "100" in lines
                and lines.index("100") + 1 < len(lines)
                and lines[lines.index("100") + 1] == "$"
            ):
                break
            assert time.monotonic() < deadline, f"no prompt after 100: {lines}"
        live = server.framebuffer()
        assert server.server is not None
        view = server.server.session.view
        viewer.key(0xFFE1, True)  # Shift+PgUp
        viewer.key(0xFF55, True)
        viewer.key(0xFF55, False)
        viewer.key(0xFFE1, False)
        deadline = time.monotonic() + 10
        while server.call(lambda: view.offset) != 24:
            assert time.monotonic() < deadline, "the view never moved"
        shown = server.call(
            lambda: [
                "".join(
                    c.data for c in view.line_cells(view.history_len() - view.offset + y).values()
                ).strip()
                for y in range(25)
            ]
        )
        assert "53" in shown and "76" in shown and "100" not in shown, shown
        back = server.framebuffer()
        assert not (back == live).all()
        assert wait_until_equal(viewer, server.framebuffer, timeout=10)
        # the wheel scrolls too, and typing returns to the live screen
        viewer.pointer(10, 10, 16)
        viewer.pointer(10, 10, 0)
        viewer.type("e")
        deadline = time.monotonic() + 10
        while server.call(lambda: view.offset) != 0:
            assert time.monotonic() < deadline, "typing did not return to live"
        assert wait_until_equal(viewer, server.framebuffer, timeout=10)


def test_osc_52_from_the_program_sets_the_viewers_clipboard() -> None:
    with RunningVncterm(SHELL) as server, NoVncClient() as viewer:
        server.wait_text("$")
        viewer.connect("127.0.0.1", server.port, quality=None)
        payload = __import__("base64").b64encode("copied by the program: ü 中".encode()).decode()
        server.write_console(f"printf '\\033]52;c;{payload}\\a'\r".encode())
        ev = viewer.wait_for("clipboard", 10)
        assert ev["text"] == "copied by the program: ü 中"
        # a query is never answered: programs may not read the viewers' clipboards
        server.write_console(b"printf '\\033]52;c;?\\a'; echo done-query\r")
        server.wait_text("done-query")
        assert server.call(lambda: server.server.session.emulator.take_replies()) == b""  # type: ignore[union-attr]


def test_scrollback_option_bounds_the_history() -> None:
    with RunningVncterm(["/bin/sh", "-c", "seq 1 500; sleep 10"], scrollback=100) as server:
        server.wait_text("500")
        assert server.server is not None
        emu = server.server.emulator
        history = server.call(lambda: [row.string() for row in emu.scrollback])
        assert len(history) == 100
        # the screen shows 477..500 and the cursor's empty row; the newest 100 above it are kept
        assert [h.strip() for h in history] == [str(n) for n in range(377, 477)]
