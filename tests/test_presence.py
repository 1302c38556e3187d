"""Who else is here: two noVNC viewers (Node) on one shell, under ``--input shared`` and
``--input one``."""

from __future__ import annotations

import time

import pytest
from conftest import SHELL
from harness import RunningVncterm
from peers.novnc_client import NoVncClient

pytestmark = pytest.mark.peer

CTRL, SHIFT = 0xFFE3, 0xFFE1


def status_says(vt: RunningVncterm, needle: str, timeout: float = 10.0) -> str:
    assert vt.server is not None
    status = vt.server.session.status
    deadline = time.monotonic() + timeout
    while needle not in (text := vt.call(status.text) or ""):
        assert time.monotonic() < deadline, f"status row {text!r} never said {needle!r}"
        time.sleep(0.05)
    return text


def viewer_names(vt: RunningVncterm) -> list[str]:
    assert vt.server is not None
    session = vt.server.session
    return vt.call(lambda: [str(v).removeprefix("viewer ") for v in session.viewers])


def test_input_one_holds_the_keyboard_and_ctrl_shift_l_takes_it() -> None:
    with (
        RunningVncterm(SHELL, input_policy="one", input_idle=60.0) as vt,
        NoVncClient() as a,
        NoVncClient() as b,
    ):
        vt.wait_text("$")
        a.connect("127.0.0.1", vt.port, quality=None)
        b.connect("127.0.0.1", vt.port, quality=None)
        status_says(vt, "2 viewers connected")
        name_a, name_b = viewer_names(vt)
        a.type("echo from-a-$((1+1))\n")
        vt.wait_text("from-a-2")
        b.type("echo from-b-$((2+2))\n")  # A holds the keyboard: none of it is typed
        assert f"keyboard held by {name_a}" in status_says(vt, "keyboard held by")
        a.type("echo again-a-$((3+3))\n")
        lines = vt.wait_text("again-a-6")
        assert not any("from-b" in line for line in lines), lines
        b.key(CTRL, down=True)
        b.key(SHIFT, down=True)
        b.key(ord("L"))
        b.key(SHIFT, down=False)
        b.key(CTRL, down=False)
        status_says(vt, f"{name_b} has the keyboard")
        b.type("echo now-b-$((4+4))\n")
        vt.wait_text("now-b-8")
        b.type("seq 1 60\n")  # some scrollback for A's wheel below
        vt.wait_text("60")
        a.type("echo late-a\n")
        status_says(vt, f"keyboard held by {name_b}")
        a.pointer(10, 10, mask=8)  # A's wheel does not scroll the shared view either
        a.pointer(10, 10, mask=0)
        time.sleep(0.3)
        assert vt.call(lambda: vt.server.session.terminal.view.offset) == 0  # type: ignore[union-attr]
        b.type("echo end-b-$((5+5))\n")
        lines = vt.wait_text("end-b-10")
        assert not any("late-a" in line for line in lines), lines


def test_input_shared_names_two_typists_and_the_viewer_count() -> None:
    with RunningVncterm(SHELL, input_idle=60.0) as vt, NoVncClient() as a, NoVncClient() as b:
        vt.wait_text("$")
        a.connect("127.0.0.1", vt.port, quality=None)
        b.connect("127.0.0.1", vt.port, quality=None)
        name_a, name_b = viewer_names(vt)
        a.type("echo x")
        b.type("y")
        text = status_says(vt, "typing at once")
        assert f"{name_b} and {name_a} are typing at once" in text
        assert f"2 viewers; {name_b} typing" in text
        b.type("\n")
        vt.wait_text("xy")
