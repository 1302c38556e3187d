"""Scrolls become moves (CopyRect) in the renderer; the picture stays exactly the same."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vncterm.render.font import CellFont
from vncterm.render.renderer import TerminalRenderer
from vncterm.terminal.emulator import Emulator

pytestmark = pytest.mark.unit

FONT = CellFont(15)

pieces = st.one_of(
    st.text(alphabet="abcdefgh ", min_size=1, max_size=30).map(str.encode),
    st.sampled_from(
        [
            b"\r\n",
            b"\r\n\r\n",
            b"\x1b[31m",
            b"\x1b[0m",
            b"\x1b[44m",
            b"\x1b[2;8r",
            b"\x1b[r",
            b"\x1bM",
            b"\x1b[3S",
            b"\x1b[2T",
            b"\x1b[H",
            b"\x1b[5;1H",
            b"\x1b[K",
            b"\x1b[2J",
            b"\x1b[L",
            b"\x1b[M",
        ]
    ),
)


@settings(max_examples=120, deadline=None)
@given(chunks=st.lists(st.lists(pieces, max_size=12).map(b"".join), min_size=1, max_size=8))
def test_moves_plus_repaints_equal_a_full_redraw(chunks: list[bytes]) -> None:
    emu = Emulator(20, 10)
    r = TerminalRenderer(FONT, 20, 10)
    r.refresh(emu.screen, True)
    viewer = r.pixels.copy()
    moved = 0
    for chunk in chunks:
        emu.feed(chunk)
        spans = r.refresh(emu.screen, True)
        for src, x, y in r.take_copies():
            viewer[y : y + src.h, x : x + src.w] = viewer[
                src.y : src.bottom, src.x : src.right
            ].copy()
            moved += 1
        for span in spans:
            rect = r.span_rect(span)
            viewer[rect.y : rect.bottom, rect.x : rect.right] = r.pixels[
                rect.y : rect.bottom, rect.x : rect.right
            ]
        fresh = TerminalRenderer(FONT, 20, 10)
        emu.screen.dirty.update(range(10))  # a full redraw from scratch
        fresh.refresh(emu.screen, True)
        assert (r.pixels == fresh.pixels).all()
        assert (viewer == r.pixels).all()


def test_a_line_feed_at_the_bottom_is_one_move_and_one_new_line() -> None:
    emu = Emulator(80, 25)
    r = TerminalRenderer(FONT, 80, 25)
    emu.feed(b"".join(b"line %d\r\n" % i for i in range(40)))
    r.refresh(emu.screen, True)
    r.take_copies()
    emu.feed(b"one more\r\n")
    spans = r.refresh(emu.screen, True)
    copies = r.take_copies()
    assert len(copies) == 1
    src, x, y = copies[0]
    assert (x, y) == (0, 0) and src.y == r.cell_h and src.h >= 22 * r.cell_h
    assert {s.row for s in spans} <= {22, 23, 24}
    assert np.count_nonzero(r.pixels) > 0
