"""Box drawing (U+2500-257F), block elements (U+2580-259F) and scan lines drawn in code.

Font glyphs for these rarely fill the cell exactly, so lines show gaps between cells. Drawn
here, every line sits at the same offset in every cell and reaches the cell's edges, so lines
meet at any cell size. Masks are uint8 0/255 (two colours per cell, like hinted glyphs).
"""

from __future__ import annotations

import math

import numpy as np

# Arms (up, right, down, left) of U+2500..U+257F: 0 none, 1 light, 2 heavy, 3 double.
# "d" marks dashed lines, "a" arcs, "x" diagonals (handled separately).
_ARMS = (
    "0101 0202 1010 2020 d d d d d d d d 0110 0210 0120 0220 "  # 2500
    "0011 0012 0021 0022 1100 1200 2100 2200 1001 1002 2001 2002 1110 1210 2110 1120 "  # 2510
    "2120 2210 1220 2220 1011 1012 2011 1021 2021 2012 1022 2022 0111 0112 0211 0212 "  # 2520
    "0121 0122 0221 0222 1101 1102 1201 1202 2101 2102 2201 2202 1111 1112 1211 1212 "  # 2530
    "2111 1121 2121 2112 2211 1122 1221 2212 1222 2122 2221 2222 d d d d "  # 2540
    "0303 3030 0310 0130 0330 0013 0031 0033 1300 3100 3300 1003 3001 3003 1310 3130 "  # 2550
    "3330 1013 3031 3033 0313 0131 0333 1303 3101 3303 1313 3131 3333 a a a "  # 2560
    "a x x x 0001 1000 0100 0010 0002 2000 0200 0020 0201 1020 0102 2010"  # 2570
).split()
assert len(_ARMS) == 128

# Dashed lines: code point -> (horizontal, heavy, dashes).
_DASHES = {
    0x2504: (True, False, 3),
    0x2505: (True, True, 3),
    0x2506: (False, False, 3),
    0x2507: (False, True, 3),
    0x2508: (True, False, 4),
    0x2509: (True, True, 4),
    0x250A: (False, False, 4),
    0x250B: (False, True, 4),
    0x254C: (True, False, 2),
    0x254D: (True, True, 2),
    0x254E: (False, False, 2),
    0x254F: (False, True, 2),
}
# Quadrants of U+2596..U+259F: (upper left, upper right, lower left, lower right).
_QUADRANTS = {
    0x2596: "0010",
    0x2597: "0001",
    0x2598: "1000",
    0x2599: "1011",
    0x259A: "1001",
    0x259B: "1110",
    0x259C: "1101",
    0x259D: "0100",
    0x259E: "0110",
    0x259F: "0111",
}
SHADES = frozenset("\u2591\u2592\u2593")


def handles(ch: str) -> bool:
    """True for the characters drawn here instead of taken from a font."""
    if len(ch) != 1:
        return False
    cp = ord(ch)
    return 0x2500 <= cp <= 0x259F or 0x23BA <= cp <= 0x23BD


def thickness(w: int, h: int) -> tuple[int, int]:
    """(light, heavy) line widths for a ``w`` x ``h`` cell."""
    light = max(1, round(min(w, h / 2) / 8))
    return light, max(light + 1, light * 2 + (1 if light == 1 else 0))


def draw(ch: str, w: int, h: int, phase: int = 0) -> np.ndarray:
    """The mask of ``ch`` in a ``h`` x ``w`` cell.

    ``phase`` is the parity of the cell's pixel origin (bit 0: x, bit 1: y), so shade patterns
    line up across cells of odd size.
    """
    cp = ord(ch)
    out = np.zeros((h, w), dtype=np.uint8)
    if 0x23BA <= cp <= 0x23BD:  # scan lines 1, 3, 7, 9 of a nine-line cell
        light, _ = thickness(w, h)
        row = round((h - light) * (0, 2, 6, 8)[cp - 0x23BA] / 8)
        out[row : row + light, :] = 255
        return out
    if cp >= 0x2580:
        return _block(cp, w, h, phase)
    code = _ARMS[cp - 0x2500]
    if code == "d":
        _dashed(out, *_DASHES[cp])
    elif code == "a":
        _arc(out, cp)
    elif code == "x":
        _diagonals(out, cp)
    else:
        up, right, down, left = (int(c) for c in code)
        _arms(out, up, right, down, left)
        _arms(out.T, left, down, right, up)  # the vertical arms, drawn in the transposed cell
    return out


def _bands(n: int, weight: int, light: int, heavy: int) -> list[tuple[int, int]]:
    """Where a line of ``weight`` lies across an ``n``-pixel axis: one or two (start, end)."""
    if weight == 3:
        gap = light
        start = (n - (2 * light + gap)) // 2
        return [(start, start + light), (start + light + gap, start + 2 * light + gap)]
    t = heavy if weight == 2 else light
    start = (n - t) // 2
    return [(start, start + t)]


def _arms(out: np.ndarray, up: int, right: int, down: int, left: int) -> None:
    """Draw the left and right arms into ``out`` (rows across, columns along).

    ``up``/``down`` are the perpendicular arms: single lines run through their band; each line
    of a double arm stops where it meets the perpendicular lines, so double corners nest.
    """
    h, w = out.shape
    light, heavy = thickness(*(w, h) if w <= h else (h, w))
    perp = {
        1: _bands(w, up, light, heavy) if up else [],
        -1: _bands(w, down, light, heavy) if down else [],
    }
    centre = _bands(w, 1, light, heavy)[0]
    union = perp[1] + perp[-1]
    lo = min((b[0] for b in union), default=centre[0])
    hi = max((b[1] for b in union), default=centre[1])
    for arm, weight in ((-1, left), (1, right)):
        if not weight:
            continue
        rows = _bands(h, weight, light, heavy)
        if weight != 3:
            x0, x1 = (0, hi) if arm < 0 else (lo, w)
            for r0, r1 in rows:
                out[r0:r1, x0:x1] = 255
            continue
        # double arm: the line on side s (1 = up, -1 = down) of the arm
        for (r0, r1), side in zip(rows, (1, -1), strict=True):
            mine, other = perp[side], perp[-side]
            if mine and (up if side > 0 else down) == 3:
                near = mine[0] if arm < 0 else mine[1]  # the nearer of the two lines
                stop = near[1] if arm < 0 else near[0]
            elif mine:
                stop = mine[0][1] if arm < 0 else mine[0][0]
            elif other:
                stop = max(b[1] for b in other) if arm < 0 else min(b[0] for b in other)
            else:
                stop = (w + 1) // 2 if arm < 0 else w // 2
            x0, x1 = (0, stop) if arm < 0 else (stop, w)
            out[r0:r1, x0:x1] = 255


def _dashed(out: np.ndarray, horizontal: bool, heavy: bool, dashes: int) -> None:
    target = out if horizontal else out.T
    h, w = target.shape
    light, thick = thickness(*(w, h) if w <= h else (h, w))
    r0, r1 = _bands(h, 2 if heavy else 1, light, thick)[0]
    seg = w / dashes
    gap = max(1, round(seg / 3))
    for i in range(dashes):
        a = round(i * seg)
        b = max(a + 1, round((i + 1) * seg) - gap)
        target[r0:r1, a:b] = 255


def _plot(out: np.ndarray, points: list[tuple[float, float]], t: int) -> None:
    h, w = out.shape
    for x, y in points:
        c0 = min(max(math.floor(x - t / 2 + 0.5), 0), w - t)
        r0 = min(max(math.floor(y - t / 2 + 0.5), 0), h - t)
        out[r0 : r0 + t, c0 : c0 + t] = 255


def _arc(out: np.ndarray, cp: int) -> None:
    """Rounded corners: a quarter circle joining the two half lines."""
    h, w = out.shape
    light, _ = thickness(w, h)
    (cx0, cx1), (cy0, cy1) = _bands(w, 1, light, light)[0], _bands(h, 1, light, light)[0]
    cx, cy = (cx0 + cx1) / 2, (cy0 + cy1) / 2
    # direction of the two arms: x towards right (+1) or left (-1), y towards down or up
    sx, sy = {0x256D: (1, 1), 0x256E: (-1, 1), 0x256F: (-1, -1), 0x2570: (1, -1)}[cp]
    r = min(w - cx if sx > 0 else cx, h - cy if sy > 0 else cy, w / 2)
    ox, oy = cx + sx * r, cy + sy * r  # circle centre
    steps = max(8, int(4 * r))
    pts = [
        (ox - sx * r * math.cos(a), oy - sy * r * math.sin(a))
        for a in (i * math.pi / 2 / steps for i in range(steps + 1))
    ]
    _plot(out, pts, light)
    # straight runs from the arc's ends to the cell edges
    if sx > 0:
        out[cy0:cy1, int(ox) :] = 255
    else:
        out[cy0:cy1, : math.ceil(ox)] = 255
    if sy > 0:
        out[int(oy) :, cx0:cx1] = 255
    else:
        out[: math.ceil(oy), cx0:cx1] = 255


def _diagonals(out: np.ndarray, cp: int) -> None:
    h, w = out.shape
    light, _ = thickness(w, h)
    steps = 4 * max(w, h)
    if cp in (0x2571, 0x2573):  # upper right to lower left
        _plot(out, [(w - i * w / steps, i * h / steps) for i in range(steps + 1)], light)
    if cp in (0x2572, 0x2573):
        _plot(out, [(i * w / steps, i * h / steps) for i in range(steps + 1)], light)


def _block(cp: int, w: int, h: int, phase: int) -> np.ndarray:
    out = np.zeros((h, w), dtype=np.uint8)
    if cp == 0x2580:  # upper half: the complement of the lower half
        out[: h - (h * 4 + 4) // 8] = 255
    elif 0x2581 <= cp <= 0x2588:  # lower n/8
        out[h - (h * (cp - 0x2580) + 4) // 8 :] = 255
    elif 0x2589 <= cp <= 0x258F:  # left n/8, 7 down to 1
        out[:, : (w * (0x2590 - cp) + 4) // 8] = 255
    elif cp == 0x2590:  # right half: the complement of the left half
        out[:, (w * 4 + 4) // 8 :] = 255
    elif cp in (0x2591, 0x2592, 0x2593):
        yy, xx = np.mgrid[0:h, 0:w]
        yy, xx = yy + (phase >> 1 & 1), xx + (phase & 1)  # parity of the cell's pixel origin
        odd = (yy + xx) % 2 == 1
        if cp == 0x2591:
            pattern = odd & (yy % 2 == 0)  # 1 pixel in 4
        elif cp == 0x2592:
            pattern = odd  # checkerboard
        else:
            pattern = odd | (yy % 2 == 0)  # 3 pixels in 4
        out[pattern] = 255
    elif cp == 0x2594:
        out[: max(1, round(h / 8))] = 255
    elif cp == 0x2595:
        out[:, w - max(1, round(w / 8)) :] = 255
    else:
        quads = _QUADRANTS[cp]
        mx, my = w // 2, h // 2
        for i, (ys, xs) in enumerate(
            (
                (slice(0, my), slice(0, mx)),
                (slice(0, my), slice(mx, w)),
                (slice(my, h), slice(0, mx)),
                (slice(my, h), slice(mx, w)),
            )
        ):
            if quads[i] == "1":
                out[ys, xs] = 255
    return out
