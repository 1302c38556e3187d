"""No byte sequence a console sends may raise out of the terminal.

Hostile output (``hostile.py``: arbitrary bytes biased toward escape sequences and numbers
longer than the 4300 digits ``int()`` accepts) goes through ``Emulator.feed``, fast and
reference model alike, split anywhere; nothing raises, and after :data:`hostile.RECOVER` plain
text reaches the screen. Numeric parameters clamp (``MAX_PARAM``) and their count is capped
(``MAX_PARAMS``), as in xterm. The socket console path is in test_console_hostile.py.
"""

from __future__ import annotations

import fuzz
import pytest
from hostile import RECOVER, hostile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vncterm.terminal.emulator import Emulator
from vncterm.terminal.sequences import MAX_PARAM, MAX_PARAMS, number

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(FUZZ)
@given(
    data=hostile(),
    cut=st.integers(0, 1 << 16),
    fast=st.booleans(),
    charset=st.sampled_from(["utf-8", "latin-1"]),
    cols=st.sampled_from([20, 80]),
    rows=st.sampled_from([1, 3, 25]),
)
@example(data=b"\x1b[" + b"5" * 5000 + b"m", cut=0, fast=True, charset="utf-8", cols=80, rows=25)
@example(
    data=b"\x1b]4;" + b"1" * 5000 + b";?\x07", cut=3, fast=False, charset="utf-8", cols=80, rows=25
)
@example(data="\x1b]4;²;?\x07".encode(), cut=0, fast=True, charset="utf-8", cols=80, rows=25)
@example(
    data=b"x\n" * 40 + b"\x1b[1;" + b"2" * 5000 + b"m",
    cut=0,
    fast=True,
    charset="utf-8",
    cols=80,
    rows=25,
)
def test_hostile_bytes_never_raise_and_text_follows(
    data: bytes, cut: int, fast: bool, charset: str, cols: int, rows: int
) -> None:
    emu = Emulator(cols, rows, charset=charset, fast=fast, allow_column_mode=True, scrollback=50)
    cut %= len(data) + 1
    emu.feed(data[:cut])
    emu.feed(data[cut:])
    emu.take_replies()
    emu.take_resize_request()
    emu.feed(RECOVER + b"plain-MARKER")
    assert any("plain-MARKER" in line for line in emu.text()), emu.text()
    assert emu.parser.faults == 0


def test_a_faulty_handler_loses_its_sequence_not_the_rest_of_the_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    emu = Emulator(80, 25)

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in CSI t")

    monkeypatch.setattr(emu.screen, "window_op", broken)
    emu.feed(b"\x1b[22tafter\x1b[6n\x1b[22t\x1b]2;title\x07")  # the title stack
    assert emu.text()[0].startswith("after")
    assert emu.take_replies() == b"\x1b[1;6R"  # the reply owed after the fault still goes
    assert emu.title == "title"
    assert emu.parser.faults == 2
    assert len([r for r in caplog.records if "a bug in CSI t" in r.getMessage()]) == 1


def test_parameters_clamp_and_their_count_is_capped() -> None:
    assert number("5" * 5000) == MAX_PARAM
    assert number("0" * 5000 + "12") == 12
    assert number("²") is None and number("") is None and number("0000") == 0
    emu = Emulator(80, 25)
    emu.feed(b"\x1b[" + b"9" * 5000 + b";" + b"9" * 5000 + b"H\x1b[6n")
    assert emu.take_replies() == b"\x1b[25;80R"  # clamped: the bottom-right corner
    # a 31st parameter is ignored (xterm reads 30): mode 25 (cursor visible) stays on
    emu.feed(b"\x1b[?" + b"1;" * MAX_PARAMS + b"25l")
    assert emu.cursor_visible
    emu.feed(b"\x1b[?" + b"1;" * (MAX_PARAMS - 1) + b"25l")
    assert not emu.cursor_visible
    # OSC 4 asks: a 5000-digit index clamps beyond the palette (no answer); a query still works
    emu.feed(b"\x1b]4;" + b"1" * 5000 + b";?\x07\x1b]4;1;?\x07")
    assert emu.take_replies() == b"\x1b]4;1;rgb:cdcd/0000/0000\x07"


@pytest.mark.slow
def test_atheris_emulator_harness_short_budget() -> None:
    """CI's short run of the emulator's atheris harness (tests/fuzz/fuzz_emulator.py)."""
    fuzz.run_short("fuzz_emulator.py", timeout=300)


def test_long_sgr_strings_are_not_cached() -> None:
    """The SGR cache keys on the parameter string: hostile 60 KB ones would hold ~60 MB."""
    emu = Emulator(80, 25)
    for i in range(50):
        emu.feed(b"\x1b[" + str(i).encode() + b";1" * 30000 + b"m")
    assert len(emu.screen._sgr_cache) == 0
    assert emu.screen.cursor.attrs.bold
