"""Keysyms to xterm bytes (RFB spec section 7.5.4; xterm's ctlseqs for the sequences)."""

from __future__ import annotations

import pytest

from vncterm.terminal.keymap import KeyState

pytestmark = pytest.mark.unit

CTRL, SHIFT, ALT = 0xFFE3, 0xFFE1, 0xFFE9


def press(keysym: int, *mods: int, app_cursor: bool = False) -> bytes:
    ks = KeyState()
    for m in mods:
        assert ks.key(m, True) == b""
    out = ks.key(keysym, True, app_cursor)
    assert ks.key(keysym, False, app_cursor) == b""  # releases send nothing
    return out


@pytest.mark.parametrize(
    ("keysym", "expected"),
    [
        (ord("a"), b"a"),
        (ord("Z"), b"Z"),
        (0xE9, "é".encode()),
        (0x01000000 + 0x4E2D, "中".encode()),
        (0x0100263A, "☺".encode()),
        (0xFF0D, b"\r"),
        (0xFF08, b"\x7f"),
        (0xFF09, b"\t"),
        (0xFF1B, b"\x1b"),
        (0xFF52, b"\x1b[A"),
        (0xFF54, b"\x1b[B"),
        (0xFF53, b"\x1b[C"),
        (0xFF51, b"\x1b[D"),
        (0xFF50, b"\x1b[H"),
        (0xFF57, b"\x1b[F"),
        (0xFF55, b"\x1b[5~"),
        (0xFF56, b"\x1b[6~"),
        (0xFF63, b"\x1b[2~"),
        (0xFFFF, b"\x1b[3~"),
        (0xFFBE, b"\x1bOP"),
        (0xFFBF, b"\x1bOQ"),
        (0xFFC0, b"\x1bOR"),
        (0xFFC1, b"\x1bOS"),
        (0xFFC2, b"\x1b[15~"),
        (0xFFC3, b"\x1b[17~"),
        (0xFFC4, b"\x1b[18~"),
        (0xFFC5, b"\x1b[19~"),
        (0xFFC6, b"\x1b[20~"),
        (0xFFC7, b"\x1b[21~"),
        (0xFFC8, b"\x1b[23~"),
        (0xFFC9, b"\x1b[24~"),
        (0xFFB5, b"5"),
        (0xFF8D, b"\r"),
        (0xFE20, b"\x1b[Z"),
        (0xFFE1, b""),
        (0xFFFFFF, b""),
        (0x0100D800, b""),
        (0x0100DBFF, b""),
        (0x0100DFFF, b""),  # lone surrogates: no character
        (0x0100D7FF, "\ud7ff".encode()),
        (0x0100E000, "\ue000".encode()),
    ],
)
def test_plain_keys(keysym: int, expected: bytes) -> None:
    assert press(keysym) == expected


def test_application_cursor_mode() -> None:
    assert press(0xFF52, app_cursor=True) == b"\x1bOA"
    assert press(0xFF50, app_cursor=True) == b"\x1bOH"
    assert press(0xFF55, app_cursor=True) == b"\x1b[5~"  # not a cursor key


@pytest.mark.parametrize(
    ("ch", "code"),
    [
        ("a", 1),
        ("c", 3),
        ("z", 26),
        ("[", 27),
        ("\\", 28),
        ("]", 29),
        ("^", 30),
        ("_", 31),
        (" ", 0),
        ("@", 0),
    ],
)
def test_ctrl_letters_and_punctuation(ch: str, code: int) -> None:
    assert press(ord(ch), CTRL) == bytes([code])


def test_alt_is_an_escape_prefix() -> None:
    assert press(ord("x"), ALT) == b"\x1bx"
    assert press(ord("c"), ALT, CTRL) == b"\x1b\x03"


def test_modified_cursor_and_function_keys() -> None:
    assert press(0xFF52, CTRL) == b"\x1b[1;5A"
    assert press(0xFF51, SHIFT) == b"\x1b[1;2D"
    assert press(0xFF55, SHIFT) == b"\x1b[5;2~"
    assert press(0xFFBE, CTRL) == b"\x1b[1;5P"
    assert press(0xFF09, SHIFT) == b"\x1b[Z"


def test_modifier_release_is_tracked() -> None:
    ks = KeyState()
    ks.key(CTRL, True)
    assert ks.key(ord("c"), True) == b"\x03"
    ks.key(CTRL, False)
    assert ks.key(ord("c"), True) == b"c"


def test_decbkm_swaps_what_backspace_and_ctrl_backspace_send() -> None:
    """DECBKM set (``CSI ? 67 h``): BackSpace sends BS and Ctrl+BackSpace DEL, as in xterm."""
    keys = KeyState()
    assert keys.key(0xFF08, True) == b"\x7f"
    assert keys.key(0xFF08, True, backarrow_bs=True) == b"\x08"
    keys.key(0xFFE3, True)
    assert keys.key(0xFF08, True) == b"\x08"
    assert keys.key(0xFF08, True, backarrow_bs=True) == b"\x7f"
