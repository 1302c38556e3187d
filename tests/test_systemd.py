"""The systemd units shipped in ``systemd/`` (installed by the package under
``lib/systemd/system``): ``systemd-analyze verify`` finds nothing to say about them, the socket
unit hands over the shared WebSocket listener by the name vncterm routes (``websocket``), and
the service units run vncterm on a config file with a private state directory; what the socket
unit hands over, given by systemd-socket-activate, is the shared listener by name and token."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from fronts import free_port, wait_port
from wsclient import WsRawClient

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "systemd"
NAMES = ("vncterm@.service", "vncterm-host.service", "vncterm-host.socket")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


@pytest.mark.unit
def test_the_package_ships_the_units_and_they_say_what_vncterm_understands() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        data_files = tomllib.load(f)["tool"]["setuptools"]["data-files"]
    shipped = {
        p for pattern in data_files["lib/systemd/system"] for p in UNITS.parent.glob(pattern)
    }
    assert {p.name for p in shipped} == set(NAMES)
    socket = unit("vncterm-host.socket")
    assert socket["Socket"]["FileDescriptorName"] == "websocket"  # host._start_websocket
    assert socket["Socket"]["Service"] == "vncterm-host.service"
    for name in ("vncterm@.service", "vncterm-host.service"):
        service = unit(name)["Service"]
        assert service["ExecStart"].startswith("vncterm --config /etc/vncterm/")
        assert "--state-dir /var/lib/private/vncterm/" in service["ExecStart"]  # DynamicUser
        assert service["StateDirectory"].startswith("vncterm/")  # STATE_DIRECTORY: the default
        assert service["ExecReload"] == "kill -HUP $MAINPID"  # SIGHUP re-reads the file


@pytest.mark.peer
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze (Debian's systemd package; tests/run installs it)"
    vncterm = shutil.which("vncterm")
    assert vncterm is not None, "pip install -e . puts vncterm on PATH"
    for name in NAMES:
        # vncterm where this machine has it (systemd looks in /usr/local/bin, /usr/bin...)
        text = (UNITS / name).read_text().replace("ExecStart=vncterm ", f"ExecStart={vncterm} ")
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", "vncterm-host.socket", "vncterm-host.service", "vncterm@demo.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in done.stderr.splitlines() if "vncterm" in line]
    assert done.returncode == 0 and not ours, done.stderr


@pytest.mark.peer
def test_the_socket_unit_contract_with_systemd_socket_activate(tmp_path: Path) -> None:
    """What vncterm-host.socket hands over (its FileDescriptorName), given by systemd's own
    socket activation tool: vncterm's shared WebSocket listener, by name and by token."""
    activate = shutil.which("systemd-socket-activate")
    assert activate is not None, "systemd-socket-activate (Debian's systemd package)"
    name = unit("vncterm-host.socket")["Socket"]["FileDescriptorName"]
    (tmp_path / "host.toml").write_text('[console.vm1]\ncommand = ["sh", "-c", "exec sleep 60"]\n')
    port = free_port()
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [activate, "-l", f"127.0.0.1:{port}", f"--fdname={name}", sys.executable, "-m"]
        + ["vncterm", "--config", str(tmp_path / "host.toml"), "--state-dir", str(state)]
        + ["--port-range", "47100-47199"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port("127.0.0.1", port)
        deadline = time.monotonic() + 20
        while not (state / "control").exists():  # vncterm starts on the first connection
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        token = json.loads(
            subprocess.run(
                [sys.executable, "-m", "vncterm", "--list", "--json", "--state-dir", str(state)],
                capture_output=True,
                check=True,
            ).stdout
        )["consoles"][0]["token"]
        for path in ("/vm1", f"/websockify?token={token}"):
            ws = WsRawClient("127.0.0.1", port, path=path)
            assert ws.name.startswith(b"vm1 on ")
            ws.close()
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
