"""Hostile console output for the terminal fuzz tests: arbitrary bytes biased toward escape
sequences (ESC [ ] P ^ _ X, digits, ``;`` ``:`` ``?``, string terminators, C1 controls, long
numbers), and the bytes that bring any terminal back to a known state afterwards."""

from __future__ import annotations

from hypothesis import strategies as st

#: Pieces hostile output is built from: sequence introducers, parameters (some longer than the
#: 4300 digits Python's int() accepts), finals, terminators, controls, odd UTF-8.
PIECES = [
    b"\x1b",
    b"\x1b[",
    b"\x1b]",
    b"\x1bP",
    b"\x1b^",
    b"\x1b_",
    b"\x1bX",
    b"\x1b\\",
    b"\x9b",
    b"\x9d",
    b"\x90",
    b"\x9c",
    b"\x07",
    b"\x18",
    b"\x1a",
    b"[",
    b"]",
    b"P",
    b"^",
    b"_",
    b";",
    b":",
    b"?",
    b">",
    b"<",
    b"=",
    b"!",
    b" ",
    b"$",
    b"#",
    b"(",
    b")",
    b"0",
    b"1",
    b"2",
    b"4",
    b"9",
    b"10",
    b"52",
    b"1049",
    b"9" * 40,
    b"5" * 5000,
    b"0" * 5000 + b"7",
    b"m",
    b"h",
    b"l",
    b"H",
    b"J",
    b"K",
    b"r",
    b"t",
    b"c",
    b"n",
    b"q",
    b"p",
    b"b",
    b"S",
    b"T",
    b"@",
    b"L",
    b"M",
    b"P",
    b"X",
    b"8",
    b"\n",
    b"\r",
    b"\t",
    b"\x08",
    b"\x0e",
    b"\x0f",
    b"\x00",
    b"\x7f",
    "²".encode(),
    "١".encode(),
    b"\xc3",
    b"\xe2\x80",
    b"\xcc\x81",
    b"\xff",
    "😀".encode(),
    b"x",
    b"wide\xe4\xb8\xad",
]

#: Cancels any sequence or string in progress, ends a string, resets the terminal (RIS).
RECOVER = b"\x18\x1b\\\x1bc"


def hostile() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, mostly built from :data:`PIECES`."""
    biased = st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join)
    return st.one_of(
        biased,
        st.binary(max_size=200),
        st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=8)), max_size=40).map(
            b"".join
        ),
    )
