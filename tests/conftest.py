"""Shared fixtures, and the tiers every test belongs to.

``tests/`` is on ``sys.path`` (``pythonpath`` in pyproject.toml's pytest options): test files
import the helpers here (``harness``, ``peers``, ``certs``, ``captures``...) without touching
``sys.path`` themselves.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import captures
import pytest
from certs import CertFiles, make_certs
from harness import RunningVncterm

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]

# vncterm processes the tests start keep their state (saved screens, the control socket) in a
# folder of this test run, never in the real home or /var/lib/vncterm: a screen saved by an
# earlier run must not show up in a later one.
os.environ["STATE_DIRECTORY"] = tempfile.mkdtemp(prefix="vncterm-test-state-")

#: Every test is exactly one of these (``pytestmark`` per file, or a mark per test in a file
#: that holds both): ``unit`` runs in this process only; ``peer`` drives a real process (a viewer,
#: a browser, QEMU, Xvnc, vncterm itself, a program on a pty). ``slow`` is added on top.
TIERS = ("unit", "peer")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to run a test that is not in exactly one tier (so a new test cannot forget)."""
    wrong = []
    for item in items:
        tiers = {m.name for m in item.iter_markers() if m.name in TIERS}
        if len(tiers) != 1:
            wrong.append(f"{item.nodeid}: {sorted(tiers) or 'no tier'}")
    if wrong:
        raise pytest.UsageError(
            "every test needs exactly one of the markers unit/peer:\n  " + "\n  ".join(wrong)
        )


@pytest.fixture
def vncterm_shell() -> Iterator[RunningVncterm]:
    """A vncterm running an interactive /bin/sh with the prompt '$ '."""
    with RunningVncterm(SHELL, name="test shell") as server:
        server.wait_text("$")
        yield server


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """A CA, a server certificate for 127.0.0.1/localhost and two client certificates, made
    once per session (tests/certs.py)."""
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def capture_paths() -> list[Path]:
    """The recorded program sessions in tests/captures/; never empty, so a test that loops over
    them cannot pass on nothing."""
    paths = captures.available()
    assert paths, f"no recorded captures in {captures.CAPTURE_DIR}"
    return paths


#: Typed through real viewers by the keyboard tests: each character has a legacy X11 keysym
#: (keysymdef.h) that noVNC and X11 viewers send rather than the Unicode form.
NON_LATIN1 = "€ Жук αβ ł"
#: Their legacy keysyms: EuroSign, Cyrillic_ZHE, Cyrillic_u, Cyrillic_ka, Greek_alpha,
#: Greek_beta, lstroke.
NON_LATIN1_KEYSYMS = {0x20AC, 0x6F6, 0x6D5, 0x6CB, 0x7E1, 0x7E2, 0x1B3}


@pytest.fixture
def keysyms_pressed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every keysym pressed by the viewers of an in-process vncterm, in order (observed on
    its way into the keymap, not changed)."""
    from vncterm.terminal.keymap import KeyState

    pressed: list[int] = []
    key = KeyState.key

    def recording(self: KeyState, keysym: int, down: bool, *args: bool, **kw: bool) -> bytes:
        if down:
            pressed.append(keysym)
        return key(self, keysym, down, *args, **kw)

    monkeypatch.setattr(KeyState, "key", recording)
    return pressed
