"""Programs and files for the end-to-end peer tests (tests/test_e2e_peers.py).

``python3 tests/e2e_programs.py demo`` draws the README screenshot's screen: colours (16, 256 and
24-bit), attributes, box drawing and UTF-8, all deterministic (no dates, no PIDs, no host names),
then waits for input so vncterm keeps serving it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ESC = "\x1b"
RESET = f"{ESC}[0m"


def sgr(*codes: int) -> str:
    return f"{ESC}[{';'.join(str(c) for c in codes)}m"


def fg256(n: int) -> str:
    return sgr(38, 5, n)


def bg256(n: int) -> str:
    return sgr(48, 5, n)


def fg_rgb(r: int, g: int, b: int) -> str:
    return sgr(38, 2, r, g, b)


def bg_rgb(r: int, g: int, b: int) -> str:
    return sgr(48, 2, r, g, b)


COLS = 80


def _pad(text: str, visible: int, width: int) -> str:
    return text + " " * (width - visible)


def demo_screen() -> str:
    """The demo screen as terminal output for an 80x24 terminal (23 lines, then a prompt)."""
    out: list[str] = []
    # 1: title bar
    title = "vncterm: a terminal in every VNC viewer"
    left = (COLS - len(title)) // 2
    out.append(sgr(1, 97, 44) + " " * left + title + " " * (COLS - left - len(title)) + RESET)
    # 2: prompt and a command
    out.append(
        sgr(1, 32)
        + "user@demo"
        + RESET
        + ":"
        + sgr(1, 34)
        + "~/project"
        + RESET
        + "$ ls --color -F"
    )
    # 3-4: an ls-like listing (fixed names)
    entries = [
        (sgr(1, 34), "docs/"),
        (sgr(1, 34), "fonts/"),
        (sgr(1, 34), "tests/"),
        (sgr(1, 34), "vncterm/"),
        ("", "README.md"),
        ("", "pyproject.toml"),
        (sgr(1, 32), "run-demo*"),
        (sgr(1, 31), "release.tar.gz"),
        (sgr(1, 36), "latest@"),
        (sgr(1, 35), "logo.png"),
    ]
    line, used, column = "", 0, 16
    for style, name in entries:
        if used + column > COLS:
            out.append(line)
            line, used = "", 0
        line += style + name + RESET + " " * (column - len(name))
        used += column
    out.append(line)
    # 5-11: a rounded box with a table drawn with box-drawing characters
    inner = COLS - 4
    out.append(
        fg256(39)
        + "╭─"
        + sgr(1)
        + " What a viewer gets "
        + sgr(22)
        + "─" * (inner + 1 - 20)
        + "╮"
        + RESET
    )
    rows = [
        ("encodings", "Tight  ZRLE  Hextile  Zlib  RRE  Raw", 82),
        ("pixels", "8, 16, 32 bpp · either byte order · colour maps", 214),
        ("keys", "xterm keys · Ctrl/Alt · F1–F20 · Unicode keysyms", 177),
        ("viewers", "TigerVNC · noVNC · gtk-vnc · libvncclient · vncdotool", 45),
    ]
    for label, text, colour in rows:
        row = f" {sgr(1)}{fg256(colour)}{label:<10}{RESET}{fg256(39)}│{RESET} {text}"
        visible = 1 + 10 + 1 + 1 + len(text)
        out.append(
            fg256(39) + "│" + RESET + _pad(row, visible, inner + 2) + fg256(39) + "│" + RESET
        )
    out.append(fg256(39) + "╰" + "─" * (inner + 2) + "╯" + RESET)
    # 12: the 16 colours as swatches
    line = " 16 colours  "
    for n in range(8):
        line += sgr(40 + n) + "  " + sgr(100 + n) + "  " + RESET + " "
    out.append(line)
    # 13: attributes
    out.append(
        " attributes  "
        + sgr(1)
        + "bold"
        + RESET
        + "  "
        + sgr(4)
        + "underline"
        + RESET
        + "  "
        + sgr(7)
        + "reverse"
        + RESET
        + "  "
        + sgr(1, 33)
        + "bold yellow"
        + RESET
        + "  "
        + sgr(30, 43)
        + " black on yellow "
        + RESET
    )
    # 14-15: 256-colour cube and grey ramp
    line = " 256 colours "
    for n in range(16, 232, 4):
        line += bg256(n) + " "
    out.append(line + RESET)
    line = " grey ramp   "
    for n in range(232, 256):
        line += bg256(n) + "  "
    out.append(line + RESET + "           ")
    # 16-17: 24-bit gradients in half blocks (two pixels rows per cell)
    for band in range(2):
        line = " 24-bit      " if band == 0 else "             "
        for i in range(66):
            t = i / 65
            top = _rainbow(t, 0.5 + band * 0.25)
            bottom = _rainbow(t, 0.625 + band * 0.25)
            line += fg_rgb(*top) + bg_rgb(*bottom) + "▀"
        out.append(line + RESET)
    # 18-20: UTF-8
    out.append(
        " UTF-8       "
        + fg256(220)
        + "Grüße"
        + RESET
        + " · "
        + fg256(117)
        + "Ελληνικά"
        + RESET
        + " · "
        + fg256(210)
        + "Русский"
        + RESET
        + " · ½ ¾ → ⇒ ∞ ≠ ✓ ✗ ★ ♥"
    )
    out.append(
        "             " + fg256(156) + "中文 日本語 한국어" + RESET + "  café  naïve  " + "░▒▓█ ◆ ●"
    )
    out.append("")
    # 21-22: a progress bar and a status line
    done = 46
    out.append(
        " progress    "
        + sgr(32)
        + "█" * done
        + sgr(90)
        + "░" * (60 - done)
        + RESET
        + sgr(1)
        + f" {done * 100 // 60:3d}%"
        + RESET
    )
    out.append(
        " status      "
        + sgr(1, 32)
        + "✓ ok"
        + RESET
        + "   "
        + sgr(1, 33)
        + "⚠ warning"
        + RESET
        + "   "
        + sgr(1, 31)
        + "✗ error"
        + RESET
        + "   "
        + sgr(2)
        + "dim"
        + RESET
        + "   "
        + sgr(3)
        + "italic"
        + RESET
    )
    # 24: the prompt with the cursor after it
    text = "\r\n".join(out) + "\r\n"
    text += sgr(1, 32) + "user@demo" + RESET + ":" + sgr(1, 34) + "~/project" + RESET + "$ "
    return text


def _rainbow(t: float, light: float) -> tuple[int, int, int]:
    """A hue sweep (t in 0..1) at lightness ``light`` (0..1), integer RGB."""
    import colorsys

    r, g, b = colorsys.hls_to_rgb(t * 0.85, light * 0.6 + 0.1, 0.9)
    return round(r * 255), round(g * 255), round(b * 255)


UTF8_TEXT = """\
UTF-8 sampler
Latin-1:   café, naïve, Grüße, jalapeño, smørrebrød, ½ ¾ ¿ ¡ © ®
Latin Ext: Łódź, Dvořák, Ærøskøbing, ŝtupo, Ğ ğ İ ı
Greek:     Ελληνικά · αβγδεζηθ ΑΒΓΔ
Cyrillic:  Русский язык · Українська · Ђ Љ Њ
Symbols:   → ← ↑ ↓ ⇒ ⇔ ∀ ∃ ∈ ∞ ≈ ≠ ≤ ≥ √ ∑ ∫ € £ ¥ • … ‰ ™
Dingbats:  ✓ ✗ ★ ☆ ♠ ♣ ♥ ♦ ☺ ☼ ♪ ♫
Wide:      中文字符 日本語 ひらがな カタカナ 한국어 ｆｕｌｌ
Combining: e\u0301 a\u0300 o\u0308 n\u0303 (decomposed) é à ö ñ (precomposed)
\u0301 a combining acute at column 0
Blocks:    ░░▒▒▓▓██ ▀▄▌▐ ▖▗▘▙▚▛▜▝▞▟
Box:       ┌─┬─┐ ╔═╦═╗ ╭─╮ ┏━┳━┓
           │ │ │ ║ ║ ║ │ │ ┃ ┃ ┃
           ├─┼─┤ ╠═╬═╣ ╰─╯ ┣━╋━┫
           └─┴─┘ ╚═╩═╝     ┗━┻━┛
"""

VIM_FILE = '''\
#!/usr/bin/env python3
"""A small file for vim's syntax colours."""

import sys
from dataclasses import dataclass


@dataclass
class Cell:
    char: str = " "
    fg: int = 7  # white
    bg: int = 0  # black
    bold: bool = False


def render(cells: list[Cell], width: int = 80) -> str:
    """Join cells into lines of ``width`` characters."""
    text = "".join(c.char for c in cells)
    lines = [text[i:i + width] for i in range(0, len(text), width)]
    return "\\n".join(lines)


if __name__ == "__main__":
    print(render([Cell("x", bold=True)] * 100, width=int(sys.argv[1])))
    sys.exit(0)
'''


def write_files(directory: Path) -> dict[str, Path]:
    """Write the UTF-8 sampler and the file for vim into ``directory``."""
    files = {"utf8": directory / "utf8.txt", "vim": directory / "cells.py"}
    files["utf8"].write_text(UTF8_TEXT, encoding="utf-8")
    files["vim"].write_text(VIM_FILE, encoding="utf-8")
    return files


def main(argv: list[str]) -> int:
    if argv[1:] == ["demo"]:
        sys.stdout.write(demo_screen())
        sys.stdout.flush()
        sys.stdin.read()  # stay until the terminal goes away
        return 0
    print(f"usage: {argv[0]} demo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
