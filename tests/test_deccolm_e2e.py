"""DECCOLM end to end: a program on a pty switches to 132 columns and back (xterm ctlseqs,
``CSI ? 3 h`` under ``CSI ? 40 h``); the program learns the new size (``stty size``), and a
viewer gets the new framebuffer size followed at once by the frame at that size."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from harness import RunningVncterm
from sizeclient import SizingClient

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]
#: 120 W's on the top row of the 132-column screen, in the same write as the switch.
SWITCH = (
    "stty -echo; printf '\\033[?40h\\033[?3h%s\\r\\n' \"$(printf 'W%.0s' $(seq 120))\"; "
    "sleep 0.5; stty size\n"
)


def _until_size(client: SizingClient, width: int, timeout: float = 10.0) -> None:
    """Incremental updates until the size rectangle for ``width`` arrives, then the one
    frame the server sends right after it (without another request)."""
    deadline = time.monotonic() + timeout
    seen = len(client.sizes)
    while not any(w == width for _, _, w, _ in client.sizes[seen:]):
        assert time.monotonic() < deadline, client.sizes
        client.request(incremental=True)
        while client.read_message() != 0:
            pass
    while client.read_message() != 0:
        pass


def test_deccolm_reaches_the_program_and_the_viewer_in_one_go() -> None:
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        rows = server.call(lambda: server.server.emulator.rows)  # type: ignore[union-attr]
        cell_w = server.call(lambda: server.server.session.renderer.cell_w)  # type: ignore[union-attr]
        cell_h = server.call(lambda: server.server.session.renderer.cell_h)  # type: ignore[union-attr]
        viewer = SizingClient("127.0.0.1", server.port)
        viewer.update(incremental=False)
        assert viewer.fb.shape[1] == 80 * cell_w

        server.write_console(SWITCH.encode())
        _until_size(viewer, 132 * cell_w)
        first = viewer.fb[:cell_h].copy()  # the frame that came with the new size
        server.wait_text(f"{rows} 132")  # the program was told (TIOCSWINSZ, SIGWINCH)
        ours = server.framebuffer()[:cell_h]
        assert first.shape == ours.shape == (cell_h, 132 * cell_w)
        assert np.array_equal(first, ours)
        w_cell = ours[:, 110 * cell_w : 111 * cell_w]  # a W beyond column 80
        assert len(np.unique(w_cell)) > 1

        server.write_console(b"printf '\\033c'; sleep 0.5; stty size\n")  # RIS: back to 80
        _until_size(viewer, 80 * cell_w)
        server.wait_text(f"{rows} 80")
        assert viewer.fb.shape == (rows * cell_h, 80 * cell_w)
        viewer.close()


def test_deccolm_without_mode_40_keeps_the_width() -> None:
    """xterm ignores DECCOLM unless "allow 80/132" (mode 40) is set: no clear, no resize."""
    with RunningVncterm(SHELL) as server:
        server.wait_text("$")
        rows = server.call(lambda: server.server.emulator.rows)  # type: ignore[union-attr]
        server.write_console(b"printf 'kept\\033[?3h'; sleep 0.3; stty size\n")
        lines = server.wait_text(f"{rows} 80")
        assert any("kept" in line for line in lines)
        assert len(lines[0]) == 80


def test_decslpp_reaches_the_program_the_viewer_and_the_recording(tmp_path: Path) -> None:
    """DECSLPP (``CSI 30 t``, xterm's window ops) from a program on a pty: the program is told
    (``stty size``), the viewer gets the new height, and the recording gets an ``"r"`` event,
    as for a viewer's resize; so does DECCOLM after it."""
    cast = tmp_path / "session.cast"
    with RunningVncterm(SHELL, record_path=str(cast)) as server:
        server.wait_text("$")
        cell_h = server.call(lambda: server.server.session.renderer.cell_h)  # type: ignore[union-attr]
        viewer = SizingClient("127.0.0.1", server.port)
        viewer.update(incremental=False)
        server.write_console(b"printf '\\033[30t'; sleep 0.5; stty size\n")
        server.wait_text("30 80")
        deadline = time.monotonic() + 10
        while viewer.fb.shape[0] != 30 * cell_h:
            assert time.monotonic() < deadline, viewer.sizes
            viewer.request(incremental=True)
            while viewer.read_message() != 0:
                pass
        server.write_console(b"printf '\\033[?40h\\033[?3h'; sleep 0.5; stty size\n")
        server.wait_text("30 132")  # DECCOLM: switched in the model first, then the same way
        viewer.close()
    events = [json.loads(line) for line in cast.read_text().splitlines()[1:]]
    assert [e[2] for e in events if e[1] == "r"] == ["80x30", "132x30"]
