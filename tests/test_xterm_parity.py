"""vncterm answers as xterm 379 answers: one program (``peers/probe_replies.py``) sends the same
probes to a real xterm under Xvnc and to vncterm, and records the replies; they must be equal,
but for the few listed in :data:`KNOWN` with their reason, which must differ.

The probes set something up and ask: settings (DECRQSS), modes (DECRQM), status reports (DSR,
DECXCPR), the size (``CSI 18 t``), and the screen read back through DECRQCRA one cell at a time,
which also checks what was drawn: REP only after a printed character, HT keeping a pending
wrap, CUU/CUD outside the scroll region, the cursor 1049 restores, DECRC and the pending wrap,
DECCOLM, DECSCNM, erases cancelling a pending wrap. Where vncterm answers differently on
purpose (DA, XTVERSION, pixel sizes) nothing is probed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import RunningVncterm
from peers.xvnc import XvncServer

pytestmark = [pytest.mark.peer, pytest.mark.slow]

PROBE = Path(__file__).resolve().parent / "peers" / "probe_replies.py"
#: Back to a known state between probes: DECSTR, clear, home, no margins, SGR 0.
FRESH = "\x1b[!p\x1b[2J\x1b[H\x1b[r\x1b[0m"


def cell(row: int, col: int) -> str:
    """DECRQCRA of one cell (request id = row * 1000 + col)."""
    return f"\x1b[{row * 1000 + col};1;{row};{col};{row};{col}*y"


def cpr() -> str:
    return "\x1b[6n"


PROBES: list[str] = [
    # DECRQSS
    FRESH + "\x1bP$qm\x1b\\",
    FRESH + "\x1b[1;4;5;7;33;104m\x1b[38;5;200m\x1bP$qm\x1b\\",
    FRESH + "\x1b[2;3;9;91m\x1b[48;2;1;2;3m\x1bP$qm\x1b\\",
    FRESH + "\x1b[5;20r\x1bP$qr\x1b\\",
    FRESH + "\x1bP$qr\x1b\\",
    FRESH + "\x1b[4 q\x1bP$q q\x1b\\",
    FRESH + "\x1b[1 q\x1bP$q q\x1b\\",
    FRESH + '\x1bP$q"q\x1b\\',
    FRESH + '\x1bP$q"p\x1b\\',
    FRESH + "\x1bP$qs\x1b\\",
    FRESH + "\x1bP$qz\x1b\\",
    # DECRQM
    FRESH + "\x1b[?7$p",
    FRESH + "\x1b[?2004h\x1b[?2004$p\x1b[?2004l",
    FRESH + "\x1b[?1000h\x1b[?1000$p\x1b[?1000l",
    FRESH + "\x1b[?1$p",
    FRESH + "\x1b[?6h\x1b[?6$p\x1b[?6l",
    FRESH + "\x1b[?25$p",
    FRESH + "\x1b[?1049$p",
    FRESH + "\x1b[?2$p",
    FRESH + "\x1b[?8$p",
    FRESH + "\x1b[20h\x1b[20$p\x1b[20l",
    FRESH + "\x1b[4h\x1b[4$p\x1b[4l",
    FRESH + "\x1b[1$p",
    FRESH + "\x1b[99$p",
    # status reports
    FRESH + "\x1b[3;7H\x1b[?6n",
    FRESH + "\x1b[3;7H\x1b[6n",
    FRESH + "\x1b[5n\x1b[?15n\x1b[?25n\x1b[?26n",
    FRESH + "\x1b[?53n\x1b[?55n\x1b[?56n\x1b[?62n\x1b[?63;9n\x1b[?75n\x1b[?85n",
    FRESH + "\x1b[18t",
    # DECRQCRA: characters, attributes, blanks, origin mode
    FRESH + "AB\x1b[1mC\x1b[0m\r\n\x1b[4;7mD\x1b[0m" + cell(1, 1) + cell(1, 3) + cell(2, 1),
    FRESH + "AB\x1b[1mC\x1b[0m\x1b[1;1;1;1;1;3*y\x1b[2;1;1;3;1;9*y\x1b[3;1;2;1;1;1*y",
    FRESH + "xyz\r\nuvw\x1b[2;3r\x1b[?6h\x1b[4;1;1;1;1;1*y\x1b[5;1*y\x1b[?6l",
    # REP only after a printed character
    FRESH + "ab\x1b[3b\x1b[2b" + cell(1, 5) + cell(1, 6),
    FRESH + "x\r\x1b[3b" + cell(1, 1) + cell(1, 2),
    FRESH + "y\x1b[C\x1b[3b" + cell(1, 3),
    FRESH + "z\x1b[1m\x1b[3b" + cell(1, 2),
    # erasing in the line (ECH, EL, DECSEL) or the display (ED) cancels a pending wrap
    *(
        FRESH + "\x1b[1;79Hab" + erase + "X" + cell(1, 79) + cell(1, 80) + cell(2, 1) + cpr()
        for erase in (
            "\x1b[X",
            "\x1b[3X",
            "\x1b[K",
            "\x1b[1K",
            "\x1b[2K",
            "\x1b[?K",
            "\x1b[J",
            "\x1b[1J",
            "\x1b[2J",
        )
    ),
    # HT at the last column keeps the pending wrap
    FRESH + "\x1b[1;79Hab\tX" + cell(1, 80) + cell(2, 1) + cpr(),
    # CUU/CUD from outside the scroll region
    FRESH + "\x1b[4;6r\x1b[2;3H\x1b[9A" + cpr() + "\x1b[9;1H\x1b[9B" + cpr(),
    FRESH + "\x1b[4;6r\x1b[5;1H\x1b[9A" + cpr() + "\x1b[1;1H\x1b[9B" + cpr(),
    FRESH + "\x1b[4;6r\x1b[5;1H\x1b[9B" + cpr() + "\x1b[24;1H\x1b[30A" + cpr(),
    # 1049 restores the cursor saved on entering
    FRESH + "\x1b[2;5H\x1b[?1049h\x1b[5;9H\x1b7\x1b[?1048h\x1b[4;1H\x1b[?1049l" + cpr(),
    # DECSC/DECRC keep the pending wrap, not DECAWM
    FRESH + "\x1b[?7h\x1b7\x1b[?7l\x1b8\x1b[1;79Habcd" + cpr() + "\x1b[?7h",
    FRESH + "\x1b[1;79Hab\x1b7\x1b[3;1H\x1b8X" + cell(2, 1) + cpr(),
    # CHT; XTSAVE / XTRESTORE
    FRESH + "\x1b[3I" + cpr() + "\x1b[99I" + cpr(),
    FRESH
    + "\x1b[?2004h\x1b[?1049hALT\x1b[?2004;1049;7s\x1b[?2004l\x1b[?7l\x1b[?1049l"
    + "\x1b[?2004;1049;7r\x1b[?2004$p\x1b[?1049$p\x1b[?7$p"
    + cell(1, 1)
    + "\x1b[?1049l",
    # SL/SR, DECIC/DECDC, DECBI/DECFI: columns of the scroll region
    FRESH
    + "abcdefghij\r\nklmnopqrst\r\nuvw\x1b[1;2r\x1b[1 @"
    + cell(1, 1)
    + cell(2, 1)
    + cell(3, 1),
    FRESH + "abcdefghij\r\nklmnopqrst\x1b[2 A" + cell(1, 1) + cell(1, 3) + cell(2, 3),
    FRESH + "abcdefghij\r\nklmnopqrst\x1b[1;3H\x1b[2'}" + cell(1, 3) + cell(1, 5) + cell(2, 5),
    FRESH + "abcdefghij\r\nklmnopqrst\x1b[1;3H\x1b[2'~" + cell(1, 3) + cell(2, 3) + cpr(),
    FRESH + "abc\x1b[H\x1b6" + cell(1, 1) + cell(1, 2) + cpr() + "\x1b[1;3H\x1b6" + cpr(),
    FRESH + "abc\x1b[1;80H\x1b9" + cell(1, 1) + cpr() + "\x1b[1;3H\x1b9" + cpr(),
    # rectangles: DECFRA, DECERA, DECSERA, DECCRA
    FRESH + "\x1b[1m\x1b[65;2;3;3;5$x\x1b[0m" + cell(2, 3) + cell(3, 5) + cell(1, 3) + cell(4, 5),
    FRESH + "abcdef\r\nghijkl\x1b[1;2;2;3$z" + cell(1, 1) + cell(1, 2) + cell(2, 3) + cell(2, 4),
    FRESH + "\x1b[4mabc\x1b[0m\x1b[1;2;1;2${" + cell(1, 1) + cell(1, 2) + cell(1, 3),
    FRESH + "abc\r\ndef\x1b[1;1;2;2;1;4;5;1$v" + cell(4, 5) + cell(5, 6) + cell(4, 7),
    FRESH + "abc\r\ndef\x1b[1;1;2;3;1;24;79;1$v" + cell(24, 79) + cell(24, 80) + cell(1, 1),
    FRESH + "abc\r\ndef\x1b[2;3r\x1b[?6h\x1b[1;1;1;3;1;2;1;1$v\x1b[?6l" + cell(3, 1) + cell(4, 1),
    # DECCARA/DECRARA, stream and rectangle (DECSACE)
    FRESH
    + "abcdef\r\nghijkl\x1b[1;2;2;3;1;4$r"
    + "".join(cell(r, c) for r, c in ((1, 2), (1, 4), (2, 1), (2, 3), (2, 4))),
    FRESH + "\x1b[2*xabcdef\r\nghijkl\x1b[1;2;2;3;1$r" + cell(2, 1) + cell(1, 4) + "\x1b[0*x",
    FRESH + "\x1b[1mab\x1b[0m\x1b[1;1;1;2;1;7$t" + cell(1, 1) + cell(1, 2) + cell(1, 3),
    FRESH + "\x1b[1;4mab\x1b[0m\x1b[1;1;1;1;0$r\x1b[1;2;1;2;$r" + cell(1, 1) + cell(1, 2),
    # protection: DECSCA spares cells from the selective erases only, SPA from every erase
    FRESH + 'a\x1b[1"qb\x1b[0"qc\x1b[?2J' + cell(1, 1) + cell(1, 2) + cell(1, 3),
    FRESH + 'a\x1b[1"qb\x1b[0"qc\x1b[2J' + cell(1, 2),
    FRESH + "a\x1bVb\x1bWc\x1b[2J" + cell(1, 1) + cell(1, 2) + '\x1b[0"q\x1b[2J',
    FRESH + 'ab\x1b[1"qc\x1b[0"qd\x1b[1;1H\x1b[?2K' + "".join(cell(1, c) for c in range(1, 5)),
    FRESH + "\x1bVab\x1bWcd\x1b[1;1H\x1b[4X" + cell(1, 1) + cell(1, 3) + '\x1b[0"q\x1b[2J',
    FRESH + 'a\x1b[1"qb\x1b[0"q\x1b[1;1;1;2${' + cell(1, 1) + cell(1, 2),
    FRESH + '\x1b[1"q\x1bP$q"q\x1b\\\x1b[0"q\x1bP$q"q\x1b\\',
    FRESH + '\x1b[1"q\x1b[0mX\x1b[0"q\x1b[?2J' + cell(1, 1),
    # reverse wraparound (45): BS and CUB into the line above
    FRESH + "\x1b[?45h\x1b[2;1H\x08X" + cell(1, 80) + cpr() + "\x1b[?45l",
    FRESH + "\x1b[?45h\x1b[1;1H\x08X" + cell(24, 80) + "\x1b[?45l",
    FRESH + "\x1b[?45h\x1b[3;5H\x1b[10D" + cpr() + "\x1b[1;2H\x1b[5D" + cpr() + "\x1b[?45l",
    FRESH + "\x1b[?45h\x1b[1;79Hab\x08" + cpr() + "\x1b[?45l",
    FRESH + "\x1b[?45h\x1b[?7l\x1b[2;1H\x08" + cpr() + "\x1b[?7h\x1b[?45l",
    FRESH + "\x1b[?45h\x1b[3;5r\x1b[3;1H\x08" + cpr() + "\x1b[?45$p\x1b[?45l",
    FRESH + "\x1b[?45h\x1b[!p\x1b[3;1H\x08" + cpr() + "\x1b[?45$p",  # DECSTR: off
    # DECCOLM under mode 40, and RIS back to 80 columns
    FRESH + "\x1b[?40h\x1b[?3h\x1b[18t\x1b[?3l\x1b[18t\x1b[?3h\x1bc\x1b[18t",
    # DECSCNM leaves the cells alone (their attributes read back the same)
    FRESH + "\x1b[7mR\x1b[0m\x1b[?5h" + cell(1, 1) + "\x1b[?5l" + cell(1, 1),
]

#: Probes vncterm answers differently for now, with the reason; checked strictly (the test
#: fails when one starts to match, so the entry goes). In xterm IND, LF, VT, FF, RI, ICH and DCH
#: cancel a pending wrap (the cursor stays on the last column, ICH/DCH work there), and CBT
#: leaves it pending; found by vttest 11.3.2.10 at 132 columns in an 80-column terminal.
KNOWN: dict[str, str] = {
    FRESH + "\x1b[5;79Hab" + op + "X" + cell(5, 80) + cell(6, 1) + cell(4, 80) + cpr(): (
        "grid.py's cursor functions (index, reverse_index, linefeed, CBT) and ICH/DCH keep "
        "a pending wrap: being rewritten for left/right margins"
    )
    for op in ("\x1bM", "\x1bD", "\n", "\x0b", "\x0c", "\x1b[@", "\x1b[P", "\x1b[Z")
}
PROBES += list(KNOWN)


def _wait_file(path: Path, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.1)
    return list(json.loads(path.read_text()))


def _command(probes: Path, out: Path) -> list[str]:
    return [sys.executable, str(PROBE), str(probes), str(out)]


def _xterm_replies(probes: Path, out: Path) -> list[str]:
    with XvncServer(geometry=(1024, 768)) as x:
        proc = subprocess.Popen(
            # VT420 (DECRQCRA and the VT420 reports); window ops on for CSI 18 t
            ["xterm", "-ti", "vt420", "-geometry", "80x24", "-xrm", "XTerm*allowWindowOps: true"]
            + ["-e", *_command(probes, out)],
            env=x.env(),
        )
        try:
            return _wait_file(out, 90)
        finally:
            proc.kill()
            proc.wait()


def _vncterm_replies(probes: Path, out: Path) -> list[str]:
    with RunningVncterm(_command(probes, out), cols=80, rows=24):
        return _wait_file(out, 90)


def test_replies_and_screen_read_back_equal_xterm_379(tmp_path: Path) -> None:
    probes = tmp_path / "probes.json"
    probes.write_text(json.dumps(PROBES))
    theirs = _xterm_replies(probes, tmp_path / "xterm.json")
    ours = _vncterm_replies(probes, tmp_path / "vncterm.json")
    assert len(theirs) == len(ours) == len(PROBES)
    diff = [
        f"{PROBES[i]!r}:\n  xterm:   {a!r}\n  vncterm: {b!r}"
        for i, (a, b) in enumerate(zip(theirs, ours, strict=True))
        if a != b and PROBES[i] not in KNOWN
    ]
    assert not diff, "\n".join(diff)
    now_equal = [p for p, a, b in zip(PROBES, theirs, ours, strict=True) if p in KNOWN and a == b]
    assert not now_equal, f"listed in KNOWN but answered as xterm now: {now_equal}"
    assert all(theirs), "a probe went unanswered: " + repr(theirs)
