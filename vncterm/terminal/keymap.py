"""Keysyms from viewers to the bytes an xterm would send (RFB spec section 7.5.4).

The viewer sends X11 keysyms with separate press and release events for modifiers; ``KeyState``
tracks the modifiers of one viewer and turns each press into console input.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keysyms import KEYSYM_TO_CODEPOINT

SHIFT = {0xFFE1, 0xFFE2}
CONTROL = {0xFFE3, 0xFFE4}
ALT = {0xFFE7, 0xFFE8, 0xFFE9, 0xFFEA}  # Meta_L/R, Alt_L/R (not AltGr, which composes)

ESC = "\x1b"
BACKSPACE = 0xFF08

# Cursor keys: final byte; ESC [ x normally, ESC O x in application cursor mode (DECCKM).
_CURSOR = {
    0xFF51: "D",
    0xFF52: "A",
    0xFF53: "C",
    0xFF54: "B",  # Left Up Right Down
    0xFF50: "H",
    0xFF57: "F",  # Home End
    0xFF96: "D",
    0xFF97: "A",
    0xFF98: "C",
    0xFF99: "B",  # KP_Left.. KP_Down
    0xFF95: "H",
    0xFF9C: "F",  # KP_Home KP_End
    0xFF9D: "E",  # KP_Begin (the keypad's 5 without NumLock)
}
# F13-F20 (keyboards that have them): xterm's PC-style keys treat them as Shift+F1..F8.
_SHIFTED_F = {0xFFCA + i: 0xFFBE + i for i in range(8)}
# Keypad keys in application keypad mode (DECKPAM): ESC O x.
_APP_KEYPAD = {0xFFB0 + i: "pqrstuvwxy"[i] for i in range(10)}
_APP_KEYPAD.update(
    {
        0xFF8D: "M",
        0xFFAA: "j",
        0xFFAB: "k",
        0xFFAC: "l",
        0xFFAD: "m",
        0xFFAE: "n",
        0xFFAF: "o",
        0xFFBD: "X",
    }
)
# Return and KP_Enter (which sends what Return does outside the application keypad).
_RETURN = {0xFF0D, 0xFF8D}
# Editing keys sent as ESC [ n ~.
_TILDE = {
    0xFF63: 2,
    0xFFFF: 3,
    0xFF55: 5,
    0xFF56: 6,  # Insert Delete Prior Next
    0xFF9E: 2,
    0xFF9F: 3,
    0xFF9A: 5,
    0xFF9B: 6,  # keypad versions
    0xFFC2: 15,
    0xFFC3: 17,
    0xFFC4: 18,
    0xFFC5: 19,
    0xFFC6: 20,
    0xFFC7: 21,  # F5-F10
    0xFFC8: 23,
    0xFFC9: 24,  # F11 F12
}
# F1-F4: ESC O P..S (SS3).
_SS3 = {0xFFBE: "P", 0xFFBF: "Q", 0xFFC0: "R", 0xFFC1: "S"}
_PLAIN = {
    BACKSPACE: "\x7f",
    0xFF09: "\t",  # Tab
    0xFF0D: "\r",  # Return
    0xFF8D: "\r",  # KP_Enter
    0xFF1B: ESC,  # Escape
    0xFF80: " ",  # KP_Space
    0xFF89: "\t",  # KP_Tab
    0xFFAA: "*",
    0xFFAB: "+",
    0xFFAC: ",",
    0xFFAD: "-",
    0xFFAE: ".",
    0xFFAF: "/",
    0xFFBD: "=",
}
_KEYPAD_DIGITS = range(0xFFB0, 0xFFBA)
ISO_LEFT_TAB = 0xFE20


def keysym_to_char(keysym: int) -> str | None:
    """The character a printable keysym stands for: Latin-1 keysyms are their code point, the
    legacy keysyms of keysymdef.h (Latin-2 to Hebrew, Greek, Cyrillic, the Euro sign...) are
    looked up in its generated table, and 0x01000000 + code point is Unicode; surrogates and
    control characters are none."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    cp = KEYSYM_TO_CODEPOINT.get(keysym)
    if cp is not None:
        return chr(cp)
    if 0x01000020 <= keysym <= 0x0110FFFF:
        cp = keysym - 0x01000000
        if 0x7F <= cp <= 0x9F or 0xD800 <= cp <= 0xDFFF:
            return None
        return chr(cp)
    if keysym in _KEYPAD_DIGITS:
        return chr(ord("0") + keysym - 0xFFB0)
    return None


@dataclass
class KeyState:
    """Modifier state of one viewer's keyboard."""

    shift: bool = False
    ctrl: bool = False
    alt: bool = False

    def modifier_param(self) -> int:
        """xterm's modifier parameter: 1 + Shift + 2*Alt + 4*Ctrl."""
        return 1 + int(self.shift) + 2 * int(self.alt) + 4 * int(self.ctrl)

    def key(
        self,
        keysym: int,
        down: bool,
        app_cursor: bool = False,
        app_keypad: bool = False,
        new_line: bool = False,
        backarrow_bs: bool = False,
    ) -> bytes:
        """Process one KeyEvent; the bytes to write to the console (often none).
        ``new_line``: the program set LNM (``CSI 20 h``), so Return sends CR LF;
        ``backarrow_bs``: it set DECBKM (``CSI ? 67 h``), so BackSpace sends BS and
        Ctrl+BackSpace DEL (the other way round, as xterm swaps them)."""
        if keysym in SHIFT:
            self.shift = down
            return b""
        if keysym in CONTROL:
            self.ctrl = down
            return b""
        if keysym in ALT:
            self.alt = down
            return b""
        if not down:
            return b""
        text = self._press(keysym, app_cursor, app_keypad)
        if new_line and keysym in _RETURN and text.endswith("\r"):
            text += "\n"
        if backarrow_bs and keysym == BACKSPACE:
            text = text[:-1] + ("\x7f" if text.endswith("\x08") else "\x08")
        return text.encode("utf-8")

    def _press(self, keysym: int, app_cursor: bool, app_keypad: bool = False) -> str:
        mod = self.modifier_param()
        if keysym in _SHIFTED_F:
            keysym, mod = _SHIFTED_F[keysym], mod + 1
        if app_keypad and keysym in _APP_KEYPAD and mod == 1:
            return f"{ESC}O{_APP_KEYPAD[keysym]}"
        if keysym in _CURSOR:
            final = _CURSOR[keysym]
            if mod > 1:
                return f"{ESC}[1;{mod}{final}"
            return f"{ESC}O{final}" if app_cursor else f"{ESC}[{final}"
        if keysym in _TILDE:
            n = _TILDE[keysym]
            return f"{ESC}[{n};{mod}~" if mod > 1 else f"{ESC}[{n}~"
        if keysym in _SS3:
            return f"{ESC}[1;{mod}{_SS3[keysym]}" if mod > 1 else f"{ESC}O{_SS3[keysym]}"
        if keysym == ISO_LEFT_TAB:
            return f"{ESC}[Z"
        if keysym == 0xFF09 and self.shift:
            return f"{ESC}[Z"
        text = _PLAIN.get(keysym)
        if text is None:
            ch = keysym_to_char(keysym)
            if ch is None:
                return ""
            text = self._control(ch) if self.ctrl else ch
        elif self.ctrl and keysym == BACKSPACE:
            text = "\x08"  # Ctrl+BackSpace sends ^H
        return ESC + text if self.alt else text

    @staticmethod
    def _control(ch: str) -> str:
        """Ctrl+key as the C0 control code an xterm sends."""
        if ch in " @2":
            return "\x00"
        if "a" <= ch <= "z":
            return chr(ord(ch) - 0x60)
        if "@" <= ch <= "_":
            return chr(ord(ch) - 0x40)
        special = {
            "3": "\x1b",
            "4": "\x1c",
            "5": "\x1d",
            "6": "\x1e",
            "7": "\x1f",
            "/": "\x1f",
            "8": "\x7f",
            "?": "\x7f",
            "-": "\x1f",
        }
        return special.get(ch, ch)
