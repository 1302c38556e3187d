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

from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from .analysis import ALL_CLASSES, U32, Analysis, analyse, run_starts, tile_colours, tile_layout
from .base import EncoderOptions, StatelessEncoder

TILE = 16

_RAW = 1
_BG = 2
_FG = 4
_ANY = 8
_COLOURED = 16


class HextileEncoder(StatelessEncoder):
    """Hextile with solid, monochrome-subrect, coloured-subrect and raw tiles."""

    encoding = Encoding.HEXTILE
    suits = ALL_CLASSES

    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: None,
        analysis: Analysis | None = None,
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
            starts[keep],
            lengths[keep],
            run_tile[keep],
            run_local[keep],
        )
        nsub = np.bincount(run_tile, minlength=t)
        sub_off = np.concatenate(([0], np.cumsum(nsub))).astype(np.intp)
        pos = starts - lay.start[run_tile]
        tw_r = lay.tw[run_tile]
        geo = np.empty((starts.size, 2), np.uint8)
        geo[:, 0] = ((pos % tw_r) << 4) | (pos // tw_r)
        geo[:, 1] = (lengths - 1) << 4
        table_wire = pf.to_wire(tc.table).reshape(-1, bpp)
        coloured: npt.NDArray[np.uint8] = np.concatenate(
            (table_wire[tc.pal_start[run_tile] + run_local], geo), axis=1
        )

        # Each tile's kind, decided without looking at its neighbours (headers counted).
        ncol = tc.ncol
        raw_size = lay.size * bpp
        mono = (nsub > 0) & (ncol == 2) & (nsub <= 255) & (2 + 2 * bpp + 2 * nsub < raw_size)
        colr = (nsub > 0) & (ncol > 2) & (nsub <= 255) & (2 + bpp + nsub * (bpp + 2) < raw_size)
        raw = (nsub > 0) & ~mono & ~colr
        # Background and foreground carry over from the previous tile (section 7.7.4); after a
        # raw tile neither is known, after coloured subrectangles the foreground is not.
        bg_val = tc.table[bg_entry]
        fg_entry = np.where(mono, tc.pal_start + 1 - bg_local, 0)
        fg_val = tc.table[fg_entry]
        send_bg = ~raw
        send_bg[1:] &= raw[:-1] | (bg_val[1:] != bg_val[:-1])
        event = np.where(mono | colr | raw, np.arange(t), -1)
        np.maximum.accumulate(event, out=event)
        prev_evt = np.concatenate(([-1], event[:-1]))
        known = (prev_evt >= 0) & mono[np.maximum(prev_evt, 0)]
        send_fg = mono & ~(known & (fg_val[np.maximum(prev_evt, 0)] == fg_val))
        mask = (
            np.where(send_bg, _BG, 0)
            | np.where(mono | colr, _ANY, 0)
            | np.where(send_fg, _FG, 0)
            | np.where(colr, _COLOURED, 0)
        )
        mask_u8: npt.NDArray[np.uint8] = np.where(raw, _RAW, mask).astype(np.uint8)

        # Assemble every tile's segments from one pool with a single gather.
        pool_parts: list[npt.NDArray[np.uint8]] = [
            mask_u8,
            table_wire.reshape(-1),
            np.minimum(nsub, 255).astype(np.uint8),
            geo.reshape(-1),
            coloured.reshape(-1),
        ]
        base = np.cumsum([0] + [a.size for a in pool_parts]).tolist()
        m_base, tab_base, n_base, mono_base, col_base, raw_base = base
        if raw.any():
            raw_px = np.repeat(raw, lay.size)  # tile-ordered pixels of raw tiles
            raw_wire = table_wire[tc.pal_start[lay.tid[raw_px]] + tc.local[raw_px]]
            pool_parts.append(raw_wire.reshape(-1))
            raw_off = np.cumsum(np.where(raw, lay.size * bpp, 0)) - np.where(raw, raw_size, 0)
        else:
            raw_off = np.zeros(t, np.intp)
        pool = np.concatenate(pool_parts)
        seg_start = np.stack(
            [
                m_base + np.arange(t),
                tab_base + bg_entry * bpp,
                tab_base + fg_entry * bpp,
                n_base + np.arange(t),
                np.where(mono, mono_base + 2 * sub_off[:-1], col_base + (bpp + 2) * sub_off[:-1]),
                raw_base + raw_off,
            ],
            axis=1,
        )
        seg_len = np.stack(
            [
                np.ones(t, np.intp),
                send_bg * bpp,
                send_fg * bpp,
                (mono | colr).astype(np.intp),
                np.where(mono, 2 * nsub, np.where(colr, (bpp + 2) * nsub, 0)),
                np.where(raw, raw_size, 0),
            ],
            axis=1,
        )
        return gather_segments(pool, seg_start.reshape(-1), seg_len.reshape(-1)).tobytes()


def gather_segments(
    pool: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp], lengths: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint8]:
    """``pool[starts[0]:starts[0]+lengths[0]] + pool[starts[1]:...] + ...`` in one gather."""
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    total = int(lengths.sum())
    out_start = np.cumsum(lengths) - lengths
    idx = np.arange(total, dtype=np.intp) + np.repeat(starts - out_start, lengths)
    out: npt.NDArray[np.uint8] = pool[idx]
    return out
