"""A program changes a palette entry (OSC 4) while a real viewer (vncdotool) watches: the red
text already on the screen turns the new colour on that viewer, and a viewer connecting
afterwards sees the new colour too; two consoles of one host keep their own palettes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harness import RunningVncterm
from host_harness import RunningHost
from peers.common import wait_until_equal
from peers.vncdotool_peer import VncDoToolPeer
from test_host import free_range

from vncterm.config import Config, HostConfig

# vncdotool's VNC-auth DES goes through a deprecated cryptography alias: not ours to fix
pytestmark = [pytest.mark.peer, pytest.mark.filterwarnings("ignore:TripleDES has been moved")]

XTERM_RED = 0xCD0000  # palette entry 1 (SGR 31) by default
NEW = 0x0080FF
#: Red text, then (after a line on its input) OSC 4 ; 1 ; rgb:00/80/ff, then "done".
PROGRAM = (
    r"printf '\033[31mRED TEXT\033[0m\n'; read x;"
    r" printf '\033]4;1;rgb:00/80/ff\033\\done\n'; sleep 60"
)


def _colours(pixels: np.ndarray, rows: int) -> set[int]:
    return set(np.unique(pixels[:rows]).tolist())


def test_osc4_recolours_existing_text_for_watching_and_later_viewers() -> None:
    with RunningVncterm(["sh", "-c", PROGRAM], cols=40, rows=5) as server:
        server.wait_text("RED TEXT")
        first = VncDoToolPeer(timeout=10)
        first.connect("127.0.0.1", server.port, encodings=["hextile"])
        try:
            diff = wait_until_equal(first, server.framebuffer, 8.0)
            assert diff, diff.describe()
            cell_h = server.framebuffer().shape[0] // 5
            before = _colours(first.capture(), cell_h)
            assert XTERM_RED in before and NEW not in before
            server.write_console(b"\n")
            server.wait_text("done")
            diff = wait_until_equal(first, server.framebuffer, 8.0)
            assert diff, diff.describe()
            after = _colours(first.capture(), cell_h)
            assert NEW in after and XTERM_RED not in after, sorted(after)
            later = VncDoToolPeer(timeout=10)
            later.connect("127.0.0.1", server.port, encodings=["zrle"])
            try:
                diff = wait_until_equal(later, server.framebuffer, 8.0)
                assert diff, diff.describe()
                seen = _colours(later.capture(), cell_h)
                assert NEW in seen and XTERM_RED not in seen
            finally:
                later.close()
        finally:
            first.close()


def test_each_console_of_a_host_keeps_its_own_palette(tmp_path: Path) -> None:
    red = r"printf '\033[31mRED\033[0m\n'"
    config = HostConfig(
        consoles={
            "alpha": Config(
                command=["sh", "-c", red + r"; printf '\033]4;1;#0080ff\007set\n'; exec sleep 60"],
                listen=[],
            ),
            "beta": Config(command=["sh", "-c", red + "; echo kept; exec sleep 60"], listen=[]),
        },
        config_path=str(tmp_path / "vncterm.toml"),
        state_dir=str(tmp_path / "state"),
        port_range=free_range(4),
    )
    with RunningHost(config) as run:
        run["alpha"].wait_text("set")
        run["beta"].wait_text("kept")
        alpha, beta = (set(np.unique(run[n].framebuffer()).tolist()) for n in ("alpha", "beta"))
        assert NEW in alpha and XTERM_RED not in alpha
        assert XTERM_RED in beta and NEW not in beta
