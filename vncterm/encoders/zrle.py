"""ZRLE encoding (RFB spec section 7.7.7 "ZRLE Encoding").

The payload is a U32 length and zlib data from ONE stream kept for the whole connection. The
data holds 64x64 tiles (row-major); each starts with a subencoding byte: 0 raw CPIXELs, 1 solid,
2..16 packed palette (1, 2 or 4 bits per index, MSB first, each row padded to a byte), 128 plain
RLE (CPIXEL + run length), 130..255 palette RLE (index byte, top bit set when a run length
follows). Run lengths are written as bytes of 255 followed by one byte below 255, summing to
length - 1; runs may cross row boundaries but never tile boundaries.

The tile choice is computed for all tiles at once (colours, runs and sizes per tile); only the
assembly of each tile's bytes is a Python loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..rfb.constants import Encoding
from ..rfb.pixel_format import PixelFormat
from .analysis import (
    ALL_CLASSES,
    U32,
    Analysis,
    IntArr,
    analyse,
    run_starts,
    tile_colours,
    tile_layout,
    tile_start_mask,
)
from .base import MERGE_WIDE, Encoder, EncoderOptions
from .zstream import OneStream, zlib_level

TILE = 64

_RAW, _SOLID, _PACKED, _PLAIN_RLE, _PALETTE_RLE = 0, 1, 2, 3, 4


def cpixel_slice(pf: PixelFormat) -> slice | None:
    """Which wire bytes of a 32 bpp pixel form a 3-byte CPIXEL, or None for the full PIXEL
    (section 7.7.7; the rule lives in :meth:`PixelFormat.compact_bytes`)."""
    return pf.effective().compact_bytes()


def cpixels(pf: PixelFormat, rgb: U32) -> npt.NDArray[np.uint8]:
    """Pixels as CPIXEL bytes, shape ``rgb.shape + (cpixel size,)``."""
    wire = pf.to_wire(rgb)
    sl = cpixel_slice(pf)
    return wire if sl is None else np.ascontiguousarray(wire[..., sl])


def _run_length_bytes(lengths: IntArr) -> tuple[IntArr, IntArr]:
    """Per run: how many bytes its length takes, and the value of the last byte."""
    m = lengths - 1
    return m // 255 + 1, m % 255


def _pack(local: IntArr, th: int, tw: int, bits: int) -> bytes:
    """Palette indices of one tile packed ``bits`` per pixel, MSB first, rows padded."""
    idx = local.reshape(th, tw).astype(np.uint8)
    if bits == 1:
        return np.packbits(idx, axis=1).tobytes()
    per = 8 // bits
    pad = (-tw) % per
    if pad:
        idx = np.pad(idx, ((0, 0), (0, pad)))
    grouped = idx.reshape(th, -1, per)
    shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)
    packed: npt.NDArray[np.uint8] = np.bitwise_or.reduce(grouped << shifts, axis=2)
    return packed.astype(np.uint8).tobytes()


class ZrleEncoder(Encoder[OneStream]):
    """ZRLE with a per-tile choice of raw, solid, packed palette, plain RLE and palette RLE."""

    encoding = Encoding.ZRLE
    suits = ALL_CLASSES
    merge = MERGE_WIDE

    def new_state(self) -> OneStream:
        return OneStream()

    def encode(
        self,
        pixels: U32,
        pf: PixelFormat,
        options: EncoderOptions,
        state: OneStream,
        analysis: Analysis | None = None,
    ) -> bytes:
        """Payload of one ZRLE rectangle: U32 length + zlib data."""
        data = self.tiles(pixels, pf, analysis)
        body = state.at(zlib_level(options.compress_level, palette=True)).compress(data)
        return len(body).to_bytes(4, "big") + body

    def tiles(self, pixels: U32, pf: PixelFormat, analysis: Analysis | None = None) -> bytes:
        """The uncompressed tile data of a rectangle."""
        h, w = pixels.shape
        if h == 0 or w == 0:
            return b""
        if analysis is None:
            analysis = analyse(pixels)
        if analysis.colours is not None and analysis.indices is not None:
            fast = packed_tiles(analysis.indices, cpixels(pf, analysis.colours))
            if fast is not None:
                return fast
        return self._tiles_general(pixels, pf, analysis)

    def _tiles_general(self, pixels: U32, pf: PixelFormat, analysis: Analysis) -> bytes:
        """Any pixels: each tile takes the smallest of the five subencodings."""
        h, w = pixels.shape
        lay = tile_layout(w, h, TILE)
        tc = tile_colours(pixels, lay, analysis)
        cp = 3 if cpixel_slice(pf) is not None else pf.effective().bytes_per_pixel
        ncol = tc.ncol

        starts = run_starts(tc.key, tile_start_mask(lay))
        lengths = np.diff(np.append(starts, tc.key.size))
        run_tile = lay.tid[starts]
        nbytes, last = _run_length_bytes(lengths)
        t = lay.count
        plain = np.bincount(run_tile, weights=cp + nbytes, minlength=t)
        longrun = lengths > 1
        prle = ncol * cp + np.bincount(run_tile, weights=1 + longrun * nbytes, minlength=t)
        bits = np.where(ncol <= 2, 1, np.where(ncol <= 4, 2, 4))
        packed = ncol * cp + lay.th * ((lay.tw * bits + 7) // 8)
        raw = lay.size * cp
        big = np.iinfo(np.int64).max
        sizes = np.stack(
            [
                raw.astype(np.int64),
                np.where(ncol == 1, cp, big),
                np.where((ncol >= 2) & (ncol <= 16), packed, big),
                plain.astype(np.int64),
                np.where((ncol >= 2) & (ncol <= 127), prle.astype(np.int64), big),
            ]
        )
        choice = np.argmin(sizes, axis=0)

        table_wire = cpixels(pf, tc.table)
        runs_per_tile = np.bincount(run_tile, minlength=t)
        run_off = np.concatenate(([0], np.cumsum(runs_per_tile))).astype(np.intp)

        # Palette RLE bytes of every run, sliced per tile below.
        prle_bytes = b""
        prle_off = np.zeros(starts.size + 1, np.intp)
        if (choice == _PALETTE_RLE).any():
            total = 1 + longrun * nbytes
            prle_off[1:] = np.cumsum(total)
            out = np.full(int(prle_off[-1]), 255, np.uint8)
            out[prle_off[:-1]] = (tc.local[starts] & 0x7F) | (longrun.astype(np.intp) << 7)
            out[(prle_off[1:] - 1)[longrun]] = last[longrun]
            prle_bytes = out.tobytes()
        # Plain RLE bytes of every run.
        plain_bytes = b""
        plain_off = np.zeros(starts.size + 1, np.intp)
        if (choice == _PLAIN_RLE).any():
            total = cp + nbytes
            plain_off[1:] = np.cumsum(total)
            out = np.full(int(plain_off[-1]), 255, np.uint8)
            run_wire = table_wire[tc.pal_start[run_tile] + tc.local[starts]]
            for j in range(cp):
                out[plain_off[:-1] + j] = run_wire[:, j]
            out[plain_off[1:] - 1] = last
            plain_bytes = out.tobytes()
        raw_wire: npt.NDArray[np.uint8] | None = None
        if (choice == _RAW).any():
            raw_wire = table_wire[tc.pal_start[lay.tid] + tc.local]

        parts: list[bytes] = []
        ch = choice.tolist()
        nc = ncol.tolist()
        ps = tc.pal_start.tolist()
        st = lay.start.tolist()
        sz = lay.size.tolist()
        tws = lay.tw.tolist()
        ths = lay.th.tolist()
        ro = run_off.tolist()
        po = prle_off.tolist()
        lo = plain_off.tolist()
        bit_list = bits.tolist()
        for k in range(t):
            c = ch[k]
            if c == _SOLID:
                parts.append(b"\x01" + table_wire[ps[k]].tobytes())
            elif c == _PACKED:
                n = nc[k]
                parts.append(bytes((n,)) + table_wire[ps[k] : ps[k] + n].tobytes())
                parts.append(_pack(tc.local[st[k] : st[k] + sz[k]], ths[k], tws[k], bit_list[k]))
            elif c == _PALETTE_RLE:
                n = nc[k]
                parts.append(bytes((128 + n,)) + table_wire[ps[k] : ps[k] + n].tobytes())
                parts.append(prle_bytes[po[ro[k]] : po[ro[k + 1]]])
            elif c == _PLAIN_RLE:
                parts.append(b"\x80")
                parts.append(plain_bytes[lo[ro[k]] : lo[ro[k + 1]]])
            else:
                assert raw_wire is not None
                parts.append(b"\x00" + raw_wire[st[k] : st[k] + sz[k]].tobytes())
        return b"".join(parts)


#: Bit-mask dtypes for palettes of up to 8, 16, 32 and 64 colours (one bit per colour).
_MASK_TYPES = ((8, np.uint8), (16, np.uint16), (32, np.uint32), (64, np.uint64))


def packed_tiles(indices: npt.NDArray[np.uint8], table_wire: npt.NDArray[np.uint8]) -> bytes | None:
    """Tile data when every tile has at most 16 colours: solid tiles and packed palettes only.

    ``indices`` (h, w) index ``table_wire`` (the rectangle's palette as CPIXEL bytes, at most
    64 colours). Vectorised over all tiles: each pixel becomes a one-bit mask of its colour, OR
    over a tile gives the tile's palette, and a pixel's index in it is the number of palette
    bits below its own (a popcount). None when a tile has more than 16 colours: the caller then
    weighs RLE and raw tiles. The bytes are those section 7.7.7 prescribes (palette in
    ascending order, indices packed MSB first, each row padded to a byte).
    """
    p = int(table_wire.shape[0])
    dtype = next((t for n, t in _MASK_TYPES if p <= n), None)
    if dtype is None:
        return None
    h, w = indices.shape
    th_n, tw_n = -(-h // TILE), -(-w // TILE)
    hp, wp = th_n * TILE, tw_n * TILE
    one = dtype(1)
    bit = np.zeros((hp, wp), dtype)
    np.left_shift(one, indices, out=bit[:h, :w], dtype=dtype)
    tile_mask = np.bitwise_or.reduce(bit.reshape(th_n, TILE, wp), axis=1)
    tile_mask = np.bitwise_or.reduce(tile_mask.reshape(th_n, tw_n, TILE), axis=2)
    ncol = np.bitwise_count(tile_mask).astype(np.intp)  # (th_n, tw_n)
    if int(ncol.max()) > 16:
        return None
    # Each pixel's index in its tile's palette, in tile-major order (tile, row, col).
    below = (bit - one).reshape(th_n, TILE, tw_n, TILE)  # colours below each pixel's own
    np.bitwise_and(below, tile_mask[:, None, :, None], out=below)
    local = np.bitwise_count(below).astype(np.uint8)
    local[:, :, -1, w - (tw_n - 1) * TILE :] = 0
    local[-1, h - (th_n - 1) * TILE :] = 0
    tiles = np.ascontiguousarray(local.transpose(0, 2, 1, 3)).reshape(-1, TILE, TILE)
    ncol_f = ncol.reshape(-1)
    t = ncol_f.size
    bits_per = np.where(ncol_f <= 2, 1, np.where(ncol_f <= 4, 2, 4))
    bits_per[ncol_f == 1] = 0
    # Packed bodies, one group of tiles per index width.
    body: list[bytes] = [b""] * t
    for b in (1, 2, 4):
        sel = np.flatnonzero(bits_per == b)
        if sel.size == 0:
            continue
        v = tiles[sel]
        if b == 1:
            packed = np.packbits(v, axis=2)  # (n, 64, 8)
        elif b == 2:  # four indices per byte: p0 << 6 | p1 << 4 | p2 << 2 | p3
            u = v.view("<u4")
            packed = ((u << 6) | (u >> 4) | (u >> 14) | (u >> 24)).astype(np.uint8)
        else:  # two indices per byte: p0 << 4 | p1
            u2 = v.view("<u2")
            packed = ((u2 << 4) | (u2 >> 8)).astype(np.uint8)
        row_bytes = TILE * b // 8
        flat = packed.tobytes()
        size = TILE * row_bytes
        for j, k in enumerate(sel.tolist()):
            body[k] = flat[j * size : (j + 1) * size]
    # Edge tiles: fewer rows, and rows of tw * b bits rounded up to bytes.
    last_w = w - (tw_n - 1) * TILE
    last_h = h - (th_n - 1) * TILE
    if last_w < TILE or last_h < TILE:
        for k in range(t):
            ty, tx = divmod(k, tw_n)
            tw = last_w if tx == tw_n - 1 else TILE
            th = last_h if ty == th_n - 1 else TILE
            b = int(bits_per[k])
            if (tw < TILE or th < TILE) and b:
                full_row = TILE * b // 8
                rb = (tw * b + 7) // 8
                rows = np.frombuffer(body[k], np.uint8).reshape(TILE, full_row)
                body[k] = rows[:th, :rb].tobytes()
    # Headers: subencoding byte (1 solid, n packed) and the tile palette.
    present = ((tile_mask.reshape(-1)[:, None] >> np.arange(p, dtype=dtype)) & one).astype(bool)
    _, colour_of = np.nonzero(present)
    pal = table_wire[colour_of].tobytes()
    cp = int(table_wire.shape[1])
    starts = (np.concatenate(([0], np.cumsum(ncol_f)[:-1])) * cp).tolist()
    ends = (np.cumsum(ncol_f) * cp).tolist()
    nc = ncol_f.tolist()
    parts: list[bytes] = []
    for k in range(t):
        parts.append(_SUBENC_BYTE[nc[k]])
        parts.append(pal[starts[k] : ends[k]])
        parts.append(body[k])
    return b"".join(parts)


#: Subencoding byte of a tile with n colours: 1 (solid) for one, n (packed palette) for 2..16.
_SUBENC_BYTE = [bytes((max(1, n),)) for n in range(17)]
