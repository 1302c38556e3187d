"""Legacy X11 keysyms (keysymdef.h) to characters, judged by libxkbcommon's
``xkb_keysym_to_utf32``, the reference mapping (DESIGN: Keysyms)."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
from pathlib import Path

import pytest

from vncterm.terminal.keymap import KeyState, keysym_to_char
from vncterm.terminal.keysyms import KEYSYM_TO_CODEPOINT

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
#: Where vncterm follows keysymdef.h and libxkbcommon 1.5 does not: the header gives U+2329 and
#: U+232A for the angle brackets (xkbcommon their canonical U+27E8/U+27E9), and no character for
#: Thai_maihanakat_maitho (xkbcommon U+0E3E, unassigned in Unicode).
DIFFERENT = {0x0ABC: "\u2329", 0x0ABE: "\u232a", 0x0DDE: None}


def xkb_keysym_to_utf32() -> ctypes._CFuncPtr:
    """libxkbcommon's function (Debian: libxkbcommon0, installed by tests/run)."""
    lib = ctypes.CDLL(ctypes.util.find_library("xkbcommon") or "libxkbcommon.so.0")
    f = lib.xkb_keysym_to_utf32
    f.restype, f.argtypes = ctypes.c_uint32, [ctypes.c_uint32]
    return f  # type: ignore[no-any-return]


def test_checked_in_table_is_a_fresh_generation_from_keysymdef_h() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_keysyms.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def _agreeing(xkb: ctypes._CFuncPtr, keysym: int) -> tuple[str | None, str | None]:
    """(ours, xkbcommon's) for one keysym; controls and function keys (the keymap's own
    tables) and surrogates (never text) count as no character on the reference side."""
    cp = xkb(keysym)
    want = None if cp < 0x20 or 0x7F <= cp <= 0x9F or 0xD800 <= cp <= 0xDFFF else chr(cp)
    return keysym_to_char(keysym), want


def test_every_legacy_keysym_agrees_with_libxkbcommon() -> None:
    xkb = xkb_keysym_to_utf32()
    wrong = {}
    for keysym in range(0xFD00):
        ours, want = _agreeing(xkb, keysym)
        if keysym in DIFFERENT:
            want = DIFFERENT[keysym]
        if ours != want:
            wrong[hex(keysym)] = (ours, want)
    assert not wrong
    assert len(KEYSYM_TO_CODEPOINT) > 700


@pytest.mark.parametrize(
    "keysym",
    [
        0x01000020,
        0x01000041,
        0x010000E9,
        0x01000100,
        0x010020AC,
        0x0100D7FF,
        0x0100D800,
        0x0100DFFF,
        0x0100E000,
        0x0101F600,
        0x0110FFFF,
        0x01000085,
        0x01110000,
    ],
)
def test_unicode_keysyms_agree_with_libxkbcommon(keysym: int) -> None:
    ours, want = _agreeing(xkb_keysym_to_utf32(), keysym)
    assert ours == want


@pytest.mark.parametrize(
    ("keysym", "text"),
    [
        (0x20AC, "€"),
        (0x06F6, "Ж"),
        (0x06D5, "у"),
        (0x06CB, "к"),
        (0x07E1, "α"),
        (0x07E2, "β"),
        (0x01B3, "ł"),
        (0x01A1, "Ą"),
        (0x0CE0, "א"),
        (0x05C7, "ا"),
        (0x0EFF, "₩"),
        (0x04B1, "ア"),
    ],
)
def test_legacy_keysyms_type_their_characters(keysym: int, text: str) -> None:
    ks = KeyState()
    assert ks.key(keysym, True) == text.encode()
    assert ks.key(keysym, False) == b""


def test_keysyms_with_no_character_type_nothing_and_never_raise() -> None:
    ks = KeyState()
    for keysym in (0x0100D800, 0x0100DFFF, 0x01000085, 0x0DDE, 0x0ABF, 0x09DF, 0xFE03, 0x01110000):
        assert ks.key(keysym, True) == b"", hex(keysym)
