"""Pointer events (RFB spec section 7.5.5) as xterm mouse reports, when the program asks.

Tracking modes (DEC private): 9 X10 (presses only), 1000 presses and releases, 1002 also motion
while a button is held, 1003 all motion. Report formats: the default ``CSI M Cb Cx Cy`` (values
+32, limited to 223), 1006 SGR ``CSI < b ; x ; y M|m`` and 1015 urxvt ``CSI b ; x ; y M``.
Button codes: 0 left, 1 middle, 2 right, 3 release; wheel up/down 64/65 (left/right 66/67);
+32 for motion; +4 Shift, +8 Meta, +16 Control.
"""

from __future__ import annotations

from dataclasses import dataclass

X10, NORMAL, BUTTON_MOTION, ANY_MOTION = 9, 1000, 1002, 1003
SGR, URXVT = 1006, 1015
TRACKING = (ANY_MOTION, BUTTON_MOTION, NORMAL, X10)  # most inclusive first

# RFB button-mask bit -> xterm button code
_BUTTONS = {0: 0, 1: 1, 2: 2}
_WHEEL = {3: 64, 4: 65, 5: 66, 6: 67}


def active_mode(modes: set[int]) -> int | None:
    """The tracking mode in force, given the set of DEC private modes that are on."""
    for mode in TRACKING:
        if mode in modes:
            return mode
    return None


@dataclass
class MouseState:
    """One viewer's pointer: the last button mask and cell."""

    mask: int = 0
    cell: tuple[int, int] = (-1, -1)

    def report(
        self,
        mask: int,
        col: int,
        row: int,
        modes: set[int],
        shift: bool = False,
        alt: bool = False,
        ctrl: bool = False,
    ) -> bytes:
        """Reports for a pointer event at cell (``col``, ``row``), zero-based; may be empty."""
        mode = active_mode(modes)
        prev, self.mask = self.mask, mask
        moved = (col, row) != self.cell
        self.cell = (col, row)
        if mode is None:
            return b""
        mods = 0 if mode == X10 else 4 * shift + 8 * alt + 16 * ctrl
        out = []
        pressed, released = mask & ~prev, prev & ~mask
        for bit, code in _WHEEL.items():
            if pressed & (1 << bit):
                out.append(self._encode(code | mods, col, row, True, modes))
        for bit, code in _BUTTONS.items():
            if pressed & (1 << bit):
                out.append(self._encode(code | mods, col, row, True, modes))
            elif released & (1 << bit) and mode != X10:
                out.append(self._encode(code | mods, col, row, False, modes))
        if not pressed and not released and moved:
            held = [code for bit, code in _BUTTONS.items() if mask & (1 << bit)]
            if mode == ANY_MOTION or (mode == BUTTON_MOTION and held):
                code = (held[0] if held else 3) + 32
                out.append(self._encode(code | mods, col, row, True, modes))
        return b"".join(out)

    @staticmethod
    def _encode(code: int, col: int, row: int, press: bool, modes: set[int]) -> bytes:
        x, y = col + 1, row + 1
        if SGR in modes:
            return f"\x1b[<{code};{x};{y}{'M' if press else 'm'}".encode()
        if not press:
            code = (code & ~3) | 3  # the old formats cannot say which button was released
        if URXVT in modes:
            return f"\x1b[{code + 32};{x};{y}M".encode()
        if x > 223 or y > 223:
            return b""  # not representable in the default format
        return bytes([0x1B, ord("["), ord("M"), 32 + code, 32 + x, 32 + y])
