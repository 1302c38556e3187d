"""Mouse reports against xterm's documented sequences (ctlseqs, "Mouse Tracking")."""

from __future__ import annotations

import pytest

from vncterm.terminal.mouse import MouseState

pytestmark = pytest.mark.unit

LEFT, MIDDLE, RIGHT, UP, DOWN = 1, 2, 4, 8, 16


def test_no_reports_unless_asked() -> None:
    assert MouseState().report(LEFT, 3, 4, set()) == b""


def test_normal_mode_press_and_release() -> None:
    m = MouseState()
    assert m.report(LEFT, 0, 0, {1000}) == b"\x1b[M !!"
    assert m.report(0, 0, 0, {1000}) == b"\x1b[M#!!"  # release is button 3
    assert m.report(RIGHT, 9, 4, {1000}) == b'\x1b[M"*%'
    assert m.report(RIGHT, 10, 4, {1000}) == b""  # no motion reports in 1000


def test_sgr_reports_which_button_was_released() -> None:
    m = MouseState()
    assert m.report(MIDDLE, 299, 99, {1000, 1006}) == b"\x1b[<1;300;100M"
    assert m.report(0, 299, 99, {1000, 1006}) == b"\x1b[<1;300;100m"


def test_wheel_and_modifiers() -> None:
    m = MouseState()
    assert m.report(UP, 1, 1, {1000, 1006}) == b"\x1b[<64;2;2M"
    assert m.report(0, 1, 1, {1000, 1006}) == b""  # wheel buttons have no release
    assert m.report(DOWN, 1, 1, {1000, 1006}, ctrl=True, shift=True) == b"\x1b[<85;2;2M"


def test_motion_modes() -> None:
    m = MouseState()
    m.report(LEFT, 0, 0, {1002, 1006})
    assert m.report(LEFT, 1, 0, {1002, 1006}) == b"\x1b[<32;2;1M"  # drag
    m.report(0, 1, 0, {1002, 1006})
    assert m.report(0, 2, 0, {1002, 1006}) == b""  # 1002: no motion without a button
    assert m.report(0, 3, 0, {1003, 1006}) == b"\x1b[<35;4;1M"  # 1003: all motion


def test_x10_and_urxvt_and_limits() -> None:
    m = MouseState()
    assert m.report(LEFT, 0, 0, {9}, ctrl=True) == b"\x1b[M !!"  # X10: no modifiers
    assert m.report(0, 0, 0, {9}) == b""  # X10: no releases
    u = MouseState()
    assert u.report(LEFT, 4, 5, {1000, 1015}) == b"\x1b[32;5;6M"
    big = MouseState()
    assert big.report(LEFT, 230, 0, {1000}) == b""  # beyond the default format's range
