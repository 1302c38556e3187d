"""Device-independent colour specifications (Xcms, the Xlib manual's "Color Management
Functions") as the device colours an X server gives xterm: ``rgbi:``, ``CIEXYZ:``, ``CIEuvY:``,
``CIExyY:``, ``CIELab:``, ``CIELuv:``, ``TekHVC:``.

Every form becomes CIE XYZ, then linear intensities (RGBi) through the conversion Xlib uses for
a screen that publishes no colour characterisation (every X server here, Xvnc included), then
device values through that screen's intensity curves, as measured on xterm 379 under Xvnc
(``xcms_curves.py``, from ``tools/measure_xcms_curves.py``). A colour outside the
device's gamut loses chroma until it fits, keeping its TekHVC hue and value, as Xcms's default
gamut compression does.

Quirks kept because xterm has them: ``CIELab`` below L* 8 takes Y as L* / 9.03292 (a hundred
times CIE's L* / 903.29, which ``CIELuv`` and ``TekHVC`` use), and above it reads a* and b* a
hundred times stronger than CIE (a* / 5, b* / 2); ``CIELuv`` reads u* and v* a hundred times
stronger too. So any a*, b*, u* or v* far from 0 is a colour at the edge of the gamut; there
xterm's hue can differ from vncterm's (Xlib's arithmetic on colours far outside the gamut), and
a channel may be at the screen's black level (9-19 of 255) where xterm's is 0.
"""

from __future__ import annotations

import bisect
import itertools
import math

from .xcms_curves import CORNERS

RGBi = tuple[float, float, float]

#: Xlib's default conversions for a screen without colour characterisation (XYZ <-> RGBi),
#: checked against xterm 379's answers.
_RGB_TO_XYZ = (
    (0.3810614910871479, 0.3202571236535211, 0.2483457852593310),
    (0.2072974511514085, 0.6805463877637324, 0.1121561610848592),
    (0.0213394435008803, 0.1429719302024648, 1.2417289262966520),
)
_XYZ_TO_RGB = (
    (3.4834048125353900, -1.5217637492728520, -0.5592313335404978),
    (-1.0715275130619360, 1.9659379520437240, 0.0367369133955320),
    (0.0635117979049779, -0.2002050100049648, 0.8107094203164822),
)
#: The screen's white (RGBi 1/1/1) in XYZ, the white point of the CIELab/CIELuv/TekHVC forms.
WHITE: RGBi = (sum(_RGB_TO_XYZ[0]), sum(_RGB_TO_XYZ[1]), sum(_RGB_TO_XYZ[2]))


def _thresholds(corners: tuple[tuple[int, float], ...]) -> tuple[float, ...]:
    """The smallest intensity of each level 1-255, from the corners of its linear runs."""
    out: list[float] = []
    for (a, ta), (b, tb) in itertools.pairwise(corners):
        out.extend(ta + (tb - ta) * (level - a) / (b - a) for level in range(a, b))
    out.append(corners[-1][1])
    return tuple(out)


#: For each channel, the smallest intensity that gives 8-bit level 1, 2 ... 255.
_THRESHOLDS = tuple(_thresholds(corners) for corners in CORNERS)
#: Tektronix HVC: its chroma scale and the chromaticity (u', v') of its hue 0, "best red".
_TEK_CHROMA = 7.50725
_TEK_RED = (0.7127, 0.4931)
#: CIE's L* below which lightness is linear in Y, and its slope.
_L_LINEAR, _KAPPA = 7.99953624, 903.29


def _dot(m: tuple[tuple[float, float, float], ...], v: RGBi) -> RGBi:
    a, b, c = (r[0] * v[0] + r[1] * v[1] + r[2] * v[2] for r in m)
    return a, b, c


def _uv(xyz: RGBi) -> tuple[float, float]:
    """CIE 1976 (u', v') of an XYZ colour."""
    d = xyz[0] + 15 * xyz[1] + 3 * xyz[2]
    return 4 * xyz[0] / d, 9 * xyz[1] / d


def _uvy_xyz(u: float, v: float, y: float) -> RGBi | None:
    if v <= 0:
        return None
    return y * 9 * u / (4 * v), y, y * (12 - 3 * u - 20 * v) / (4 * v)


def _lightness_y(lightness: float) -> float:
    """Y (white 1) of CIE L* (0-100)."""
    if lightness < _L_LINEAR:
        return lightness / _KAPPA
    return ((lightness + 16) / 116) ** 3


def _lab(lightness: float, a: float, b: float) -> RGBi:
    """CIELab to XYZ as Xlib computes it (see the module docstring)."""
    xn, _, zn = WHITE
    if lightness < _L_LINEAR:  # the linear segment, Y a hundred times too large
        y = lightness / 9.03292
        return xn * (y + a / (500 * 7.787)), y, zn * (y - b / (200 * 7.787))
    fy = (lightness + 16) / 116
    return xn * (fy + a / 5) ** 3, fy**3, zn * (fy - b / 2) ** 3


def _luv(lightness: float, u: float, v: float) -> RGBi | None:
    if lightness <= 0:
        return 0.0, 0.0, 0.0
    un, vn = _uv(WHITE)
    scale = 100 / (13 * lightness)  # CIE's 1 / (13 L*), a hundred times (as Xlib)
    return _uvy_xyz(un + u * scale, vn + v * scale, _lightness_y(lightness))


def _hvc(hue: float, value: float, chroma: float) -> RGBi | None:
    if value <= 0:
        return 0.0, 0.0, 0.0
    un, vn = _uv(WHITE)
    theta = math.radians(hue) + math.atan2(_TEK_RED[1] - vn, _TEK_RED[0] - un)
    du, dv = (chroma * f(theta) / (_TEK_CHROMA * value) for f in (math.cos, math.sin))
    return _uvy_xyz(un + du, vn + dv, _lightness_y(value))


def _to_hvc(xyz: RGBi) -> RGBi | None:
    """TekHVC (hue in degrees, value, chroma) of an XYZ colour; None for black."""
    d = xyz[0] + 15 * xyz[1] + 3 * xyz[2]
    if d == 0 or xyz[1] <= 0:  # (a negative d turns the hue around, as in Xcms)
        return None
    y = xyz[1]
    value = 116 * y ** (1 / 3) - 16 if y * _KAPPA > _L_LINEAR else y * _KAPPA
    un, vn = _uv(WHITE)
    du, dv = 4 * xyz[0] / d - un, 9 * xyz[1] / d - vn
    offset = math.atan2(_TEK_RED[1] - vn, _TEK_RED[0] - un)
    return (
        math.degrees(math.atan2(dv, du) - offset),
        value,
        _TEK_CHROMA * value * math.hypot(du, dv),
    )


def _in_gamut(rgbi: RGBi) -> bool:
    return all(-1e-9 <= v <= 1 + 1e-9 for v in rgbi)


#: Halvings of the chroma range when compressing (to well under a step of 255).
_STEPS = 20


def _compress(xyz: RGBi) -> RGBi:
    """An XYZ colour outside the device's gamut brought in as Xcms's default compression
    (TekHVC "clip chroma") does: the same hue and value with as much chroma as fits; a value
    past white or black is white or black."""
    hvc = _to_hvc(xyz)
    if hvc is None:
        return 0.0, 0.0, 0.0
    hue, value, chroma = hvc
    if value >= 100:
        return 1.0, 1.0, 1.0
    low, high = 0.0, chroma
    for _ in range(_STEPS):
        mid = (low + high) / 2
        candidate = _hvc(hue, value, mid)
        if candidate is not None and _in_gamut(_dot(_XYZ_TO_RGB, candidate)):
            low = mid
        else:
            high = mid
    fitted = _hvc(hue, value, low)
    if fitted is None:
        return 0.0, 0.0, 0.0
    r, g, b = (min(1.0, max(0.0, v)) for v in _dot(_XYZ_TO_RGB, fitted))
    return r, g, b


def _xyz(prefix: str, a: float, b: float, c: float) -> RGBi | None:
    """The XYZ colour of a device-independent form, None for an unknown prefix or values out
    of the form's range."""
    if prefix == "ciexyz":
        return a, b, c
    if prefix == "cieuvy":
        return _uvy_xyz(a, b, c)
    if prefix == "ciexyy":
        return None if b <= 0 else (a * c / b, c, (1 - a - b) * c / b)
    if prefix == "cielab":
        return _lab(a, b, c) if 0 <= a <= 100 else None
    if prefix == "cieluv":
        return _luv(a, b, c) if 0 <= a <= 100 else None
    if prefix == "tekhvc":
        return _hvc(a, b, c) if 0 <= b <= 100 and 0 <= c and 0 <= a <= 360 else None
    return None


def to_rgbi(prefix: str, values: RGBi) -> RGBi | None:
    """The intensities of a spec ``prefix:a/b/c`` (prefix in lower case), clipped to 0.0-1.0;
    None if it is not one Xcms reads."""
    if not all(math.isfinite(v) and abs(v) < 1e6 for v in values):
        return None
    if prefix == "rgbi":
        rgbi = values
    else:
        xyz = _xyz(prefix, *values)
        if xyz is None:
            return None
        rgbi = _dot(_XYZ_TO_RGB, xyz)
        if not all(math.isfinite(v) for v in rgbi):
            return None
        if not _in_gamut(rgbi):
            rgbi = _compress(xyz)
    r, g, b = (min(1.0, max(0.0, v)) for v in rgbi)
    return r, g, b


def _device(channel: int, intensity: float) -> int:
    """One channel's 8-bit device value for an intensity (0.0-1.0)."""
    return bisect.bisect_right(_THRESHOLDS[channel], intensity)


def device(rgbi: RGBi) -> int:
    """Intensities (0.0-1.0) as 0x00RRGGBB."""
    r, g, b = (_device(i, v) for i, v in enumerate(rgbi))
    return r << 16 | g << 8 | b
