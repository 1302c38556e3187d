"""Shared fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RunningVncterm

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


@pytest.fixture
def vncterm_shell() -> Iterator[RunningVncterm]:
    """A vncterm running an interactive /bin/sh with the prompt '$ '."""
    with RunningVncterm(SHELL, name="test shell") as server:
        server.wait_text("$")
        yield server


#: Typed through real viewers by the keyboard tests: each character has a legacy X11 keysym
#: (keysymdef.h) that noVNC and X11 viewers send rather than the Unicode form.
NON_LATIN1 = "€ Жук αβ ł"
#: Their legacy keysyms: EuroSign, Cyrillic_ZHE, Cyrillic_u, Cyrillic_ka, Greek_alpha,
#: Greek_beta, lstroke.
NON_LATIN1_KEYSYMS = {0x20AC, 0x6F6, 0x6D5, 0x6CB, 0x7E1, 0x7E2, 0x1B3}


@pytest.fixture
def keysyms_pressed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every keysym pressed by the viewers of an in-process vncterm, in order (observed on
    its way into the keymap, not changed)."""
    from vncterm.terminal.keymap import KeyState

    pressed: list[int] = []
    key = KeyState.key

    def recording(self: KeyState, keysym: int, down: bool, *args: bool, **kw: bool) -> bytes:
        if down:
            pressed.append(keysym)
        return key(self, keysym, down, *args, **kw)

    monkeypatch.setattr(KeyState, "key", recording)
    return pressed
