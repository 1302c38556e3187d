"""A host of consoles in one process (vncterm.server.host): ports per console kept across
restarts, the shared WebSocket listener by name, the control socket's list, consoles that
fail or exit and stay listed, restarts, and consoles added and removed at run time."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from host_harness import RunningHost
from rawclient import RawClient
from wsclient import HandshakeRefused, WsRawClient

from vncterm.config import Config, HostConfig, ListenAddress
from vncterm.errors import ConfigError
from vncterm.server.control import CONTROL_SOCKET
from vncterm.server.logcontext import ConsoleLabel, console_context
from vncterm.server.ports import PortBook, port_free
from vncterm.server.state_dir import ensure_private_dir


def free_range(size: int) -> tuple[int, int]:
    """``size`` consecutive ports that are free now (high, so nothing else wants them)."""
    start = random.randrange(30000, 50000)
    for low in range(start, 60000, 97):
        if all(port_free("127.0.0.1", p) for p in range(low, low + size)):
            return low, low + size - 1
    raise AssertionError("no free port range")


def ask_list(state_dir: str) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(os.path.join(state_dir, CONTROL_SOCKET))
        s.sendall(b"list\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    answer: dict[str, object] = json.loads(data)
    return answer


def by_name(answer: dict[str, object]) -> dict[str, dict[str, object]]:
    consoles = answer["consoles"]
    assert isinstance(consoles, list)
    return {c["name"]: c for c in consoles}


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


# -- ports and the state directory ------------------------------------------------------------


@pytest.mark.unit
def test_ports_are_kept_per_console_name(tmp_path: Path) -> None:
    low, high = free_range(4)
    book = PortBook(str(tmp_path), low, high, "127.0.0.1")
    assert book.port_for("vm1", {"vm1", "vm2"}) == low
    assert book.port_for("vm2", {"vm1", "vm2"}) == low + 1
    # a new process reads the book: vm2 first this time, and still gets its own port
    again = PortBook(str(tmp_path), low, high, "127.0.0.1")
    assert again.port_for("vm2", {"vm1", "vm2"}) == low + 1
    assert again.port_for("vm1", {"vm1", "vm2"}) == low
    # a new name takes a port no name ever had, not vm1's while vm1 is away
    assert again.port_for("vm3", {"vm2", "vm3"}) == low + 2
    saved = json.loads((tmp_path / "ports.json").read_text())
    assert saved == {"vm1": low, "vm2": low + 1, "vm3": low + 2}
    assert stat.S_IMODE(os.stat(tmp_path / "ports.json").st_mode) == 0o600


@pytest.mark.unit
def test_port_taken_by_someone_else_is_replaced_and_a_full_range_says_so(tmp_path: Path) -> None:
    low, high = free_range(2)
    book = PortBook(str(tmp_path), low, high, "127.0.0.1")
    assert book.port_for("a", {"a"}) == low
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", low))
        squatter.listen()
        assert PortBook(str(tmp_path), low, high, "127.0.0.1").port_for("a", {"a"}) == low + 1
    book = PortBook(str(tmp_path), low, high, "127.0.0.1")
    with socket.socket() as s1, socket.socket() as s2:
        s1.bind(("127.0.0.1", low))
        s2.bind(("127.0.0.1", high))
        assert book.port_for("b", {"a", "b"}) is None


@pytest.mark.unit
def test_state_directory_is_private(tmp_path: Path) -> None:
    made = tmp_path / "a" / "b"
    ensure_private_dir(str(made))
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    ensure_private_dir(str(loose))
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o700
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        ensure_private_dir(str(tmp_path / "file"))
    os.symlink(made, tmp_path / "link")
    with pytest.raises(ConfigError, match="not a directory"):
        ensure_private_dir(str(tmp_path / "link"))


@pytest.mark.unit
def test_log_records_name_their_console(caplog: pytest.LogCaptureFixture) -> None:
    label = ConsoleLabel()
    logger = logging.getLogger("vncterm.test_host")
    caplog.handler.addFilter(label)
    with caplog.at_level(logging.INFO, logger="vncterm.test_host"):
        console_context("vm7").run(logger.info, "inside")
        logger.info("outside")
    assert [r.console for r in caplog.records] == [" [vm7]", ""]  # type: ignore[attr-defined]


# -- a running host ------------------------------------------------------------------------------


def host_config(tmp_path: Path, **consoles: Config) -> HostConfig:
    return HostConfig(
        consoles=dict(consoles),
        config_path=str(tmp_path / "vncterm.toml"),
        state_dir=str(tmp_path / "state"),
        port_range=free_range(6),
        websocket=[ListenAddress("127.0.0.1", 0)],
    )


def sleeper(text: str, **kw: object) -> Config:
    return Config(command=["sh", "-c", f"echo {text}; exec sleep 1000"], listen=[], **kw)  # type: ignore[arg-type]


@pytest.mark.peer
def test_each_console_has_its_port_its_name_and_a_list_entry(tmp_path: Path) -> None:
    config = host_config(tmp_path, alpha=sleeper("ALPHA-UP"), beta=sleeper("BETA-UP"))
    config = dataclasses.replace(config, audit_log=str(tmp_path / "audit.jsonl"))
    with RunningHost(config) as run:
        assert run.host is not None
        run["alpha"].wait_text("ALPHA-UP")
        run["beta"].wait_text("BETA-UP")
        low = config.port_range[0]
        assert (run["alpha"].port, run["beta"].port) == (low, low + 1)
        hostname = socket.gethostname().encode()
        with RawClient("127.0.0.1", run["beta"].port) as viewer:
            assert viewer.name == b"beta on " + hostname
            ws_port = run.host.websocket_addresses[0][1]
            ws = WsRawClient("127.0.0.1", ws_port, path="/alpha")
            assert ws.name == b"alpha on " + hostname
            for wrong in ("/gamma", "//[x", "/alpha?token=%ff%fe"):
                with pytest.raises(HandshakeRefused) as refused:
                    WsRawClient("127.0.0.1", ws_port, path=wrong)
                assert refused.value.status == 404, wrong
            listed = by_name(ask_list(config.state_dir))
            assert listed["alpha"]["ports"] == [low]
            assert listed["beta"]["viewers"] == 1 and listed["alpha"]["viewers"] == 1
            assert listed["alpha"]["websocket"] == "/alpha"
            assert listed["beta"]["status"] == "running"
            ws.close()
    assert stat.S_IMODE(os.stat(config.state_dir).st_mode) == 0o700
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    viewers = {r["console"] for r in records if r.get("viewer") and r.get("console")}
    assert viewers == {"alpha", "beta"}, records  # alpha's came through the shared listener
    assert not os.path.exists(os.path.join(config.state_dir, CONTROL_SOCKET))


@pytest.mark.peer
def test_console_ports_survive_a_restart_of_vncterm(tmp_path: Path) -> None:
    config = host_config(tmp_path, one=sleeper("1"), two=sleeper("2"))
    with RunningHost(config) as run:
        first = {name: run[name].port for name in ("one", "two")}
    # the file order changes and a console comes in between: the old ones keep their ports
    again = HostConfig(
        consoles={"new": sleeper("n"), "two": sleeper("2"), "one": sleeper("1")},
        state_dir=config.state_dir,
        port_range=config.port_range,
    )
    with RunningHost(again) as run:
        assert {name: run[name].port for name in ("one", "two")} == first
        assert run["new"].port not in first.values()


@pytest.mark.peer
def test_failed_and_exited_consoles_stay_listed_with_their_viewers(tmp_path: Path) -> None:
    config = host_config(
        tmp_path,
        missing=Config(command=["no-such-command-vncterm"], listen=[]),
        done=Config(command=["sh", "-c", "read x; echo BYE; exit 3"], listen=[]),
        fine=sleeper("FINE"),
    )
    with RunningHost(config) as run:
        assert run.host is not None
        with RawClient("127.0.0.1", run["done"].port) as viewer:
            run.call(lambda: run.host.services["done"].session.write_input(b"go\r"))  # type: ignore[union-attr]
            wait_until(lambda: by_name(ask_list(config.state_dir))["done"]["status"] == "exited 3")
            listed = by_name(ask_list(config.state_dir))
            assert listed["missing"]["status"].startswith("failed: no-such-command-vncterm")  # type: ignore[union-attr]
            assert listed["done"]["viewers"] == 1
            assert listed["fine"]["status"] == "running"
            # the viewer is still served: the status row says what happened
            viewer.wait_for(lambda v: v.updates > 0)
            status = run.call(lambda: run.host.services["done"].session.status.text())  # type: ignore[union-attr]
            assert status is not None and "console ended (status 3)" in status
            viewer.update(incremental=False)
        with RawClient("127.0.0.1", run["missing"].port) as viewer:
            viewer.update(incremental=False)


@pytest.mark.peer
def test_restart_brings_the_program_back_for_the_same_viewer(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    script = f'echo run >> {counter}; echo "RUN $(wc -l < {counter})"; read x; exit 1'
    config = host_config(
        tmp_path, again=Config(command=["sh", "-c", script], listen=[], restart=True)
    )
    with RunningHost(config) as run:
        assert run.host is not None
        service = run.host.services["again"]
        with RawClient("127.0.0.1", run["again"].port) as viewer:
            run["again"].wait_text("RUN 1")
            run.call(lambda: service.session.write_input(b"\r"))
            run["again"].wait_text("RUN 2")  # after the first wait of the backoff
            assert run.call(lambda: service.state) == "running"
            viewer.update(incremental=False)  # still connected, still served


@pytest.mark.peer
def test_consoles_added_removed_and_changed_at_run_time(tmp_path: Path) -> None:
    config = host_config(tmp_path, keep=sleeper("KEEP"), drop=sleeper("DROP"), edit=sleeper("E1"))
    new = HostConfig(
        consoles={"keep": sleeper("KEEP"), "edit": sleeper("E2"), "added": sleeper("ADDED")},
        state_dir=config.state_dir,
        port_range=config.port_range,
        websocket=config.websocket,
        config_path=str(tmp_path / "vncterm.toml"),
    )
    with RunningHost(config, reload=lambda path: new) as run:
        assert run.host is not None
        keep = RawClient("127.0.0.1", run["keep"].port)
        drop = RawClient("127.0.0.1", run["drop"].port)
        keep_service = run.host.services["keep"]
        run.run(run.host.reload())
        assert drop.is_closed_by_server()
        assert sorted(run.host.services) == ["added", "edit", "keep"]
        assert run.host.services["keep"] is keep_service  # not touched
        run["added"].wait_text("ADDED")
        run["edit"].wait_text("E2")
        # the untouched console's viewer is still served
        run.call(lambda: keep_service.session.write_input(b"x"))
        keep.update(incremental=False)
        with RawClient("127.0.0.1", run["added"].port) as added:
            assert added.name.startswith(b"added on ")
        listed = by_name(ask_list(config.state_dir))
        assert sorted(listed) == ["added", "edit", "keep"]
        assert listed["keep"]["viewers"] == 1
        keep.close()


@pytest.mark.peer
def test_sockets_from_systemd_go_to_consoles_by_name(tmp_path: Path) -> None:
    """LISTEN_FDNAMES (systemd's ``FileDescriptorName=``): a socket named after a console is
    that console's port, one named ``websocket`` the shared WebSocket listener."""
    low, high = free_range(3)
    (tmp_path / "vncterm.toml").write_text(
        f'[vncterm]\nstate-dir = "state"\nport-range = "{low}-{high}"\n\n'
        '[console.vm1]\ncommand = ["sh", "-c", "echo VM1; exec sleep 60"]\n\n'
        '[console.vm2]\ncommand = ["sh", "-c", "echo VM2; exec sleep 60"]\n'
    )
    sockets = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        sockets.append(s)
    vm1_port, ws_port = (s.getsockname()[1] for s in sockets)
    # what systemd does: the sockets as fds 3 and 4, LISTEN_PID the pid of vncterm itself
    launch = (
        "import os, sys\n"
        "a, b = (os.dup(int(fd)) for fd in sys.argv[1:3])\n"
        "os.dup2(a, 3); os.dup2(b, 4); os.set_inheritable(3, True); os.set_inheritable(4, True)\n"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='2',"
        " LISTEN_FDNAMES='vm1:websocket')\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'vncterm', '--config', sys.argv[3]])\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            launch,
            *(str(s.fileno()) for s in sockets),
            str(tmp_path / "vncterm.toml"),
        ],
        pass_fds=[s.fileno() for s in sockets],
        stderr=subprocess.PIPE,
    )
    for s in sockets:
        s.close()
    try:
        state = str(tmp_path / "state")
        wait_until(lambda: os.path.exists(os.path.join(state, CONTROL_SOCKET)))
        wait_until(lambda: len(by_name(ask_list(state))) == 2)
        listed = by_name(ask_list(state))
        assert listed["vm1"]["ports"] == [vm1_port]
        assert listed["vm2"]["ports"] == [low]  # no socket of its own: from the range
        with RawClient("127.0.0.1", vm1_port) as viewer:
            assert viewer.name.startswith(b"vm1 on ")
        ws = WsRawClient("127.0.0.1", ws_port, path="/vm2")
        assert ws.name.startswith(b"vm2 on ")
        ws.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
        print(err.decode(errors="replace")[-3000:])


@pytest.mark.peer
def test_a_fault_in_one_console_is_logged_once_under_its_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception in one console's terminal (as hostile output might cause) stays in it: the
    other console keeps working, and the fault is logged once, naming its console."""
    caplog.handler.addFilter(ConsoleLabel())
    config = host_config(
        tmp_path,
        sick=Config(command=["sh", "-c", "while :; do echo tick; sleep 0.05; done"], listen=[]),
        well=Config(command=["sh", "-c", "read x; echo WELL-$x; exec sleep 60"], listen=[]),
    )
    with caplog.at_level(logging.ERROR), RunningHost(config) as run:
        assert run.host is not None
        sick = run.host.services["sick"]

        def broken(data: bytes) -> None:
            raise ValueError("hostile bytes")

        run.call(lambda: setattr(sick.emulator, "feed", broken))
        time.sleep(0.5)  # ten ticks fail
        well = run.host.services["well"]
        run.call(lambda: well.session.write_input(b"ok\r"))
        run["well"].wait_text("WELL-ok")
        with RawClient("127.0.0.1", run["well"].port) as viewer:
            viewer.update(incremental=False)
        assert run.call(lambda: sick.state) == "running"
    faults = [r for r in caplog.records if "hostile bytes" in r.getMessage()]
    assert len(faults) == 1, [r.getMessage() for r in faults]
    assert faults[0].console == " [sick]"  # type: ignore[attr-defined]
