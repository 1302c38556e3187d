"""``--qmp`` faults, against a scripted QMP peer on a real unix socket: a socket that answers
garbage, a QMP server that goes away, a chardev vncterm cannot use. Each is logged once with its
reason and retried or skipped; the rendered console (here ``--unix``) is never disturbed."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from console_helpers import stream_names
from harness import RunningVncterm
from host_harness import RunningHost

from vncterm.config import Config, ConsoleSpec, HostConfig, ListenAddress

pytestmark = pytest.mark.peer

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}


class ScriptedQmp:
    """A unix socket server playing QMP (``mode`` "qmp"), or a serial console's prompt
    ("garbage"); ``drop()`` ends the current connection."""

    def __init__(self, path: Path, chardevs: list[dict[str, object]]) -> None:
        self.path = path
        self.chardevs = chardevs
        self.mode = "garbage"
        self.connections = 0
        self._current: socket.socket | None = None
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(path))
        self._listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._current = conn
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            if self.mode == "garbage":
                conn.sendall(b"guest:/# \r\n")
                time.sleep(0.2)
                return
            conn.sendall(json.dumps(GREETING).encode() + b"\r\n")
            for line in conn.makefile("rb"):
                msg = json.loads(line)
                name = msg["execute"]
                answer: object = {}
                if name == "query-chardev":
                    answer = self.chardevs
                elif name == "qom-list":  # odd entries, and a device whose chardev is odd
                    answer = [1, {"name": 5}, {"name": "d", "type": "child<virtserialport>"}]
                elif name == "qom-get":
                    answer = {"not": "a label"}
                reply = {"return": answer, "id": msg["id"]}
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\r\n" + b"not json\r\n")
                except OSError:
                    return

    def drop(self) -> None:
        if self._current is not None:
            self._current.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_garbage_a_lost_qmp_and_unusable_chardevs_are_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    serial = tmp_path / "serial.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(serial))
    listener.listen(1)
    chardevs: list[dict[str, object]] = [
        {"label": "serial0", "filename": f"unix:{serial},server=on", "frontend-open": True},
        {"label": "side", "filename": f"unix:{tmp_path}/side,server=on", "frontend-open": True},
        {"label": "p", "filename": "pty:/dev/pts/99", "frontend-open": True},
    ]
    qmp = ScriptedQmp(tmp_path / "qmp.sock", chardevs)
    spec = ConsoleSpec("unix", str(serial))
    with RunningVncterm([], console=spec, qmp=str(qmp.path)) as vt:
        guest, _ = listener.accept()
        guest.sendall(b"before\r\n")
        vt.wait_text("before")
        # a socket that is no QMP server: retried with backoff, logged once
        deadline = time.monotonic() + 20
        while qmp.connections < 4:
            assert time.monotonic() < deadline, "vncterm stopped retrying"
            time.sleep(0.05)
        assert count(caplog, "not a QMP server") == 1
        guest.sendall(b"still-here\r\n")
        vt.wait_text("still-here")

        # QMP at last: the socket chardev is a stream, the pty is skipped (logged once over
        # several readings), the garbage between replies is logged once
        qmp.mode = "qmp"

        names = asyncio.run(stream_names(vt.port, "side", None))
        assert names == ["console", "side"], names  # serial0 is the rendered console
        time.sleep(2.5)  # more readings of the chardevs
        assert count(caplog, "chardev p skipped") == 1
        assert count(caplog, "ignoring garbage") == 1

        # the QMP server goes away: its streams go, vncterm reconnects (logged once)
        qmp.mode = "garbage"
        qmp.drop()
        assert "side" not in asyncio.run(stream_names(vt.port, None, "side"))
        assert count(caplog, "connection lost") == 1
        guest.sendall(b"after\r\n")
        vt.wait_text("after")
        guest.close()
    qmp.close()
    listener.close()


def test_a_consoles_broken_qmp_leaves_the_other_consoles_of_a_host_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    qmp = ScriptedQmp(tmp_path / "qmp.sock", [])  # answers garbage
    listen = [ListenAddress("127.0.0.1", 0)]
    config = HostConfig(
        consoles={
            "vm": Config(command=[], qmp=str(qmp.path), listen=listen),
            "shell": Config(command=["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"], listen=listen),
        },
        config_path=str(tmp_path / "vncterm.toml"),
        state_dir=str(tmp_path / "state"),
    )
    with RunningHost(config, control=False) as run:
        vm, shell = run["vm"], run["shell"]
        shell.wait_text("$")
        shell.write_console(b"echo ok-$((2+3))\r")
        shell.wait_text("ok-5")
        deadline = time.monotonic() + 20
        while qmp.connections < 3:
            assert time.monotonic() < deadline, "vncterm stopped retrying"
            time.sleep(0.05)
        # the vm console waits for QMP to name its serial chardev, and says so; logged once
        vm.wait_status_row("waiting for QMP")
        assert count(caplog, "not a QMP server") == 1
        assert vm.service.state == "running"
    qmp.close()
