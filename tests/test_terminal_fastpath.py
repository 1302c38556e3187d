"""The fast paths (bulk drawing, SGR cache, the flood skim) against the reference model.

``Emulator(fast=False)`` draws one character at a time and never skims; whatever the input and
however it is split, the fast emulator must end in the same state after every chunk: every
cell of both screens, line defaults and wrap flags, cursor, modes, margins, charsets, title,
replies, bells, the last character (REP), and the scrollback row for row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import captures
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vncterm.terminal.emulator import Char, Emulator
from vncterm.terminal.scrollback import Line, ScrollRow, line_from_row, make_row, row_from_line

pytestmark = pytest.mark.unit


def _lines(buf: Any, cols: int, rows: int) -> list[Any]:
    return [
        (tuple(buf[y][x] for x in range(cols)), buf[y].default, buf[y].wrapped) for y in range(rows)
    ]


def _savepoint(point: Any) -> Any:
    if point is None:
        return None
    c = point.cursor
    return (
        c.x,
        c.y,
        c.attrs,
        c.hidden,
        point.g0_charset,
        point.g1_charset,
        point.charset,
        point.origin,
        point.wrap,
    )


def state(emu: Emulator) -> dict[str, Any]:
    """Everything observable about the terminal (creates missing lines the same way in both)."""
    s = emu.screen
    other = s._other_buffer
    return {
        "size": (s.columns, s.lines),
        "screen": _lines(s.buffer, s.columns, s.lines),
        "other": _lines(other, s.columns, s.lines) if other is not None else None,
        "cursor": (s.cursor.x, s.cursor.y, s.cursor.attrs, s.cursor.hidden),
        "mode": sorted(s.mode),
        "margins": (s.margins, s.hmargins),
        "wrap_pending": s.wrap_pending,
        "alternate": s.alternate,
        "charset": (s.charset, s.g0_charset, s.g1_charset),
        "tabstops": sorted(s.tabstops),
        "last": s._last_char,
        "title": (s.title, s.icon_name),
        "saved": (
            _savepoint(s._saved[False]),
            _savepoint(s._saved[True]),
        ),
        "replies": emu.take_replies(),
        "bells": emu.take_bells(),
        "scrollback": list(emu.scrollback),
        "appended": emu.scrollback_appended,
        "generation": emu.scrollback_generation,
    }


def assert_same(fast: Emulator, ref: Emulator, where: str = "") -> None:
    a, b = state(fast), state(ref)
    for key in b:
        if a[key] != b[key]:
            if key in ("screen", "other"):
                for y, (la, lb) in enumerate(zip(a[key], b[key], strict=True)):
                    assert la == lb, f"{where}: {key} row {y} differs"
            if key == "scrollback":
                assert len(a[key]) == len(b[key]), f"{where}: scrollback length"
                for i, (ra, rb) in enumerate(zip(a[key], b[key], strict=True)):
                    assert ra == rb, f"{where}: scrollback row {i}: {ra} != {rb}"
            assert a[key] == b[key], f"{where}: {key}"


WORDS = [
    "a",
    "hello",
    "world ",
    "  ",
    "x" * 13,
    "yy" * 9,
    "é",
    "日本",
    "語",
    "e\u0301",
    "\u0301",
    "\u200d",
    "😀",
    "ＡＢ",
    "\u00ad",
    "z\ufe0f",
    "#",
    "q" * 40,
]
CONTROLS = [
    "\r\n",
    "\r\n",
    "\r\n",
    "\n",
    "\r",
    "\t",
    "\x08",
    "\x07",
    "\x0b",
    "\x00",
    "\x7f",
    "\x0e",
    "\x0f",
    "\x85",
    "\x9b",
]
SEQUENCES = [
    "\x1b[31m",
    "\x1b[0m",
    "\x1b[m",
    "\x1b[1;44m",
    "\x1b[38;5;196m",
    "\x1b[48:2::1:2:3m",
    "\x1b[7m",
    "\x1b[27m",
    "\x1b(B",
    "\x1b(0",
    "\x1b)0",
    "\x1b[H",
    "\x1b[3;5H",
    "\x1b[A",
    "\x1b[2C",
    "\x1b[5D",
    "\x1b[K",
    "\x1b[1K",
    "\x1b[2K",
    "\x1b[J",
    "\x1b[2J",
    "\x1b[1J",
    "\x1b[3J",
    "\x1b[2;4r",
    "\x1b[1;3r",
    "\x1b[r",
    "\x1bM",
    "\x1bD",
    "\x1bE",
    "\x1b[S",
    "\x1b[2T",
    "\x1b[L",
    "\x1b[M",
    "\x1b[2P",
    "\x1b[3@",
    "\x1b[2X",
    "\x1b[?1049h",
    "\x1b[?1049l",
    "\x1b[?47h",
    "\x1b[?47l",
    "\x1b[4h",
    "\x1b[4l",
    "\x1b[?7l",
    "\x1b[?7h",
    "\x1b[20h",
    "\x1b[20l",
    "\x1b[?5h",
    "\x1b[?5l",
    "\x1b[?6h",
    "\x1b[?6l",
    "\x1b[6n",
    "\x1b[5n",
    "\x1b[c",
    "\x1b[>c",
    "\x1b]0;title\x07",
    "\x1b]2;other\x1b\\",
    "\x1b[3b",
    "\x1bH",
    "\x1b[3g",
    "\x1b[g",
    "\x1b7",
    "\x1b8",
    "\x1b#8",
    "\x1bc",
    "\x1b[!p",
    "\x1b[18t",
    "\x1b[?25l",
    "\x1b[?25h",
    "\x1b[2 q",
    "\x1b[?40h\x1b[?3h",
    "\x1b[?3l",
    "\x1b[?1048h",
    "\x1b[?1048l",
    "\x1b[20C",
    "\x1b[2I",
    "\x1b[?7;1049s",
    "\x1b[?7;1049r",
    "\x1b[2 @",
    "\x1b[ A",
    "\x1b[2'}",
    "\x1b['~",
    "\x1b6",
    "\x1b9",
    "\x1b[88;1;1;2;3$x",
    "\x1b[2;2;3;3$z",
    "\x1b[1;1;2;2${",
    "\x1b[1;1;2;4;1;2;2;1$v",
    "\x1b[1;2;3;4;1;7$r",
    "\x1b[2*x\x1b[1;1;2;2;4$t",
    "\x1b[0*x",
    '\x1b[1"q',
    '\x1b[0"q',
    "\x1bV",
    "\x1bW",
    "\x1b[?J",
    "\x1b[?2K",
    "\x1b[?45h",
    "\x1b[?45l",
    "\x1b[3D",
    # left and right margins (DECLRMM, DECSLRM; CSI s is SCOSC without them), origin mode
    # with them, the relative moves, the curses fix, the conformance level
    "\x1b[?69h",
    "\x1b[?69h\x1b[2;5s",
    "\x1b[?69h\x1b[3;4s\x1b[?6h",
    "\x1b[?69l",
    "\x1b[s",
    "\x1b[u",
    "\x1b[2a",
    "\x1b[2e",
    "\x1b[?41h",
    "\x1b[?41l",
    '\x1b[63"p',
    '\x1b[64"p',
]

piece = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
    st.sampled_from(CONTROLS),
    st.sampled_from(CONTROLS),
    st.sampled_from(SEQUENCES),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x3000), max_size=6),
)
#: What the skim takes: text, line ends, TAB, BEL, SGR, ESC ( B.
SIMPLE = ["\r\n"] * 6 + [
    "\n",
    "\r",
    "\t",
    "\x07",
    "\x0b",
    "\x0c",
    "\x1b[31m",
    "\x1b[0m",
    "\x1b[44m",
    "\x1b(B\x1b[m",
    "\x1b[1;7m",
    "\x1b[m",
]
#: Mostly simple input, so that stretches are long enough to be skimmed.
simple = st.sampled_from(WORDS + SIMPLE + SIMPLE)
floody = st.one_of(*[simple] * 12, piece)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def run_both(
    data: bytes,
    cuts: list[int],
    cols: int,
    rows: int,
    scrollback: int,
    flood_lines: int = 0,
    resize: tuple[int, int] | None = None,
) -> Emulator:
    fast = Emulator(cols, rows, scrollback=scrollback)
    fast.parser.flood_lines = flood_lines
    ref = Emulator(cols, rows, scrollback=scrollback, fast=False)
    chunks = split(data, cuts)
    for i, chunk in enumerate(chunks):
        fast.feed(chunk)
        ref.feed(chunk)
        assert_same(fast, ref, f"after chunk {i} of {len(chunks)}")
        if resize is not None and i == len(chunks) // 2:
            fast.resize(*resize)
            ref.resize(*resize)
    return fast


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.sampled_from([simple, floody, st.one_of(floody, piece)]).flatmap(
        lambda s: st.lists(s, min_size=30, max_size=300)
    ),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
    cols=st.integers(2, 12),
    rows=st.integers(2, 6),
    scrollback=st.sampled_from([0, 3, 50]),
    flood_lines=st.sampled_from([0, 1, 2]),
)
def test_fast_equals_reference(
    parts: list[str], cuts: list[int], cols: int, rows: int, scrollback: int, flood_lines: int
) -> None:
    run_both("".join(parts).encode(), cuts, cols, rows, scrollback, flood_lines)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    block=st.lists(floody, min_size=1, max_size=40),
    times=st.integers(1, 40),
    cuts=st.lists(st.integers(0, 10**6), max_size=3),
    cols=st.integers(2, 10),
    rows=st.integers(2, 5),
    resize=st.tuples(st.integers(2, 12), st.integers(2, 6)),
)
def test_many_screenfuls_in_one_chunk(
    block: list[str], times: int, cuts: list[int], cols: int, rows: int, resize: tuple[int, int]
) -> None:
    """Repeated blocks: one chunk holds many screenfuls, so the skim takes most of them."""
    data = ("".join(block) + "\r\n") * times
    run_both(data.encode(), cuts, cols, rows, 20, resize=resize)


def test_the_skim_runs_and_matches_on_a_plain_flood() -> None:
    text = b"".join(b"line %d " % i + b"word " * (i % 23) + b"\r\n" for i in range(3000))
    fast = run_both(text, [70000, 140000], 80, 25, 10000)
    assert (
        fast.scrollback_appended
        == 3000 + 1 + sum((len(b"line %d " % i) + 5 * (i % 23) - 1) // 80 for i in range(3000)) - 25
    )
    assert fast.text()[-2].startswith("line 2999")
    assert fast.screen.rows_clean, "the skim took the flood"


def test_colour_flood_takes_the_skim_path() -> None:
    line = b"\x1b[0m\x1b[01;34mdir\x1b[0m  \x1b[38;5;208mfile.c\x1b[0m  plain\r\n"
    fast = run_both(line * 500 + b"\x07tail", [1000, 9000], 30, 8, 100)
    assert fast.screen.rows_clean
    row = fast.scrollback[-1]
    assert row.string() == "dir  file.c  plain"
    assert row.cells[0].fg == "blue" and row.cells[0].bold and row.cells[5].fg == "p208"


def test_queries_and_titles_inside_a_flood_are_answered() -> None:
    data = b"text\r\n" * 200 + b"\x1b[6n\x1b]0;T\x07" + b"more\r\n" * 200 + b"\x1b[c\x07"
    fast = run_both(data, [], 20, 5, 1000)
    assert fast.title == "T"


def test_overwrites_and_bare_line_feeds_in_a_flood() -> None:
    data = b"".join(b"%d%%\r" % i + b"progress\tbar\n\x1b[1mbold\r\n" for i in range(300))
    run_both(data, [5000], 16, 4, 200)
    cjk = ("日本語のテキスト e\u0301 한국어 \u0301x 😀\r\n" * 300).encode()
    run_both(cjk, [3001], 9, 3, 50)


def test_scrollback_rows_from_the_reference_model() -> None:
    emu = Emulator(6, 2, fast=False)
    emu.feed("ab\x1b[41mcdefgh\x1b[0m\r\n日本語x\r\n\x1b[44m\x1b[Kz\r\n".encode())
    rows = list(emu.scrollback)
    assert [r.string() for r in rows] == ["abcdef", "gh", "日本語", "x"]
    assert [r.wrapped for r in rows] == [True, False, True, False]
    assert rows[0].cells[2] == Char("c", bg="red") and rows[0].cells[0] == Char("a")
    assert rows[1].cells[5] == Char(" ") and rows[1].text == "gh"
    assert rows[2].text == ("日", "", "本", "", "語", "") and rows[2].fill is None
    assert emu.wrapped(0) is False and emu.text()[0] == "z     "
    assert emu.screen.buffer[0][3] == Char(" ", bg="blue")  # erased in the background colour
    emu.feed(b"\x1b[3J")
    assert not emu.scrollback and emu.scrollback_generation == 1
    assert emu.scrollback_appended == 4


def test_wrap_flags_follow_rows_and_erase_clears_them() -> None:
    emu = Emulator(4, 4)
    emu.feed(b"abcdefgh\r\n")
    assert [emu.wrapped(y) for y in range(4)] == [True, False, False, False]
    emu.feed(b"\x1b[1;1H\x1b[K")
    assert not emu.wrapped(0)
    emu.feed(b"\x1b[4;1Hwxyz12")
    assert emu.wrapped(2) and emu.scrollback[-1].string() == ""


def test_alternate_screen_and_margins_keep_out_of_the_scrollback() -> None:
    emu = Emulator(5, 3)
    emu.feed(b"\x1b[?1049h" + b"alt\r\n" * 10 + b"\x1b[?1049l")
    assert not emu.scrollback
    emu.feed(b"\x1b[2;3r\x1b[3;1H" + b"mid\r\n" * 5 + b"\x1b[r")
    assert not emu.scrollback
    emu.feed(b"\x1b[1;2r\x1b[2;1H" + b"top\r\n" * 4 + b"\x1b[r")
    assert [r.string() for r in emu.scrollback] == ["", "top", "top", "top"]


def test_resize_smaller_pushes_the_top_rows() -> None:
    emu = Emulator(5, 4)
    emu.feed(b"1\r\n2\r\n3\r\n4")
    emu.resize(5, 2)
    assert [r.string() for r in emu.scrollback] == ["1", "2"]
    assert emu.text() == ["3    ", "4    "]


@pytest.mark.parametrize(
    "cells",
    [
        [Char("a"), Char(" "), Char(" ")],
        [Char("a", fg="red"), Char(" ", fg="red"), Char(" ")],
        [Char(" ", bg="blue")] * 3,
        [Char("日"), Char(""), Char("x", bold=True)],
        [Char("E")] * 3,
        [Char("e\u0301"), Char(" "), Char(" ", bg="red")],
    ],
)
def test_rows_round_trip_and_are_canonical(cells: list[Char]) -> None:
    line = Line(Char(" "))
    line.update(enumerate(cells))
    row = row_from_line(line, 3, False)
    assert row.cells == tuple(cells)
    assert [row.cell(x) for x in range(3)] == cells
    back = line_from_row(row, Char(" "))
    assert [back[x] for x in range(3)] == cells
    pieces: list[Any] = [([c.data], tuple(c)[1:]) for c in cells[:2]]
    assert make_row(pieces, 3, cells[2], False) == row  # the last cell as the fill
    assert isinstance(row, ScrollRow)


def test_recorded_captures_flood_through_the_fast_path(capture_paths: list[Path]) -> None:
    """Real program output (ls, gcc, top, vim, htop), whole and in the recorded chunks."""
    for path in capture_paths:
        cap = captures.load(path)
        fast = Emulator(cap.cols, cap.rows)
        fast.parser.flood_lines = 4
        ref = Emulator(cap.cols, cap.rows, fast=False)
        for _ms, chunk in cap.chunks:
            fast.feed(chunk)
            ref.feed(chunk)
        assert_same(fast, ref, path.name)
        whole = Emulator(cap.cols, cap.rows)
        whole.feed(cap.data * 3)
        ref = Emulator(cap.cols, cap.rows, fast=False)
        ref.feed(cap.data * 3)
        assert_same(whole, ref, path.name + " as one chunk")


def test_rows_built_by_the_skim_are_not_trusted_after_other_writes() -> None:
    flood = b"".join(b"flood line %d\r\n" % i for i in range(60))
    for poke in (b"\x1b[1;1Hpoked", b"\x1b[2;3H\x1b[K", b"\x1b[3;1H\xc3\xa9\xcc\x81"):
        run_both(flood + poke + flood, [len(flood), len(flood) + len(poke)], 20, 6, 500)


def test_plain_flood_rows_are_kept_as_text_and_read_back_equal() -> None:
    """A flood of plain lines (long ones wrapping, form feeds, a CR LF cut by the chunk end)
    goes to the scrollback as bare texts; reading them back gives the reference's rows."""
    lines = [b"x" * (i % 170) + b" end %d" % i if i % 7 else b"\x0c" for i in range(4000)]
    text = b"\r\n".join(lines) + b"\r\n"
    cut = text.index(b"\r\n", 50000) + 1  # between the CR and the LF
    fast = run_both(text, [cut, cut + 60000], 80, 25, 10000)
    lazy = sum(isinstance(row, str) for row in fast.scrollback._rows)
    assert lazy > 5000, f"only {lazy} rows kept as text: the flood path did not take them"


def test_wide_text_flood_rows_are_kept_as_text_and_read_back_equal() -> None:
    """Lines of CJK (some too long for a row, some with combining marks or TABs) in a flood:
    the ones that fit are kept as bare text; every row reads back as the reference's."""
    words = ["漢字", "かな", "한국어", "ＡＢ", "e\u0301", "\t", "x", "😀", "—"]
    lines = [
        "".join(words[(i * 7 + k) % len(words)] for k in range(i % 40)) + f" {i}"
        for i in range(3000)
    ]
    text = ("\r\n".join(lines) + "\r\n").encode()
    fast = run_both(text, [40000, 90000], 80, 25, 10000)
    wide = sum(1 for ctx in fast.scrollback._ctx if ctx is not None and ctx[4])
    assert wide > 100, f"only {wide} wide rows kept as text: the flood path did not take them"
