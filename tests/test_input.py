"""Input routing (``server/input.py``): reserved keys, view-only refusal, the Break swallow, paste
only on a paste key, and desktop forwarding, checked as the bytes the console or the desktop
gets (the desktop's side is a real ``DesktopClient`` talking to a real ``ServerConnection``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from vncterm.desktop.client import DesktopClient
from vncterm.desktop.connection import DesktopConnection
from vncterm.render.font import CellFont
from vncterm.render.renderer import TerminalRenderer
from vncterm.rfb import events
from vncterm.rfb.connection import ServerConnection
from vncterm.server.desktop import DesktopSource
from vncterm.server.input import ViewerInput
from vncterm.server.presence import Presence
from vncterm.server.reserved_keys import Action
from vncterm.server.sources import FramebufferSource, TerminalSource
from vncterm.server.status import StatusRow
from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit

SHIFT, CTRL, ALT = 0xFFE1, 0xFFE3, 0xFFE9
INSERT, PAGE_UP, BREAK, UP = 0xFF63, 0xFF55, 0xFF6B, 0xFF52
KEY_1, KEY_2, KEY_A, KEY_V = 0x31, 0x32, 0x61, 0x56


class Terminal:
    """A real terminal source whose console is a list of writes."""

    def __init__(self, break_works: bool = False) -> None:
        self.written: list[bytes] = []
        self.breaks = 0
        self.break_works = break_works
        self.emulator = Emulator(20, 5)
        self.source = TerminalSource(
            self.emulator,
            TerminalRenderer(CellFont(15), 20, 5),
            "term",
            write=self.write,
            selected=lambda text: None,
            changed=lambda: None,
            send_break=self.send_break,
        )

    def write(self, data: bytes) -> None:
        if data:
            self.written.append(data)

    def send_break(self, who: object) -> bool:
        self.breaks += 1
        return self.break_works

    def typed(self) -> bytes:
        data, self.written = b"".join(self.written), []
        return data


class Writer:
    """The desktop connection's stream writer: what vncterm sends the desktop."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False


class Desktop:
    """A DesktopSource over a real DesktopClient, handshaken with a real ServerConnection that
    stands for the desktop's VNC server."""

    def __init__(self) -> None:
        self.server = ServerConnection()
        client = DesktopClient()
        for _ in range(10):
            evs = self.server.receive_data(client.data_to_send())
            if any(isinstance(e, events.ClientInit) for e in evs):
                break
            client.receive_data(self.server.data_to_send())
        self.server.send_server_init(64, 32, "desk")
        client.receive_data(self.server.data_to_send())
        self.writer = Writer()
        conn = DesktopConnection(cast(Any, None), cast(Any, self.writer), client)
        self.source = DesktopSource(conn)
        self.server.receive_data(client.data_to_send())  # SetEncodings, first request

    def received(self) -> list[events.Event]:
        data, self.writer.data = bytes(self.writer.data), bytearray()
        return [
            e
            for e in self.server.receive_data(data)
            if not isinstance(e, events.FramebufferUpdateRequest)
        ]


class Owner:
    """The viewer as its input sees it."""

    def __init__(self, source: FramebufferSource, control: bool = True) -> None:
        self.source = source
        self.control = control
        self.audit: dict[str, int] = {}
        self.shown: list[Action] = []
        self.pastes = 0
        self.session = SimpleNamespace(
            presence=Presence(StatusRow()), viewers=[self], search=SimpleNamespace(active=False)
        )
        self.input = ViewerInput(self, self.paste)

    def may_control(self) -> bool:
        return self.control

    def audit_input(self, **counts: int) -> None:
        for k, v in counts.items():
            self.audit[k] = self.audit.get(k, 0) + v

    def show(self, action: Action) -> None:
        self.shown.append(action)

    def paste(self) -> None:
        self.pastes += 1

    def tap(self, *keysyms: int) -> None:
        """Press the keys in order, release them in reverse."""
        for k in keysyms:
            self.input.key(k, True)
        for k in reversed(keysyms):
            self.input.key(k, False)


def test_keys_are_typed_as_the_program_wants_them() -> None:
    term = Terminal()
    owner = Owner(term.source)
    owner.tap(KEY_A)
    owner.tap(UP)
    assert term.typed() == b"a\x1b[A"
    term.emulator.feed(b"\x1b[?1h")  # application cursor keys
    owner.tap(UP)
    assert term.typed() == b"\x1bOA"
    assert owner.audit == {"keys": 3}


def test_switch_keys_work_on_both_sources_and_reach_neither() -> None:
    term, desk = Terminal(), Desktop()
    owner = Owner(term.source)
    owner.tap(CTRL, ALT, KEY_2)
    assert owner.shown == [Action.SHOW_DESKTOP]
    assert term.typed() == b""  # Ctrl and Alt alone type nothing; the 2 is not typed
    owner.source = desk.source
    owner.tap(CTRL, ALT, KEY_1)
    assert owner.shown == [Action.SHOW_DESKTOP, Action.SHOW_CONSOLE]
    keys = [(e.keysym, e.down) for e in desk.received() if isinstance(e, events.KeyEvent)]
    assert keys == [(CTRL, True), (ALT, True), (ALT, False), (CTRL, False)]  # not the 1


def test_console_keys_scroll_and_paste_only_on_the_console() -> None:
    term = Terminal()
    term.emulator.feed(b"".join(b"line %d\r\n" % i for i in range(30)))
    owner = Owner(term.source)
    owner.tap(SHIFT, PAGE_UP)
    assert term.source.view.offset == 4  # a screen (rows - 1) back
    assert term.typed() == b""
    owner.tap(INSERT)  # Insert alone is a key like any other
    assert term.typed() == b"\x1b[2~" and owner.pastes == 0
    owner.tap(SHIFT, INSERT)
    owner.tap(CTRL, SHIFT, KEY_V)
    assert owner.pastes == 2 and term.typed() == b""
    desk = Desktop()
    owner.source = desk.source
    owner.tap(SHIFT, INSERT)  # the desktop's own paste key: forwarded
    assert owner.pastes == 2
    keys = [(e.keysym, e.down) for e in desk.received() if isinstance(e, events.KeyEvent)]
    assert keys == [(SHIFT, True), (INSERT, True), (INSERT, False), (SHIFT, False)]


@pytest.mark.parametrize("on_desktop", [False, True])
def test_a_view_only_viewer_reaches_nothing(on_desktop: bool) -> None:
    term, desk = Terminal(), Desktop()
    owner = Owner(desk.source if on_desktop else term.source, control=False)
    owner.tap(KEY_A)
    owner.tap(SHIFT, INSERT)
    owner.input.pointer(1, 5, 5)
    owner.input.pointer(0, 5, 5)
    assert term.typed() == b"" and desk.received() == [] and owner.pastes == 0
    assert "keys" not in owner.audit and "pointer" not in owner.audit
    if not on_desktop:
        assert owner.audit["refused"] == 4  # three key presses, one button press
    else:
        owner.tap(CTRL, ALT, KEY_1)  # switching is allowed: it changes nothing
        assert owner.shown == [Action.SHOW_CONSOLE]


def test_the_key_after_an_unsent_break_is_swallowed_once() -> None:
    term = Terminal(break_works=False)
    owner = Owner(term.source)
    owner.tap(BREAK)
    owner.tap(KEY_A)  # SysRq's command key: not typed into the shell
    owner.tap(KEY_A)
    assert term.breaks == 1 and term.typed() == b"a"
    sent = Terminal(break_works=True)
    owner = Owner(sent.source)
    owner.tap(BREAK)
    owner.tap(KEY_A)
    assert sent.breaks == 1 and sent.typed() == b"a"


def test_desktop_input_is_forwarded_as_rfb_messages() -> None:
    desk = Desktop()
    owner = Owner(desk.source)
    owner.tap(KEY_A)
    owner.input.pointer(4, 10, 20)
    desk.source.paste("clip")
    assert desk.received() == [
        events.KeyEvent(True, KEY_A),
        events.KeyEvent(False, KEY_A),
        events.PointerEvent(4, 10, 20),
        events.ClientCutText("clip"),
    ]
    assert owner.audit == {"keys": 1, "pointer": 1}
    desk.source.release_keys()  # a viewer switching away lets go of Ctrl, Alt and Meta
    released = desk.received()
    assert {e.keysym for e in released if isinstance(e, events.KeyEvent)} >= {CTRL, ALT}
    assert all(isinstance(e, events.KeyEvent) and not e.down for e in released)


def test_terminal_pointer_and_paste() -> None:
    term = Terminal()
    owner = Owner(term.source)
    owner.input.pointer(2, 0, 0)  # middle button: this viewer's own paste
    owner.input.pointer(0, 0, 0)
    assert owner.pastes == 1 and term.typed() == b""
    term.emulator.feed(b"\x1b[?1000h")  # the program asks for mouse reports
    owner.input.pointer(1, 0, 0)
    assert term.typed() == b"\x1b[M !!"
    term.source.paste("a\nb")
    assert term.typed() == b"a\rb"
    term.emulator.feed(b"\x1b[?2004h")
    term.source.paste("x\x1b[201~y")
    assert term.typed() == b"\x1b[200~xy\x1b[201~"
