"""Hextile encoding (RFB spec section 7.7.4 "Hextile Encoding").

16x16 tiles, row-major. Each tile starts with a subencoding mask: Raw (1), BackgroundSpecified
(2), ForegroundSpecified (4), AnySubrects (8), SubrectsColoured (16). Background and foreground
carry over from tile to tile within one rectangle; we re-send both after a raw tile and the
foreground after a tile with coloured subrects. Subrectangles here are the horizontal runs of
non-background pixels in each row of a tile; a tile falls back to raw when that is smaller.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..rfb.pixel_format import PixelFormat
from .analysis import U32, Analysis, analyse, run_starts, tile_colours, tile_layout
from .base import EncoderState

HEXTILE = 5
TILE = 16

_RAW = 1
_BG = 2
_FG = 4
_ANY = 8
_COLOURED = 16


class HextileEncoder:
    """Hextile with solid, monochrome-subrect, coloured-subrect and raw tiles."""

    code = HEXTILE
    name = "hextile"

    def encode(
        self, pixels: U32, pf: PixelFormat, state: EncoderState, analysis: Analysis | None = None
    ) -> bytes:
        """Payload of one Hextile rectangle."""
        h, w = pixels.shape
        if h == 0 or w == 0:
            return b""
        if analysis is None:
            analysis = analyse(pixels)
        bpp = pf.effective().bytes_per_pixel
        lay = tile_layout(w, h, TILE)
        tc = tile_colours(pixels, lay, analysis)
        t = lay.count

        # Background: each tile's most frequent colour (an index into tc.table).
        order = np.lexsort((-tc.counts, np.repeat(np.arange(t), tc.ncol)))
        first_of_tile = np.concatenate(([0], np.cumsum(tc.ncol)[:-1]))
        bg_entry = order[first_of_tile]
        bg_local = bg_entry - tc.pal_start

        starts = run_starts(tc.key, lay.row_start)
        lengths = np.diff(np.append(starts, tc.key.size))
        run_tile = lay.tid[starts]
        run_local = tc.local[starts]
        keep = run_local != bg_local[run_tile]
        starts, lengths, run_tile, run_local = (
            starts[keep], lengths[keep], run_tile[keep], run_local[keep]
        )
        nsub = np.bincount(run_tile, minlength=t)
        sub_off = np.concatenate(([0], np.cumsum(nsub))).astype(np.intp)
        pos = starts - lay.start[run_tile]
        tw_r = lay.tw[run_tile]
        geo = np.empty((starts.size, 2), np.uint8)
        geo[:, 0] = ((pos % tw_r) << 4) | (pos // tw_r)
        geo[:, 1] = (lengths - 1) << 4
        table_wire = pf.to_wire(tc.table)
        coloured: npt.NDArray[np.uint8] = np.concatenate(
            (table_wire[tc.pal_start[run_tile] + run_local], geo), axis=1
        )
        mono_bytes = geo.tobytes()
        col_bytes = coloured.tobytes()
        raw_wire = None

        parts: list[bytes] = []
        prev_bg: int | None = None
        prev_fg: int | None = None
        nc = tc.ncol.tolist()
        bge = bg_entry.tolist()
        ps = tc.pal_start.tolist()
        table = tc.table.tolist()
        ns = nsub.tolist()
        so = sub_off.tolist()
        sizes = lay.size.tolist()
        st = lay.start.tolist()
        for k in range(t):
            n = ns[k]
            bg = table[bge[k]]
            mask = 0
            head = b""
            if bg != prev_bg:
                mask |= _BG
                head = table_wire[bge[k]].tobytes()
            if n == 0:
                parts.append(bytes((mask,)) + head)
                prev_bg = bg
                continue
            raw_size = sizes[k] * bpp
            if nc[k] == 2:
                fg_entry = ps[k] + (1 - (bge[k] - ps[k]))
                fg = table[fg_entry]
                fg_head = b""
                if fg != prev_fg:
                    fg_head = table_wire[fg_entry].tobytes()
                size = len(head) + len(fg_head) + 1 + 2 * n
                if n <= 255 and size < raw_size:
                    mask |= _ANY | (_FG if fg_head else 0)
                    parts.append(bytes((mask,)) + head + fg_head + bytes((n,)))
                    parts.append(mono_bytes[2 * so[k]:2 * so[k + 1]])
                    prev_bg, prev_fg = bg, fg
                    continue
            else:
                size = len(head) + 1 + n * (bpp + 2)
                if n <= 255 and size < raw_size:
                    mask |= _ANY | _COLOURED
                    parts.append(bytes((mask,)) + head + bytes((n,)))
                    parts.append(col_bytes[(bpp + 2) * so[k]:(bpp + 2) * so[k + 1]])
                    prev_bg, prev_fg = bg, None
                    continue
            if raw_wire is None:
                raw_wire = table_wire[tc.pal_start[lay.tid] + tc.local]
            parts.append(b"\x01" + raw_wire[st[k]:st[k] + sizes[k]].tobytes())
            prev_bg = prev_fg = None
        return b"".join(parts)
