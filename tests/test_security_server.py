"""The running server's defences: blocking after failed authentication, the viewer limit,
view-only viewers, the audit log, descriptors the console's child must not inherit, systemd
socket activation, and shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from harness import RunningVncterm
from rawclient import RawClient

from vncterm.config import ListenAddress
from vncterm.errors import ConfigError
from vncterm.rfb import auth
from vncterm.server import audit as audit_module
from vncterm.server.security import AuthBlocker

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def refusal(port: int) -> str | None:
    """Connect as RFB 3.8; the server's refusal reason (an empty type list), or None."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert s.recv(12) == b"RFB 003.008\n"
        s.sendall(b"RFB 003.008\n")
        count = s.recv(1)
        if count != b"\0":
            return None
        raw = b""
        while len(raw) < 4 or len(raw) < 4 + struct.unpack(">I", raw[:4])[0]:
            chunk = s.recv(4096)
            assert chunk, "closed before the whole reason"
            raw += chunk
        return raw[4:].decode()


DAYS = 3 * 86400.0  # a host up for days: what a monotonic clock reads on a real server


def test_block_schedule_doubles_and_resets() -> None:
    now = [DAYS]
    b = AuthBlocker(clock=lambda: now[0])
    assert [b.failed("a"), b.failed("a")] == [0.0, 0.0]
    assert b.failed("a") == 10.0 and b.blocked_for("a") == 10.0
    assert b.blocked_for("b") == 0.0  # per address
    now[0] += 10.5
    assert b.blocked_for("a") == 0.0
    assert b.failed("a") == 20.0  # each failure after a block doubles it
    now[0] += 21
    assert [b.failed("a") for _ in range(12)][-1] == 3600.0  # capped at an hour
    b.succeeded("a")
    assert b.blocked_for("a") == 0.0 and b.failed("a") == 0.0
    b.failed("a")
    b.failed("a")
    now[0] += 10 + 3600 + 1  # forgotten one cap period after the block ended
    assert b.blocked_for("a") == 0.0 and b.failed("a") == 0.0
    b.failed("b")
    now[0] += 3599  # a failure that never blocked is remembered for a cap period too
    assert b.failed("b") == 0.0 and b.failed("b") == 10.0


def test_blocking_engages_on_a_clock_of_days() -> None:
    """Every failure counted as the first once the monotonic clock passed an hour."""
    b = AuthBlocker(clock=lambda: DAYS + 5000.0)
    assert [b.failed("a") for _ in range(5)] == [0.0, 0.0, 10.0, 20.0, 40.0]


class Stranger:
    """What the Gatekeeper reads of a new connection: its address."""

    address_key = "stranger"


def test_blocked_addresses_are_not_evicted_by_newer_ones() -> None:
    """Records of blocked addresses stay until their block expires; addresses that failed
    without being blocked make room first; a table full of blocks refuses new addresses (the
    Gatekeeper asks saturated()) rather than forget one."""
    from vncterm.server import security

    assert security.MAX_RECORDS >= 100_000
    now = [DAYS]
    b = AuthBlocker(clock=lambda: now[0], max_records=100)
    for _ in range(3):
        b.failed("victim")
    b.failed("one-failure")
    refused = 0
    for i in range(1000):  # many other addresses, each blocked in turn
        key = f"attacker-{i}"
        if not b.known(key) and b.saturated():
            refused += 1  # the server refuses them at connection time
            continue
        for _ in range(3):
            b.failed(key)
        now[0] += 0.01
    assert b.blocked_for("victim") > 0  # still blocked
    assert not b.known("one-failure")  # evicted first
    assert len(b) == 100 and b.saturated() and refused == 1000 - 99
    gate = security.Gatekeeper(blocker=b)
    stranger = Stranger()
    reason = gate.admit(stranger)  # type: ignore[arg-type]
    assert reason is not None and "new addresses are refused" in reason
    now[0] += 10 + 3600 + 11  # blocks and their memory expired: room again
    assert not b.saturated() and b.failed("newcomer") == 0.0


def test_repeated_failures_block_the_address_then_it_may_try_again(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with RunningVncterm(SHELL, password=b"secret", audit_log=str(audit)) as server:
        assert server.server is not None
        blocker = server.server.guard.blocker
        now = [time.monotonic() + DAYS]
        blocker.clock = lambda: now[0]  # a clock the test moves: no race with a busy machine
        for _ in range(3):
            with pytest.raises(PermissionError, match="Authentication failed"):
                RawClient("127.0.0.1", server.port, password=b"guess")
        reason = refusal(server.port)
        assert reason is not None and "too many authentication failures" in reason
        now[0] += blocker.base + 0.1  # the block (base seconds for the third failure) is over
        ok = RawClient("127.0.0.1", server.port, password=b"secret")  # unblocked, and cleared
        ok.update(incremental=False)
        ok.close()
        with pytest.raises(PermissionError):
            RawClient("127.0.0.1", server.port, password=b"guess")
        assert refusal(server.port) is None  # one failure after a success: not blocked
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    kinds = [r["event"] for r in records]
    assert kinds.count("blocked") == 1 and "refused" in kinds
    failed = [r for r in records if r["event"] == "auth" and not r["ok"]]
    assert len(failed) == 4 and all(r["method"] == "VncAuth" for r in failed)


def test_wrong_passwords_are_blocked_with_the_real_clock_of_a_host_up_for_days() -> None:
    """Real connections, real time (the monotonic clock of a host up for three days): after
    the threshold, the next connection is refused."""
    with RunningVncterm(SHELL, password=b"secret") as server:
        assert server.server is not None
        blocker = server.server.guard.blocker
        blocker.clock = lambda: time.monotonic() + DAYS
        for _ in range(blocker.threshold):
            with pytest.raises(PermissionError, match="Authentication failed"):
                RawClient("127.0.0.1", server.port, password=b"guess")
        reason = refusal(server.port)
        assert reason is not None and "too many authentication failures" in reason


def vnc_auth_pending(port: int, source: str = "127.0.0.1") -> tuple[socket.socket, bytes]:
    """A connection that chose VNC Authentication and holds its challenge (RFB 3.8)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    assert recv_exact(s, 12) == b"RFB 003.008\n"
    s.sendall(b"RFB 003.008\n")
    assert recv_exact(s, 2) == b"\x01\x02"
    s.sendall(b"\x02")
    return s, recv_exact(s, 16)


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, f"closed after {len(buf)} of {n} bytes"
        buf += chunk
    return buf


def security_result(s: socket.socket) -> tuple[int, str]:
    """SecurityResult (section 7.1.3) and, when failed, its reason."""
    (result,) = struct.unpack(">I", recv_exact(s, 4))
    if result == 0:
        return 0, ""
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    return result, recv_exact(s, n).decode()


def test_block_refuses_connections_opened_before_it(tmp_path: Path) -> None:
    """Connections opened before the block, answered after it: refused with the reason, the
    right password included, without being checked or counted."""
    audit = tmp_path / "audit.jsonl"
    with RunningVncterm(SHELL, password=b"secret", audit_log=str(audit)) as server:
        assert server.server is not None
        blocker = server.server.guard.blocker
        blocker.clock = lambda: time.monotonic() + DAYS
        pending = [vnc_auth_pending(server.port) for _ in range(30)]
        results = []
        for i, (s, challenge) in enumerate(pending):
            password = b"secret" if i == len(pending) - 1 else b"guess"
            s.sendall(auth.vnc_response(password, challenge))
            results.append(security_result(s))
            s.close()
        assert results[:3] == [(1, "Authentication failed")] * 3
        assert all(
            r == 1 and "too many authentication failures" in why for r, why in results[3:]
        ), results[3:]
        # not extended by the refused answers: the block of the third failure (10 s) holds
        assert 0 < blocker.blocked_for("127.0.0.1") <= blocker.base
        ok_elsewhere, challenge = vnc_auth_pending(server.port, source="127.0.0.2")
        ok_elsewhere.sendall(auth.vnc_response(b"secret", challenge))
        assert security_result(ok_elsewhere) == (0, "")  # another address is not blocked
        ok_elsewhere.close()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r["event"] for r in records].count("blocked") == 1
    assert len([r for r in records if r["event"] == "auth" and not r["ok"]]) == 3
    assert len([r for r in records if r["event"] == "refused"]) == 27


def types_offered_as(uid: int, path: str) -> int:
    """Connect to the unix socket ``path`` as user ``uid`` (a forked child) and return the
    number of security types offered (0: refused)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no Python-level cleanup, just the probe
        try:
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(path)
                recv_exact(s, 12)
                s.sendall(b"RFB 003.008\n")
                os.write(write_end, recv_exact(s, 1))
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        answer = os.read(read_end, 1)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    assert len(answer) == 1, f"uid {uid} could not connect to {path}"
    return answer[0]


def test_unix_socket_viewers_are_counted_by_uid(tmp_path: Path) -> None:
    """A local user who fails on the unix socket blocks only that user (SO_PEERCRED)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as a second user")
    folder = Path(tempfile.mkdtemp(prefix="vncterm-uid-"))
    folder.chmod(0o755)
    path = folder / "vnc.sock"
    try:
        with RunningVncterm(
            SHELL, password=b"secret", listen=[ListenAddress(path=str(path))]
        ) as server:
            path.chmod(0o777)
            assert server.server is not None
            server.server.guard.blocker.clock = lambda: time.monotonic() + DAYS
            for _ in range(3):
                with pytest.raises(PermissionError, match="Authentication failed"):
                    RawClient(str(path), password=b"guess", family=socket.AF_UNIX)
            # the count of security types offered: 0 means refused
            offered = {uid: types_offered_as(uid, str(path)) for uid in (0, 65534)}
            assert offered == {0: 0, 65534: 1}
            assert server.server.guard.blocker.blocked_for("unix:uid:0") > 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_max_viewers_counts_handshaking_connections() -> None:
    with RunningVncterm(SHELL, max_viewers=2) as server:
        a = RawClient("127.0.0.1", server.port)
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)  # no handshake
        reason = refusal(server.port)
        assert reason is not None and "too many viewers (at most 2)" in reason
        idle.close()
        time.sleep(0.2)
        b = RawClient("127.0.0.1", server.port)
        b.update(incremental=False)
        a.close()
        b.close()


def test_view_only_viewer_changes_nothing_and_audit_log(tmp_path: Path) -> None:
    """A view-only viewer's keys, pastes, pointer events and resize requests are dropped at the
    one check point (Viewer.may_control); the audit log tells who sent what, aggregated."""
    audit = tmp_path / "audit.jsonl"
    with RunningVncterm(
        SHELL, password=b"full", view_only_password=b"look", audit_log=str(audit)
    ) as server:
        server.wait_text("$")
        watcher = RawClient("127.0.0.1", server.port, password=b"look")
        watcher.update(incremental=False)
        for ch in b"echo VIEWONLY\r":
            watcher.sock.sendall(struct.pack(">BBxxI", 4, 1, 0xFF0D if ch == 13 else ch))
            watcher.sock.sendall(struct.pack(">BBxxI", 4, 0, 0xFF0D if ch == 13 else ch))
        paste = b"echo PASTED\r"
        watcher.sock.sendall(struct.pack(">BxxxI", 6, len(paste)) + paste)
        watcher.sock.sendall(struct.pack(">BBHH", 5, 1, 10, 10))  # pointer press
        screen = struct.pack(">IHHHHI", 0, 0, 0, 360, 180, 0)
        watcher.sock.sendall(struct.pack(">BxHHBx", 251, 360, 180, 1) + screen)  # resize
        full = RawClient("127.0.0.1", server.port, password=b"full")
        full.update(incremental=False)
        text = b"echo typed-$((40+2))\r"
        for ch in text:
            key = 0xFF0D if ch == 13 else ch
            full.sock.sendall(struct.pack(">BBxxI", 4, 1, key) + struct.pack(">BBxxI", 4, 0, key))
        lines = server.wait_text("typed-42")
        assert not any("VIEWONLY" in ln or "PASTED" in ln for ln in lines)
        assert server.server is not None
        assert server.server.session.width == 720  # not resized
        watcher.update()  # still served
        watcher.close()
        full.close()
        time.sleep(0.3)
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    auth = {r["viewer"]: r for r in records if r["event"] == "auth"}
    assert sorted(r["view_only"] for r in auth.values()) == [False, True]
    watcher_name = next(v for v, r in auth.items() if r["view_only"])
    full_name = next(v for v, r in auth.items() if not r["view_only"])
    inputs = [r for r in records if r["event"] == "input"]
    assert sum(r.get("refused", 0) for r in inputs if r["viewer"] == watcher_name) >= 14
    assert not any(r.get("keys") for r in inputs if r["viewer"] == watcher_name)
    typed = [r for r in inputs if r["viewer"] == full_name]
    assert sum(r["keys"] for r in typed) == len(text)
    assert len(typed) <= 2  # aggregated: not one line per key
    assert {"start", "connect", "disconnect", "stop"} <= {r["event"] for r in records}
    resizes = [r for r in records if r["event"] == "resize"]
    assert [(r["viewer"], r["ok"]) for r in resizes] == [(watcher_name, False)]


def test_audit_log_to_the_journal_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--audit-log journal`` speaks the journal's native datagram protocol."""
    path = tmp_path / "journal.sock"
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(str(path))
    monkeypatch.setattr(audit_module, "JOURNAL_SOCKET", str(path))
    log = audit_module.AuditLog("journal")
    log.record("connect", "viewer 127.0.0.1:1")
    log.close()
    fields = dict(line.split("=", 1) for line in sink.recv(4096).decode().splitlines())
    assert fields["VNCTERM_EVENT"] == "connect" and fields["SYSLOG_IDENTIFIER"] == "vncterm"
    assert json.loads(fields["MESSAGE"])["viewer"] == "viewer 127.0.0.1:1"
    sink.close()


def test_audit_journal_gone_is_reported_once_and_reconnected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A journal that goes away loses records (counted, one error logged), never raises; when
    it is back (a restarted journald: a new socket at the path) records flow again."""
    path = tmp_path / "journal.sock"
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(str(path))
    monkeypatch.setattr(audit_module, "JOURNAL_SOCKET", str(path))
    log = audit_module.AuditLog("journal")
    sink.close()
    path.unlink()
    for _ in range(3):
        log.record("connect", "viewer 127.0.0.1:1")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "audit" in r.name]
    assert len(errors) == 1
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(str(path))
    log.record("disconnect", "viewer 127.0.0.1:1")
    fields = dict(line.split("=", 1) for line in sink.recv(4096).decode().splitlines())
    assert fields["VNCTERM_EVENT"] == "disconnect"
    assert any("3 records were lost" in r.getMessage() for r in caplog.records)
    log.close()
    sink.close()


def child_fds(pid: int) -> dict[int, str]:
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:
            pass
    return out


def console_child(vncterm_pid: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{vncterm_pid}/task/{vncterm_pid}/children") as f:
                kids = f.read().split()
        except FileNotFoundError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise AssertionError("the console's child never appeared")


def test_child_inherits_no_server_descriptor(tmp_path: Path) -> None:
    """An inherited (systemd-style, inheritable) listening socket, the audit log, the --log file
    and connected viewers: the console's child holds only its terminal."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    lsock.set_inheritable(True)
    fd = os.dup(lsock.fileno())
    os.set_inheritable(fd, True)
    port = lsock.getsockname()[1]
    lsock.close()
    with RunningVncterm(
        ["sleep", "60"],
        listen=[ListenAddress(fd=fd), ListenAddress("127.0.0.1", 0)],
        audit_log=str(tmp_path / "a.jsonl"),
        log_path=str(tmp_path / "console.log"),
    ) as server:
        viewer = RawClient("127.0.0.1", port)  # served through the inherited socket
        viewer.update(incremental=False)
        assert server.server is not None
        proc = getattr(server.server.console, "proc", None)
        assert proc is not None
        fds = child_fds(proc.pid)
        assert sorted(fds) == [0, 1, 2], fds
        assert all(target.startswith("/dev/pts/") for target in fds.values()), fds
        viewer.close()


def run_cli(
    args: list[str], env: dict[str, str] | None = None, stdin: int | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vncterm", *args],
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_socket_activation_and_clean_shutdown_on_signal(tmp_path: Path, sig: int) -> None:
    """systemd hands the socket as fd 3 with LISTEN_FDS/LISTEN_PID; SIGTERM/SIGINT then close
    the viewers, send the child SIGHUP, flush the logs and exit 128+N."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    port = lsock.getsockname()[1]
    marker = tmp_path / "hup"
    audit = tmp_path / "audit.jsonl"
    console_log = tmp_path / "console.log"
    script = (
        f"trap 'echo hup > {marker}; exit 0' HUP; echo ready-$((6*7)); while :; do sleep 0.05; done"
    )
    shell = (
        "exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "
        f"{sys.executable} -m vncterm --audit-log {audit} --log {console_log} "
        f'-- sh -c "{script}"'
    )
    proc = subprocess.Popen(
        ["sh", "-c", shell], stdin=lsock.fileno(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    lsock.close()
    try:
        deadline = time.monotonic() + 20
        while b"ready-42" not in (console_log.read_bytes() if console_log.exists() else b""):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.05)
        viewer = RawClient("127.0.0.1", port)
        viewer.update(incremental=False)
        child = console_child(proc.pid)
        with open(f"/proc/{child}/environ", "rb") as f:
            assert b"LISTEN_FDS" not in f.read()  # not passed on to the console
        assert sorted(child_fds(child)) == [0, 1, 2]
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 128 + sig
        assert viewer.is_closed_by_server(timeout=2)
        assert marker.read_text().strip() == "hup"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert records[-1]["event"] == "stop" and records[-1]["status"] == 128 + sig
    assert any(r["event"] == "disconnect" for r in records)


def test_configuration_rules() -> None:
    from vncterm.config import Config

    exposed = [ListenAddress("0.0.0.0", 0)]
    with pytest.raises(ConfigError, match="without --password-file"):
        Config(command=["true"], listen=exposed, tls_cert="c.pem").validate()
    Config(command=["true"], listen=exposed, tls_cert="c.pem", tls_ca="ca.pem").validate()
    with pytest.raises(ConfigError, match="--plain-users needs TLS"):
        Config(command=["true"], plain_users={}).validate()
    with pytest.raises(ConfigError, match="max-viewers"):
        Config(command=["true"], max_viewers=0).validate()
    assert ListenAddress.parse("fd:3") == ListenAddress(fd=3)
    # a desktop connecting in reverse proves nothing: beyond loopback only with --insecure
    exposed_desktop = ListenAddress("0.0.0.0", 5500)
    with pytest.raises(ConfigError, match=r"refusing to accept desktops on 0\.0\.0\.0:5500"):
        Config(command=["true"], reverse_listen=exposed_desktop, password=b"pw").validate()
    Config(command=["true"], reverse_listen=exposed_desktop, insecure=True).validate()
    Config(command=["true"], reverse_listen=ListenAddress("127.0.0.1", 5500)).validate()


def test_hash_password_command_makes_a_usable_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vncterm", "--hash-password", "carol", "--view-only"],
        input=b"s3cret\n",
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.decode().strip()
    from vncterm.rfb import vencrypt

    users = vencrypt.parse_users(line)
    assert users["carol"].view_only
    assert vencrypt.check_plain(users, "carol", b"s3cret") is not None
    assert vencrypt.check_plain(users, "carol", b"s3cret ") is None
