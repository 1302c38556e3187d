"""Per-viewer damage tracking."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vncterm.geometry import Rect
from vncterm.server.damage import DamageGrid


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 7)), max_size=40),
       region=st.tuples(st.integers(0, 70), st.integers(0, 40), st.integers(1, 90),
                        st.integers(1, 90)))
def test_take_covers_exactly_the_damage_in_the_region(cells: list[tuple[int, int]],
                                                      region: tuple[int, int, int, int]) -> None:
    grid = DamageGrid(80, 48, 8, 6)  # 10 x 8 tiles
    truth = np.zeros((48, 80), dtype=bool)
    for c, r in cells:
        grid.add(Rect(c * 8, r * 6, 8, 6))
        truth[r * 6:(r + 1) * 6, c * 8:(c + 1) * 8] = True
    req = Rect(*region)
    got = np.zeros_like(truth)
    for rect in grid.take(req):
        assert not got[rect.y:rect.bottom, rect.x:rect.right].any(), "rectangles overlap"
        got[rect.y:rect.bottom, rect.x:rect.right] = True
    inside = np.zeros_like(truth)
    inside[req.y:req.bottom, req.x:req.right] = True
    assert (got == (truth & inside)).all()
    # what was fully inside is now clean; what was outside is still damaged
    rest = grid.take(Rect(0, 0, 80, 48))
    left = np.zeros_like(truth)
    for rect in rest:
        left[rect.y:rect.bottom, rect.x:rect.right] = True
    assert (left | (truth & inside) >= truth).all()
    assert not (left & ~truth).any()
