"""The keys vncterm keeps for itself instead of passing them to the program or desktop.

One table, consulted by the input routing (``input.py``) and listed in the README ("Reserved
keys"): a test checks that the two agree. A key matches when its keysym is listed and every modifier
the entry names is held (others may be held too). Console-only keys are vncterm's while the
viewer shows the console; on a proxied desktop they go to the desktop, which has its own use for
them (Shift+Insert pastes there too, by the desktop's own rules).

The paste keys were chosen to reach vncterm from noVNC in a browser: Shift+Insert is never a
browser shortcut, and Ctrl+Shift+V is the paste key of most terminal emulators; browsers take
some Ctrl combinations (Ctrl+W, Ctrl+T, Ctrl+N...) before the page sees them, but not these two.
The same holds for Ctrl+Shift+B, the Break of keyboards and browsers that have none (a browser
has no Break key, a laptop no Pause, and the operating system may take Ctrl-Alt combinations),
Ctrl+Shift+F (search, as in many terminal emulators) and Ctrl+Shift+L (take the keyboard);
Ctrl+Shift+U and +E are avoided: GTK input methods take them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..terminal.keymap import KeyState


class Action(enum.Enum):
    """What a reserved key does."""

    SHOW_CONSOLE = "show the console"
    SHOW_DESKTOP = "show the desktop"
    BREAK = "send a serial BREAK (Magic SysRq on Linux guests)"
    SCROLL_UP = "scroll back a screen"
    SCROLL_DOWN = "scroll forward a screen"
    PASTE = "paste this viewer's clipboard"
    TAKE_KEYBOARD = "take the keyboard (--input one)"
    SEARCH = "search the scrollback"


@dataclass(frozen=True)
class ReservedKey:
    """One reserved key combination."""

    name: str  # as the README spells it
    keysyms: frozenset[int]
    action: Action
    ctrl: bool = False
    alt: bool = False
    shift: bool = False
    console_only: bool = True  # on a proxied desktop the key goes to the desktop

    def matches(self, keysym: int, keys: KeyState) -> bool:
        return (
            keysym in self.keysyms
            and (not self.ctrl or keys.ctrl)
            and (not self.alt or keys.alt)
            and (not self.shift or keys.shift)
        )


def _keys(*keysyms: int) -> frozenset[int]:
    return frozenset(keysyms)


KEY_1, KEY_2, KEY_V, KEY_v, KEY_B, KEY_b = 0x31, 0x32, 0x56, 0x76, 0x42, 0x62
KEY_L, KEY_l, KEY_F, KEY_f = 0x4C, 0x6C, 0x46, 0x66
F1, F7 = 0xFFBE, 0xFFC4
BREAK, PAUSE = 0xFF6B, 0xFF13
PAGE_UP, PAGE_DOWN, INSERT, KP_INSERT = 0xFF55, 0xFF56, 0xFF63, 0xFF9E

#: Every reserved key, in the order the README lists them.
RESERVED: tuple[ReservedKey, ...] = (
    ReservedKey(
        "Ctrl-Alt-1", _keys(KEY_1), Action.SHOW_CONSOLE, ctrl=True, alt=True, console_only=False
    ),
    ReservedKey(
        "Ctrl-Alt-F1", _keys(F1), Action.SHOW_CONSOLE, ctrl=True, alt=True, console_only=False
    ),
    ReservedKey(
        "Ctrl-Alt-2", _keys(KEY_2), Action.SHOW_DESKTOP, ctrl=True, alt=True, console_only=False
    ),
    ReservedKey(
        "Ctrl-Alt-F7", _keys(F7), Action.SHOW_DESKTOP, ctrl=True, alt=True, console_only=False
    ),
    ReservedKey("Break", _keys(BREAK), Action.BREAK),
    ReservedKey("Ctrl+Pause", _keys(PAUSE), Action.BREAK, ctrl=True),
    ReservedKey("Ctrl+Shift+B", _keys(KEY_B, KEY_b), Action.BREAK, ctrl=True, shift=True),
    ReservedKey("Shift+PgUp", _keys(PAGE_UP), Action.SCROLL_UP, shift=True),
    ReservedKey("Shift+PgDn", _keys(PAGE_DOWN), Action.SCROLL_DOWN, shift=True),
    ReservedKey("Ctrl+Shift+F", _keys(KEY_F, KEY_f), Action.SEARCH, ctrl=True, shift=True),
    ReservedKey("Shift+Insert", _keys(INSERT, KP_INSERT), Action.PASTE, shift=True),
    ReservedKey("Ctrl+Shift+V", _keys(KEY_V, KEY_v), Action.PASTE, ctrl=True, shift=True),
    ReservedKey("Ctrl+Shift+L", _keys(KEY_L, KEY_l), Action.TAKE_KEYBOARD, ctrl=True, shift=True),
)


def lookup(keysym: int, keys: KeyState, on_console: bool) -> ReservedKey | None:
    """The reserved key ``keysym`` makes with the modifiers held, if any."""
    for entry in RESERVED:
        if (on_console or not entry.console_only) and entry.matches(keysym, keys):
            return entry
    return None
