"""The terminal layer's shape: the server reaches the model only through the Emulator facade
(whose methods for what the server needs are checked here too). Import cycles anywhere in
vncterm/ are test_layers.py's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from vncterm.terminal import sequences
from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "vncterm"


def test_the_server_does_not_reach_into_the_emulator() -> None:
    """No ``<...>.emulator.screen`` / ``.parser`` in server code: it asks the facade."""
    reached = []
    for path in sorted((PACKAGE / "server").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("screen", "parser")
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "emulator"
            ):
                reached.append(f"{path.name}:{node.lineno}")
    assert reached == []


def test_facade_resize_damage_and_modes() -> None:
    emu = Emulator(20, 5)
    emu.feed(b"\x1b[?2004h\x1b[?1000h\x1b[?1006h")
    assert emu.bracketed_paste
    assert {1000, 1006, 2004} <= emu.private_modes()
    emu.feed(b"\x1b[?2004l")
    assert not emu.bracketed_paste and 2004 not in emu.private_modes()
    emu.resize(30, 8)
    assert (emu.cols, emu.rows) == (30, 8)
    emu.screen.dirty.clear()
    emu.damage_all()
    assert emu.screen.dirty == set(range(8))


def test_a_new_sequence_is_one_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """CSI (by marker + intermediates + final), ESC and OSC reach a handler added to a table."""
    seen: list[object] = []
    monkeypatch.setitem(sequences.CSI, "?$p", lambda s, a, p: seen.append(("csi", a)))
    monkeypatch.setitem(sequences.ESC, "#3", lambda s: seen.append("esc"))
    monkeypatch.setitem(sequences.OSC, "7", lambda s, text, term: seen.append(("osc", text)))
    emu = Emulator(10, 3)
    emu.feed(b"\x1b[?2004;1$p\x1b#3\x1b]7;file://host/tmp\x07")
    assert seen == [("csi", [2004, 1]), "esc", ("osc", "file://host/tmp")]
    assert emu.text() == [" " * 10] * 3  # nothing drawn
