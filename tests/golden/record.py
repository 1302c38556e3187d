#!/usr/bin/env python3
"""Records the golden captures and renders their reviewed PNGs.

    python tests/golden/record.py capture [NAME...]   # run the programs, write NAME.bin/.json
    python tests/golden/record.py png [NAME...]       # replay captures, write NAME-CHECKPOINT.png
    python tests/golden/record.py bench [NAME...]     # time parsing and rendering the captures

A capture is every byte a real program wrote to an 80x24 pty (TERM=xterm-256color, C.UTF-8)
while we typed scripted keys. ``NAME.json`` lists checkpoints: byte offsets at which the screen
is compared with ``NAME-CHECKPOINT.png``. Captures are recorded once and committed, so replays
are deterministic; only re-record when a scenario changes, then review every PNG by eye.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fcntl import ioctl
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if __name__ == "__main__":  # run as a script: this tree's vncterm
    sys.path.insert(0, str(ROOT))

COLS, ROWS = 80, 24
#: Captures checked against a reference emulator (tests/test_vttest.py), not against PNGs.
NO_PNG = {"vttest"}
FONT_SIZE = 15

SAMPLE_PY = '''#!/usr/bin/env python3
"""A sample file for the vim golden screen."""

import sys


def greet(name: str, times: int = 3) -> list[str]:
    # Say hello a few times.
    return [f"hello, {name}!" for _ in range(times)]


if __name__ == "__main__":
    for line in greet(sys.argv[1] if len(sys.argv) > 1 else "world"):
        print(line)
'''

UNICODE_TXT = """UTF-8 sampler: Latin, Greek, Cyrillic, CJK, emoji, marks, lines
Français: déjà vu, crème brûlée; Deutsch: Straße, Größe; Ελληνικά: αβγδε
Русский: Съешь же ещё этих мягких французских булок
日本語: 色はにほへと散りぬるを  中文: 我能吞下玻璃而不伤身体
한국어: 다람쥐 헌 쳇바퀴에 타고파  Wide: ＡＢＣ１２３
Emoji: 😀 🎉 👍 🚀 ✅ ❌ ★ ♥   Symbols: → ← ↑ ↓ ∑ ∞ ≠ ≤ ≥ ± ° €
Combining: e\u0301 a\u0308 n\u0303 o\u0302 u\u0306 (decomposed)   Braille: ⠁⠃⠉⠙⠑
┌────────┬────────┐  ╔════════╦════════╗  ┏━━━━━━━━┳━━━━━━━━┓  ╭────────╮
│ light  │ box    │  ║ double ║ box    ║  ┃ heavy  ┃ box    ┃  │ round  │
├────────┼────────┤  ╠════════╬════════╣  ┣━━━━━━━━╋━━━━━━━━┫  ╰────────╯
└────────┴────────┘  ╚════════╩════════╝  ┗━━━━━━━━┻━━━━━━━━┛
Blocks: ▁▂▃▄▅▆▇█ ▏▎▍▌▋▊▉ ░▒▓ ▖▗▘▙▚▛▜▝▞▟ ▀▐  Dashes: ┄┅┆┇┈┉┊┋╌╍╎╏ Diag: ╱╲╳
Missing glyph: [\U000f0000] private use, [\u0378] unassigned
"""

CHART_256 = r"""
import sys
w = sys.stdout.write
w("256-colour chart (SGR 38;5 / 48;5)\r\n")
for i in range(16):
    w(f"\x1b[48;5;{i}m{i:4d}")
w("\x1b[0m\r\n")
for row in range(12):
    for col in range(18):
        n = 16 + row * 18 + col
        fg = 16 if (n - 16) % 36 >= 18 else 231
        w(f"\x1b[38;5;{fg};48;5;{n}m{n:4d}")
    w("\x1b[0m\r\n")
for i in range(232, 256):
    w(f"\x1b[48;5;{i}m{i - 232:3d}")
w("\x1b[0m\r\n")
for i in range(16):
    w(f"\x1b[38;5;{i}m fg{i:<2d}")
w("\x1b[0m\r\n")
w("\x1b[1mbold\x1b[0m \x1b[2mfaint\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munderline\x1b[0m "
  "\x1b[7mreverse\x1b[0m \x1b[8mhidden\x1b[0m \x1b[9mstrike\x1b[0m "
  "\x1b[1;3;4mall three\x1b[0m \x1b[1;31mbold red\x1b[0m\r\n")
"""

CHART_TRUECOLOR = r"""
import colorsys, sys
w = sys.stdout.write
w("truecolor chart (SGR 38;2 / 48;2, and the colon form 48:2::r:g:b)\r\n")
for row in range(16):
    for col in range(80):
        r, g, b = (int(c * 255) for c in colorsys.hsv_to_rgb(col / 80, 1 - row / 20, 1))
        w(f"\x1b[48;2;{r};{g};{b}m ")
    w("\x1b[0m\r\n")
for col in range(80):
    v = col * 255 // 79
    w(f"\x1b[48:2::{v}:{v}:{v}m ")
w("\x1b[0m\r\n")
for col in range(80):
    v = col * 255 // 79
    w(f"\x1b[38;2;{255 - v};{v};128m\u2588")
w("\x1b[0m\r\n")
w("\x1b[38;2;255;128;0;48;2;0;0;96m orange on navy \x1b[0m "
  "\x1b[4:3m\x1b[58:2::255:0:0mcurly red underline\x1b[59m\x1b[0m\r\n")
"""


@dataclass
class Scenario:
    """A program to run and keys to type: (seconds to wait, keys, checkpoint before them)."""

    command: list[str]
    steps: list[tuple[float, bytes, str | None]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    answer: bool = False  # answer the program's queries (DA, CPR) as vncterm's emulator would


SHELL_PRELUDE = "printf 'vncterm golden screen: before the program\\n'; ls -1 /etc | head -5; "


def _sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


SCENARIOS: dict[str, Scenario] = {
    "vim": Scenario(
        _sh(SHELL_PRELUDE + "vim -N -u vimrc -i NONE sample.py; printf 'after vim\\n'"),
        [
            (1.5, b"5G", None),
            (0.5, b"A  # edited\x1b", None),
            (0.5, b":q!\r", "running"),
            (0.8, b"", "after"),
        ],
        files={
            "sample.py": SAMPLE_PY,
            "vimrc": "syntax on\nset number\nset laststatus=2\nset ruler\n"
            "set cursorline\nset t_Co=256\ncolorscheme default\n",
        },
    ),
    "less": Scenario(
        _sh(SHELL_PRELUDE + "less -R unicode.txt; printf 'after less\\n'"),
        [(1.0, b"", None), (0.2, b"q", "running"), (0.5, b"", "after")],
        files={"unicode.txt": UNICODE_TXT * 3},
        env={"LESS": "", "LESSHISTFILE": "-"},
    ),
    "top": Scenario(
        _sh(SHELL_PRELUDE + "top -d 10; printf 'after top\\n'"),
        [(1.5, b"", None), (0.1, b"q", "running"), (0.5, b"", "after")],
    ),
    "htop": Scenario(
        _sh(SHELL_PRELUDE + "htop -d 100; printf 'after htop\\n'"),
        [(2.0, b"", None), (0.1, b"q", "running"), (0.5, b"", "after")],
    ),
    "mc": Scenario(
        _sh("mc --nosubshell /etc /usr; printf 'after mc\\n'"),
        [(2.5, b"", None), (0.2, b"\x1b[21~", "running"), (0.8, b"", "after")],
        env={"HOME": "{tmp}"},
    ),
    "dialog": Scenario(
        _sh(
            SHELL_PRELUDE + "dialog --title 'vncterm' --checklist 'Pick some:' 12 50 4 "
            "a 'Alternate screen' on b 'Box drawing' off c 'Colours' on d 'Unicode ✓' off; "
            "printf '\\nafter dialog\\n'"
        ),
        [(1.5, b" ", None), (0.5, b"", "running"), (0.2, b"\r", None), (0.8, b"", "after")],
    ),
    "tmux": Scenario(
        _sh(
            "tmux -L vncterm-golden -f /dev/null new-session -s g "
            '"sh -c \'PS1=\\"$ \\" exec sh -i\'" \\; split-window -h '
            "\"sh -c 'PS1=\\\"> \\\" exec sh -i'\"; printf 'after tmux\\n'"
        ),
        [
            (1.5, b"echo right pane; printf '\\033[1;32mgreen\\033[0m\\n'\r", None),
            (0.5, b"\x02o", None),
            (0.5, b"echo left pane; printf '\\302\\265 \\346\\227\\245\\346\\234\\254\\n'\r", None),
            (0.8, b"", "running"),
            (0.1, b"exit\r", None),
            (0.8, b"exit\r", None),
            (1.0, b"", "after"),
        ],
    ),
    "vttest": Scenario(
        ["vttest"],
        [(1.0, b"1\r", None)]
        + [(1.0, b"\r", f"screen{i}") for i in range(1, 7)]
        + [(1.0, b"0\r", "menu")],
        answer=True,
    ),
    "unicode": Scenario(
        _sh("cat unicode.txt"), [(0.8, b"", "final")], files={"unicode.txt": UNICODE_TXT}
    ),
    "colours256": Scenario(["python3", "-c", CHART_256], [(0.8, b"", "final")]),
    "truecolor": Scenario(["python3", "-c", CHART_TRUECOLOR], [(0.8, b"", "final")]),
}


def record(name: str, scenario: Scenario) -> tuple[bytes, list[tuple[str, int]]]:
    """Run the scenario under a fresh pty; its output and checkpoint offsets."""
    with tempfile.TemporaryDirectory(prefix="vncterm-golden-") as tmp:
        for fname, content in scenario.files.items():
            Path(tmp, fname).write_text(content)
        env = {
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": tmp,
            "COLUMNS": str(COLS),
            "LINES": str(ROWS),
            "TZ": "UTC",
        }
        env.update({k: v.replace("{tmp}", tmp) for k, v in scenario.env.items()})
        master, slave = pty.openpty()
        ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        proc = subprocess.Popen(
            scenario.command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=tmp,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        out = bytearray()
        checkpoints: list[tuple[str, int]] = []
        from vncterm.terminal.emulator import Emulator

        responder = Emulator(COLS, ROWS)

        def pump(seconds: float) -> None:
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                ready, _, _ = select.select([master], [], [], left)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    out.extend(chunk)
                    if scenario.answer:
                        responder.feed(chunk)
                        replies = responder.take_replies()
                        if replies:
                            os.write(master, replies)

        for wait, keys, checkpoint in scenario.steps:
            pump(wait)
            if checkpoint:
                checkpoints.append((checkpoint, len(out)))
            for key in _chunks(keys):
                os.write(master, key)
                pump(0.05)
        pump(0.5)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
        os.close(master)
        subprocess.run(["tmux", "-L", "vncterm-golden", "kill-server"], capture_output=True)
        return bytes(out), checkpoints


def _chunks(keys: bytes) -> Iterator[bytes]:
    """Keys one at a time, escape sequences whole (so programs parse them as one key)."""
    i = 0
    while i < len(keys):
        if keys[i] == 0x1B and i + 1 < len(keys) and keys[i + 1] == ord("["):
            j = i + 2
            while j < len(keys) and not 0x40 <= keys[j] <= 0x7E:
                j += 1
            yield keys[i : j + 1]
            i = j + 1
        else:
            yield keys[i : i + 1]
            i += 1


def checkpoints(name: str) -> list[tuple[str, int]]:
    """The (checkpoint, byte offset) pairs of capture ``name``."""
    data = json.loads((HERE / f"{name}.json").read_text())
    return [(str(c), int(o)) for c, o in data["checkpoints"]]


def replay(data: bytes, upto: int, cols: int = COLS, rows: int = ROWS) -> object:
    """Emulator + renderer after feeding ``data[:upto]`` in uneven chunks; the renderer."""
    from vncterm.render.font import CellFont
    from vncterm.render.renderer import TerminalRenderer
    from vncterm.terminal.emulator import Emulator

    emu = Emulator(cols, rows)
    renderer = TerminalRenderer(CellFont(FONT_SIZE), cols, rows)
    pos, step = 0, 1
    while pos < upto:  # odd chunk sizes split sequences and UTF-8 like a real pty would
        emu.feed(data[pos : min(upto, pos + step)])
        pos += step
        step = step * 3 % 4093 + 1
        if step % 5 == 0:
            renderer.refresh(emu.screen, emu.cursor_visible)
    renderer.refresh(emu.screen, emu.cursor_visible)
    return renderer


def to_png(pixels: object, path: Path) -> None:
    import numpy as np
    from PIL import Image

    p = np.asarray(pixels)
    rgb = np.stack([(p >> 16) & 0xFF, (p >> 8) & 0xFF, p & 0xFF], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(path, optimize=True)


def bench(names: list[str]) -> None:
    """Best-of-5 time to feed each capture (512-byte chunks) and refresh after every chunk."""
    from vncterm.render.font import CellFont
    from vncterm.render.renderer import TerminalRenderer
    from vncterm.terminal.emulator import Emulator

    font = CellFont(FONT_SIZE)
    for name in names:
        data = (HERE / f"{name}.bin").read_bytes()
        parse = total = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            emu = Emulator(COLS, ROWS)
            for i in range(0, len(data), 512):
                emu.feed(data[i : i + 512])
            t1 = time.perf_counter()
            emu = Emulator(COLS, ROWS)
            renderer = TerminalRenderer(font, COLS, ROWS)
            for i in range(0, len(data), 512):
                emu.feed(data[i : i + 512])
                renderer.refresh(emu.screen, emu.cursor_visible)
            t2 = time.perf_counter()
            parse, total = min(parse, t1 - t0), min(total, t2 - t1)
        print(
            f"{name:12s} {len(data):7d} bytes  parse {parse * 1e3:7.2f} ms  "
            f"parse+render {total * 1e3:7.2f} ms"
        )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("capture", "png", "bench"):
        print(__doc__)
        return 2
    names = argv[1:] or list(SCENARIOS)
    if argv[0] == "bench":
        bench(names)
        return 0
    for name in names:
        if argv[0] == "capture":
            data, marks = record(name, SCENARIOS[name])
            (HERE / f"{name}.bin").write_bytes(data)
            (HERE / f"{name}.json").write_text(
                json.dumps({"size": [COLS, ROWS], "checkpoints": marks}, indent=1) + "\n"
            )
            print(f"{name}: {len(data)} bytes, checkpoints {marks}")
        elif name not in NO_PNG:
            data = (HERE / f"{name}.bin").read_bytes()
            for checkpoint, offset in checkpoints(name):
                renderer = replay(data, offset)
                path = HERE / f"{name}-{checkpoint}.png"
                to_png(renderer.pixels, path)  # type: ignore[attr-defined]
                print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
