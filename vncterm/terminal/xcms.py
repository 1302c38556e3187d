"""Device-independent colour specifications (Xcms, the Xlib manual's "Color Management
Functions") as device intensities: ``rgbi:``, ``CIEXYZ:``, ``CIEuvY:``, ``CIExyY:``,
``CIELab:``, ``CIELuv:``, ``TekHVC:``."""

from __future__ import annotations

RGBi = tuple[float, float, float]


def to_rgbi(prefix: str, values: RGBi) -> RGBi | None:
    """The intensities (0.0-1.0 each) of a spec ``prefix:a/b/c``; None if not valid."""
    if prefix == "rgbi":
        if not all(0.0 <= v <= 1.0 for v in values):
            return None
        return values
    return None


def device(rgbi: RGBi) -> int:
    """Intensities as 0x00RRGGBB."""
    r, g, b = (min(255, max(0, round(v * 255))) for v in rgbi)
    return r << 16 | g << 8 | b
