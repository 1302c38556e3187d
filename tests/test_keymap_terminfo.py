"""The key map against terminfo's xterm-256color (``infocmp -x``), in keypad-transmit mode (what
a program sees after ``smkx``: application cursor keys and application keypad)."""

from __future__ import annotations

import re
import subprocess

import pytest

from vncterm.terminal.keymap import KeyState

pytestmark = pytest.mark.peer

SHIFT, CTRL, ALT = 0xFFE1, 0xFFE3, 0xFFE9


def terminfo() -> dict[str, bytes]:
    out = subprocess.run(
        ["infocmp", "-x", "-1", "xterm-256color"], capture_output=True, text=True, check=True
    ).stdout
    caps: dict[str, bytes] = {}
    for line in out.splitlines():
        m = re.match(r"\s+(k\w+)=(.*),$", line)
        if m:
            value = m.group(2).replace("\\E", "\x1b").replace("^?", "\x7f")
            caps[m.group(1)] = value.encode()
    return caps


CAPS = terminfo()
F = [0xFFBE + i for i in range(12)]
# capability -> (keysym, modifiers)
KEYS: dict[str, tuple[int, tuple[int, ...]]] = {
    "kcuu1": (0xFF52, ()),
    "kcud1": (0xFF54, ()),
    "kcuf1": (0xFF53, ()),
    "kcub1": (0xFF51, ()),
    "khome": (0xFF50, ()),
    "kend": (0xFF57, ()),
    "kich1": (0xFF63, ()),
    "kdch1": (0xFFFF, ()),
    "kpp": (0xFF55, ()),
    "knp": (0xFF56, ()),
    "kbs": (0xFF08, ()),
    "kcbt": (0xFE20, ()),
    "kent": (0xFF8D, ()),
    "kbeg": (0xFF9D, ()),
    "ka1": (0xFFB7, ()),
    "ka3": (0xFFB9, ()),
    "kb2": (0xFFB5, ()),
    "kc1": (0xFFB1, ()),
    "kc3": (0xFFB3, ()),
    "kLFT": (0xFF51, (SHIFT,)),
    "kRIT": (0xFF53, (SHIFT,)),
    "kHOM": (0xFF50, (SHIFT,)),
    "kEND": (0xFF57, (SHIFT,)),
    "kIC": (0xFF63, (SHIFT,)),
    "kDC": (0xFFFF, (SHIFT,)),
    "kPRV": (0xFF55, (SHIFT,)),
    "kNXT": (0xFF56, (SHIFT,)),
    "kUP5": (0xFF52, (CTRL,)),
    "kDN5": (0xFF54, (CTRL,)),
    "kLFT5": (0xFF51, (CTRL,)),
    "kRIT5": (0xFF53, (CTRL,)),
    "kUP3": (0xFF52, (ALT,)),
    "kUP6": (0xFF52, (SHIFT, CTRL)),
    "kUP7": (0xFF52, (ALT, CTRL)),
    "kHOM5": (0xFF50, (CTRL,)),
    "kDC5": (0xFFFF, (CTRL,)),
}
for i in range(12):
    KEYS[f"kf{i + 1}"] = (F[i], ())
    KEYS[f"kf{i + 13}"] = (F[i], (SHIFT,))
    KEYS[f"kf{i + 25}"] = (F[i], (CTRL,))
    KEYS[f"kf{i + 37}"] = (F[i], (SHIFT, CTRL))
    KEYS[f"kf{i + 49}"] = (F[i], (ALT,))
for i in range(8):  # keysyms F13-F20 are the shifted F1-F8 on a PC keyboard
    KEYS[f"kf{i + 13}#F{i + 13}"] = (0xFFCA + i, ())


@pytest.mark.parametrize("cap", sorted(KEYS))
def test_key_matches_terminfo(cap: str) -> None:
    name = cap.split("#")[0]
    assert name in CAPS, f"terminfo has no {name}"
    keysym, mods = KEYS[cap]
    ks = KeyState()
    for m in mods:
        ks.key(m, True)
    assert ks.key(keysym, True, app_cursor=True, app_keypad=True) == CAPS[name]


def test_normal_mode_differs_where_xterm_does() -> None:
    ks = KeyState()
    assert ks.key(0xFF52, True) == b"\x1b[A"  # not \EOA before smkx
    assert ks.key(0xFF50, True) == b"\x1b[H"
    assert ks.key(0xFFB7, True) == b"7"  # numeric keypad
    assert ks.key(0xFF8D, True) == b"\r"
