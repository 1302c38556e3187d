"""vncterm answers as xterm 379 answers: one program (``peers/probe_replies.py``) sends the same
probes to a real xterm under Xvnc and to vncterm, and records the replies; they must be equal.

The probes set something up and ask: settings (DECRQSS), modes (DECRQM), status reports (DSR,
DECXCPR), the size (``CSI 18 t``), and the screen read back through DECRQCRA one cell at a time,
which also checks what was drawn: REP only after a printed character, HT keeping a pending
wrap, CUU/CUD outside the scroll region, the cursor 1049 restores, DECRC and the pending wrap,
DECCOLM, DECSCNM, erases cancelling a pending wrap; the left and right margins (DECLRMM,
DECSLRM) with everything they bound: printing and wrapping, CR/BS/CUB/CUF/HT, IND/RI/LF,
IL/DL/ICH/DCH/SU/SD, DECIC/DECBI/DECFI, IRM, REP, origin mode and the rectangles in it; the
identity (DA, DA2, DECSCL); and the colours a program sets and resets (OSC 4, 5, 10-12, 104,
110-112; xterm started with vncterm's default colours). Where vncterm answers differently on
purpose (XTVERSION, pixel sizes; OSC 105, which resets a special colour in vncterm as ctlseqs
says but not in xterm 379) nothing is probed.
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


def osc(body: str, end: str = "\x1b\\") -> str:
    return f"\x1b]{body}{end}"


#: Every colour back to its default after a probe that changed some.
UNCOLOUR = osc("104") + osc("105") + "".join(osc(str(code)) for code in range(110, 120))


def cell(row: int, col: int) -> str:
    """DECRQCRA of one cell (request id = row * 1000 + col)."""
    return f"\x1b[{row * 1000 + col};1;{row};{col};{row};{col}*y"


def cpr() -> str:
    return "\x1b[6n"


def cells(*at: tuple[int, int]) -> str:
    return "".join(cell(row, col) for row, col in at)


#: DECLRMM on, left and right margins at columns 3 and 6; and off again.
LRM, NO_LRM = "\x1b[?69h\x1b[3;6s", "\x1b[?69l"
#: Four rows of letters: row 1 "abcdefghij", row 2 "klmnopqrst", ...
LETTERS = "abcdefghij\r\nklmnopqrst\r\nuvwxyzABCD\r\nEFGHIJKLMN"


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
    # identity: DA, DA2 (a VT420, patch 379); DECSCL levels (7-bit) and what level 3 lacks
    FRESH + "\x1b[c\x1b[0c\x1b[>c\x1b[>0c",
    FRESH + '\x1b[62;1"p\x1b[c\x1bP$q"p\x1b\\\x1b[64;1"p\x1bP$q"p\x1b\\',
    FRESH + '\x1b[63;1"p\x1b[?1$p' + cell(1, 1) + '\x1b[64;1"p',
    # DECRQM of the modes xterm only keeps (DECBKM, DECSCLM, DECPFF, DECPEX, DECNRCM, DECHCCM)
    FRESH
    + "\x1b[?67$p\x1b[?67h\x1b[?67$p\x1b[?67l\x1b[?4h\x1b[?4$p\x1b[?4l"
    + "\x1b[?18$p\x1b[?19$p\x1b[?42h\x1b[?42$p\x1b[?42l\x1b[?60$p",
    # OSC 52: a query answers what the program set
    FRESH + "\x1b]52;s0;dGVzdGluZyAxMjM=\x07\x1b]52;s0;?\x07\x1b]52;;?\x1b\\",
    # DECSTR also ends SPA protection and resets the palette (xterm; the cursor's shape too, to
    # each terminal's own default: xterm's is steady, vncterm's blinks)
    FRESH + "\x1bVa\x1bW\x1b[!p\x1b[2J" + cell(1, 1),
    FRESH + "\x1b]4;1;#123456\x1b\\\x1b[!p\x1b]4;1;?\x1b\\",
    # DECSNLS and DECSLPP take effect before the next report
    FRESH + "\x1b[30*|\x1b[18t\x1b[26t\x1b[18t\x1b[24*|\x1b[18t",
    # colours a program sets (OSC 4, 5, 10-12), their resets (104, 105, 110-112), spec forms
    FRESH + osc("4;1;rgb:f0/00/00;2;#0f0") + osc("4;1;?;2;?") + osc("4;1;?", "\x07") + UNCOLOUR,
    FRESH
    + osc("4;1;rgb:1/2/3;2;rgb:123/4567/89;3;#fff;4;#123456789abc")
    + osc("4;1;?;2;?;3;?;4;?"),
    FRESH + osc("4;1;RED;2;DarkGreen;3;Gray50") + osc("4;1;?;2;?;3;?") + UNCOLOUR,
    FRESH
    + osc("4;1;CIEXYZ:0.5/0.5/0.5;2;rgbi:0.25/0.5/0.75;3;TekHVC:120/50/20;4;CIEuvY:0.5/0.5/0.5")
    + osc("4;5;CIELab:1/1/1;6;CIELuv:0.5/0.5/0.5;7;CIExyY:0.3127/0.329/0.5;8;cieXYZ:1/1/1")
    + osc("4;1;?;2;?;3;?;4;?;5;?;6;?;7;?;8;?")
    + UNCOLOUR,
    FRESH
    + osc("4;1;#ff0000;1;?;300;?;2;?")
    + osc("4;3;bogus;4;#123")
    + osc("4;3;?;4;?")
    + UNCOLOUR,
    FRESH
    + osc("4;256;#abcdef")
    + osc("5;0;?;1;?")
    + osc("5;1;#123456")
    + osc("4;257;?")
    + UNCOLOUR,
    FRESH + osc("4;1;#111;2;#222;200;#333") + osc("104;1;200") + osc("4;1;?;2;?;200;?") + UNCOLOUR,
    FRESH + osc("4;1;#111;255;#222") + osc("104") + osc("4;1;?;255;?"),
    FRESH + osc("4;4;rgb:0/0/0/") + osc("4;4;?") + osc("4;4;rgb:1/2/3/4") + osc("4;4;?") + UNCOLOUR,
    FRESH + osc("10;?;?;?") + osc("11;?") + osc("12;?"),
    FRESH + osc("10;#102030;#405060;#708090") + osc("10;?;?;?") + UNCOLOUR,
    FRESH + osc("11;#fff") + osc("110") + osc("111") + osc("10;?;?") + UNCOLOUR,
    FRESH + osc("12;red") + osc("112") + osc("12;?"),
    FRESH
    + osc("4;1;#0000ff")
    + osc("11;#010203")
    + "\x1bc"
    + osc("4;1;?")
    + osc("11;?")
    + UNCOLOUR,
    # left and right margins: DECSLRM only under DECLRMM (else CSI s is SCOSC), its reports
    FRESH + "\x1b[2;5H\x1b[3;6s\x1b[H\x1b[u" + cpr() + "\x1bP$qs\x1b\\\x1b[?69$p",
    FRESH + LRM + cpr() + "\x1bP$qs\x1b\\\x1b[?69$p\x1b[5;5s\x1bP$qs\x1b\\" + NO_LRM,
    FRESH + LRM + "\x1b[!p\x1b[?69$p\x1bP$qs\x1b\\",  # DECSTR resets DECLRMM
    # printing: wrap at the right margin to the left one; from right of it, at the edge
    FRESH + LRM + "\x1b[1;3Habcdefg" + cells((1, 6), (1, 7), (2, 3), (2, 5)) + cpr() + NO_LRM,
    FRESH + LRM + "\x1b[1;3Habcd" + cpr() + "\x1b7\x1b[5;1H\x1b8X" + cell(2, 3) + NO_LRM,
    FRESH + LRM + "\x1b[1;79Habc" + cells((1, 80), (2, 3)) + cpr() + NO_LRM,
    FRESH + "\x1b[1;79Hab\x1b[KX" + cells((1, 80), (2, 1)) + "\x1b[2;79Hab\x1b[XY" + cell(2, 80),
    FRESH + LRM + "\x1b[?7l\x1b[1;3Habcdefg" + cells((1, 6), (2, 3)) + "\x1b[?7h" + NO_LRM,
    FRESH + "0123456789" + LRM + "\x1b[4h\x1b[1;3HXY\x1b[4l" + cells((1, 3), (1, 6), (1, 7)),
    FRESH + LRM + "\x1b[1;3Ha\x1b[5b" + cells((1, 6), (2, 3), (2, 4), (2, 5)) + NO_LRM,
    # CR, BS, CUB, CUF, HT stop at the margins; CR from left of the left one goes to column 1
    FRESH
    + LRM
    + "\x1b[1;5H\r"
    + cpr()
    + "\x1b[1;2H\r"
    + cpr()
    + "\x1b[1;4H\x1b[9D"
    + cpr()
    + "\x1b[1;4H\x1b[9C"
    + cpr()
    + "\x1b[1;8H\x1b[99C"
    + cpr()
    + "\x1b[1;1H\t\t"
    + cpr()
    + NO_LRM,
    # IND, RI, LF outside the left/right margins at the bottom/top margin: no scroll
    FRESH + LETTERS + LRM + "\x1b[2;3r\x1b[3;4H\x1bD" + cells((2, 4), (3, 4), (2, 1)) + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[2;3r\x1b[3;8H\n" + cpr() + cells((2, 4), (3, 8)) + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[2;3r\x1b[2;4H\x1bM" + cells((2, 4), (3, 4), (3, 1)) + NO_LRM,
    # IL, DL, ICH, DCH, SU, SD inside the margins
    FRESH + LETTERS + LRM + "\x1b[2;4H\x1b[L" + cells((2, 4), (3, 4), (2, 1)) + cpr() + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[2;4H\x1b[2M" + cells((2, 4), (3, 4), (2, 8)) + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[2;8H\x1b[L\x1b[2;1H\x1b[M" + cells((2, 4), (3, 4)) + NO_LRM,
    FRESH + "abcdefghij" + LRM + "\x1b[1;4H\x1b[@" + cells((1, 4), (1, 6), (1, 7)) + NO_LRM,
    FRESH + "abcdefghij" + LRM + "\x1b[1;4H\x1b[2P" + cells((1, 4), (1, 5), (1, 6)) + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[S" + cells((1, 3), (1, 2), (4, 3)) + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[2T" + cells((1, 3), (3, 3), (3, 7)) + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[1;4H\x1b['}" + cells((1, 4), (1, 6), (1, 7)) + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[1;3H\x1b6" + cells((1, 3), (1, 4), (2, 6)) + cpr() + NO_LRM,
    FRESH + LETTERS + LRM + "\x1b[1;6H\x1b9" + cells((1, 5), (1, 6), (2, 3)) + cpr() + NO_LRM,
    # origin mode with both pairs of margins: CUP, CHA, VPA, HPR, VPR, CPR, rectangles
    FRESH
    + LRM
    + "\x1b[2;4r\x1b[?6h"
    + cpr()
    + "\x1b[2;3H"
    + cpr()
    + "\x1b[99;99H"
    + cpr()
    + "\x1b[2G"
    + cpr()
    + "\x1b[1d"
    + cpr()
    + "\x1b[9a"
    + cpr()
    + "\x1b[9e"
    + cpr()
    + "\x1b[?6l"
    + NO_LRM,
    FRESH
    + LRM
    + "\x1b[2;4r\x1b[?6h\x1b[88;1;1;9;9$x\x1b[1;1;1;1;1;1*y\x1b[?6l"
    + cells((2, 3), (2, 2), (4, 6), (4, 7), (5, 3))
    + NO_LRM,
]

#: In xterm IND, LF, VT, FF, RI, ICH and DCH cancel a pending wrap (the cursor stays on the
#: last column, ICH/DCH work there), and CBT leaves it pending; found by vttest 11.3.2.10 at 132
#: columns in an 80-column terminal.
PROBES += [
    FRESH + "\x1b[5;79Hab" + op + "X" + cell(5, 80) + cell(6, 1) + cell(4, 80) + cpr()
    for op in ("\x1bM", "\x1bD", "\n", "\x0b", "\x0c", "\x1b[@", "\x1b[P", "\x1b[Z")
]


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
            # vncterm's default colours (colours.DEFAULT_FG / DEFAULT_BG), which the colour
            # queries answer
            + ["-fg", "#e5e5e5", "-bg", "#000000"]
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
        if a != b
    ]
    assert not diff, "\n".join(diff)
    assert all(theirs), "a probe went unanswered: " + repr(theirs)
