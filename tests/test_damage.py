"""Per-viewer damage tracking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vncterm.geometry import Rect
from vncterm.server.damage import DamageGrid

pytestmark = pytest.mark.unit


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 7)), max_size=40),
    region=st.tuples(
        st.integers(0, 70), st.integers(0, 40), st.integers(1, 90), st.integers(1, 90)
    ),
)
def test_take_covers_exactly_the_damage_in_the_region(
    cells: list[tuple[int, int]], region: tuple[int, int, int, int]
) -> None:
    grid = DamageGrid(80, 48, 8, 6)  # 10 x 8 tiles
    truth = np.zeros((48, 80), dtype=bool)
    for c, r in cells:
        grid.add(Rect(c * 8, r * 6, 8, 6))
        truth[r * 6 : (r + 1) * 6, c * 8 : (c + 1) * 8] = True
    req = Rect(*region)
    got = np.zeros_like(truth)
    for rect in grid.take(req):
        assert not got[rect.y : rect.bottom, rect.x : rect.right].any(), "rectangles overlap"
        got[rect.y : rect.bottom, rect.x : rect.right] = True
    inside = np.zeros_like(truth)
    inside[req.y : req.bottom, req.x : req.right] = True
    assert (got == (truth & inside)).all()
    # what was fully inside is now clean; what was outside is still damaged
    rest = grid.take(Rect(0, 0, 80, 48))
    left = np.zeros_like(truth)
    for rect in rest:
        left[rect.y : rect.bottom, rect.x : rect.right] = True
    assert (left | (truth & inside) >= truth).all()
    assert not (left & ~truth).any()


def _copy(img: np.ndarray, src: Rect, x: int, y: int) -> None:
    img[y : y + src.h, x : x + src.w] = img[src.y : src.bottom, src.x : src.right].copy()


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(
                st.just("paint"),
                st.integers(0, 79),
                st.integers(0, 47),
                st.integers(1, 30),
                st.integers(1, 20),
            ),
            st.tuples(
                st.just("move"),
                st.integers(0, 79),
                st.integers(0, 47),
                st.integers(1, 80),
                st.integers(1, 48),
                st.integers(-40, 40),
                st.integers(-30, 30),
            ),
            st.tuples(st.just("scroll"), st.integers(1, 7)),
        ),
        max_size=12,
    )
)
def test_moves_and_repaints_rebuild_the_server_image(ops: list[tuple[int | str, ...]]) -> None:
    """A viewer that applies the recorded moves in order, then repaints the damage, shows
    exactly the server's image (what the CopyRect path relies on)."""
    grid = DamageGrid(80, 48, 8, 6)
    rng = np.random.default_rng(len(ops))
    server = rng.integers(0, 1 << 24, (48, 80)).astype(np.uint32)
    viewer = server.copy()
    moves: list[tuple[Rect, int, int]] = []
    full = Rect(0, 0, 80, 48)
    for op in ops:
        if op[0] == "paint":
            _, x, y, w, h = op
            r = Rect(int(x), int(y), int(w), int(h)).intersect(full)
            server[r.y : r.bottom, r.x : r.right] = rng.integers(0, 1 << 24)
            grid.add(r)
            continue
        if op[0] == "scroll":  # a terminal scroll: whole tile rows up
            n = int(op[1])
            src, x, y = Rect(0, 6 * n, 80, 48 - 6 * n), 0, 0
        else:
            _, sx, sy, w, h, dx, dy = op
            src = Rect(int(sx), int(sy), int(w), int(h)).intersect(full)
            x, y = src.x + int(dx), src.y + int(dy)
            if src.empty or Rect(x, y, src.w, src.h).intersect(full) != Rect(x, y, src.w, src.h):
                continue
        _copy(server, src, x, y)
        grid.move(src, x, y)
        moves.append((src, x, y))
    for src, x, y in moves:
        _copy(viewer, src, x, y)
    for r in grid.take(full):
        viewer[r.y : r.bottom, r.x : r.right] = server[r.y : r.bottom, r.x : r.right]
    assert (viewer == server).all()


@settings(max_examples=100, deadline=None)
@given(
    rects=st.lists(
        st.tuples(
            st.integers(-20, 90), st.integers(-20, 60), st.integers(0, 50), st.integers(0, 50)
        ),
        max_size=30,
    )
)
def test_one_refreshs_mask_adds_what_its_rects_add(rects: list[tuple[int, int, int, int]]) -> None:
    """The tile mask worked out once per refresh (shared by every viewer) marks exactly the
    tiles that adding the rectangles one by one marks, on top of damage already there."""
    from vncterm.server.sources import Damage

    one_by_one, shared = DamageGrid(80, 48, 8, 6), DamageGrid(80, 48, 8, 6)
    for grid in (one_by_one, shared):
        grid.add(Rect(8, 6, 16, 6))
    damage = Damage([], [Rect(*r) for r in rects])
    for rect in damage.rects:
        one_by_one.add(rect)
    shared.add_mask(damage.tile_mask(shared))
    assert (one_by_one.mask == shared.mask).all()
    assert damage.tile_mask(DamageGrid(80, 48, 8, 6)) is damage.tile_mask(shared), "not shared"


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(
                st.just("paint"),
                st.integers(0, 79),
                st.integers(0, 47),
                st.integers(1, 20),
                st.integers(1, 12),
            ),
            st.tuples(
                st.just("take"),
                st.integers(0, 79),
                st.integers(0, 47),
                st.integers(1, 30),
                st.integers(1, 30),
            ),
        ),
        max_size=16,
    )
)
def test_partial_regions_are_owed_once(ops: list[tuple[int | str, ...]]) -> None:
    """Regions that cover tiles only in part (the stream client asks for one pixel): every
    damaged pixel of a region is sent, and once sent the same region has nothing new until
    more damage comes, so an incremental request for it is held, not answered in a loop."""
    grid = DamageGrid(80, 48, 8, 6)
    grid.take(Rect(0, 0, 80, 48))
    owed = np.zeros((48, 80), dtype=bool)  # what the viewer has not been sent since it changed
    for op in ops:
        _, x, y, w, h = op
        r = Rect(int(x), int(y), int(w), int(h)).intersect(Rect(0, 0, 80, 48))
        if op[0] == "paint":
            grid.add(r)
            owed[r.y // 6 * 6 : -(-r.bottom // 6) * 6, r.x // 8 * 8 : -(-r.right // 8) * 8] = True
            continue
        inside = np.zeros_like(owed)
        inside[r.y : r.bottom, r.x : r.right] = True
        assert grid.any_in(r) or not (owed & inside).any()
        got = np.zeros_like(owed)
        for rect in grid.take(r):
            got[rect.y : rect.bottom, rect.x : rect.right] = True
        assert not (got & ~inside).any() and not (owed & inside & ~got).any()
        owed &= ~got
        assert not grid.any_in(r) and grid.take(r) == []


def test_a_one_pixel_region_is_sent_once_per_change() -> None:
    grid = DamageGrid(80, 48, 8, 6)
    grid.add_all()
    assert grid.take(Rect(0, 0, 1, 1)) == [Rect(0, 0, 1, 1)]
    assert not grid.any_in(Rect(0, 0, 1, 1)) and grid.take(Rect(0, 0, 1, 1)) == []
    assert grid.any_in(Rect(0, 0, 80, 48))  # the rest of the tile is still owed
    grid.add(Rect(5, 5, 1, 1))  # the tile changed: the pixel is owed again
    assert grid.take(Rect(0, 0, 1, 1)) == [Rect(0, 0, 1, 1)]
    grid.move(Rect(0, 0, 80, 42), 0, 6)
    assert grid.any_in(Rect(0, 0, 1, 1))  # after a move, sent again (conservatively)
