"""Tokens and publishing (vncterm.server.tokens, publish, publish_redis): random tokens kept
per console across restarts, ``?token=`` on the shared WebSocket listener, ``--list`` showing
them, websockify TokenFile files (atomic, 0644, ours only), and Redis keys with an expiry kept
fresh, deleted on removal and exit, republished when a restarted Redis comes back."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fronts import RedisServer
from host_harness import RunningHost
from rawclient import RawClient
from test_host import ask_list, by_name, host_config, sleeper, wait_until
from wsclient import HandshakeRefused, WsRawClient

from vncterm.cli import host_config_from_args
from vncterm.config import PublishConfig
from vncterm.config_file import load_config_file
from vncterm.control_client import format_consoles
from vncterm.errors import ConfigError
from vncterm.server.publish import MARK
from vncterm.server.publish_redis import RedisAddress
from vncterm.server.tokens import TOKENS_FILE, TokenBook

# -- tokens --------------------------------------------------------------------------------------


@pytest.mark.unit
def test_tokens_are_random_kept_per_name_and_names_when_asked(tmp_path: Path) -> None:
    book = TokenBook(str(tmp_path))
    one, two = book.token_for("vm1"), book.token_for("vm2")
    assert one != two and len(one) >= 22  # 16 random bytes, URL-safe base64
    assert all(c.isalnum() or c in "-_" for c in one + two)
    assert book.token_for("vm1") == one
    again = TokenBook(str(tmp_path))  # a restart of vncterm
    assert (again.token_for("vm1"), again.token_for("vm2")) == (one, two)
    assert stat.S_IMODE(os.stat(tmp_path / TOKENS_FILE).st_mode) == 0o600
    assert again.name_for(two, {"vm1", "vm2"}) == "vm2"
    assert again.name_for(two, {"vm1"}) is None and again.name_for("vm2", {"vm2"}) is None
    named = TokenBook(str(tmp_path), names=True)
    assert named.token_for("vm1") == "vm1" and named.name_for("vm2", {"vm2"}) == "vm2"
    # a damaged file: fresh tokens, no crash
    (tmp_path / TOKENS_FILE).write_text('{"vm1": "bad token with spaces", "vm2": 7}')
    fresh = TokenBook(str(tmp_path))
    assert fresh.token_for("vm1") not in (one, "bad token with spaces")


@pytest.mark.peer
def test_shared_listener_routes_tokens_and_list_shows_them(tmp_path: Path) -> None:
    config = host_config(tmp_path, alpha=sleeper("ALPHA-UP"), beta=sleeper("BETA-UP"))
    with RunningHost(config) as run:
        assert run.host is not None
        run["alpha"].wait_text("ALPHA-UP")
        listed = by_name(ask_list(config.state_dir))
        token = str(listed["beta"]["token"])
        assert len(token) >= 22 and token != listed["alpha"]["token"]
        assert token in format_consoles(ask_list(config.state_dir))
        port = run.host.websocket_addresses[0][1]
        for path in (f"/websockify?token={token}", f"/?token={token}", f"/alpha?token={token}"):
            ws = WsRawClient("127.0.0.1", port, path=path)  # the token wins over the path
            assert ws.name.startswith(b"beta on ")
            ws.close()
        for path in ("/websockify?token=nope", "/websockify?token=beta", "/?token="):
            with pytest.raises(HandshakeRefused) as refused:
                WsRawClient("127.0.0.1", port, path=path)
            assert refused.value.status == 404, path
    with RunningHost(config) as run:  # the same token after a restart
        assert by_name(ask_list(config.state_dir))["beta"]["token"] == token
    names = dataclasses.replace(config, publish=PublishConfig(token_names=True))
    with RunningHost(names) as run:
        assert run.host is not None
        port = run.host.websocket_addresses[0][1]
        ws = WsRawClient("127.0.0.1", port, path="/websockify?token=alpha")
        assert ws.name.startswith(b"alpha on ")
        ws.close()
        assert by_name(ask_list(config.state_dir))["alpha"]["token"] == "alpha"


# -- token files (websockify TokenFile) ----------------------------------------------------------


def read_tokens(folder: Path) -> dict[str, str]:
    """What websockify's TokenFile reads: every file's ``TOKEN: HOST:PORT`` lines."""
    found: dict[str, str] = {}
    for entry in folder.iterdir():
        for line in entry.read_text().splitlines():
            if line and not line.startswith("#"):
                token, _, target = line.partition(": ")
                found[token] = target
    return found


@pytest.mark.peer
def test_token_files_for_two_hosts_in_one_folder(tmp_path: Path) -> None:
    folder = tmp_path / "tokens"
    folder.mkdir()
    # someone else's file, one named like ours but not written by vncterm, and our own stale one
    (folder / "other-host.vm9").write_text("theirs: 10.0.0.9:5900\n")
    (folder / "hosta.handmade").write_text("handmade: 10.0.0.8:5900\n")
    (folder / "hosta.gone").write_text(f"{MARK}hosta\nstale: 127.0.0.2:5999\n")
    a = dataclasses.replace(
        host_config(tmp_path / "a", alpha=sleeper("A"), beta=sleeper("B")),
        publish=PublishConfig(token_dir=str(folder), host_id="hosta", advertise="hosta.example"),
    )
    b = dataclasses.replace(
        host_config(tmp_path / "b", alpha=sleeper("A")),
        publish=PublishConfig(token_dir=str(folder), host_id="hostb"),
    )
    with RunningHost(a) as run_a, RunningHost(b) as run_b:
        assert run_a.host is not None and run_b.host is not None
        tokens_a = {n: run_a.host.publishing.tokens.token_for(n) for n in ("alpha", "beta")}
        token_b = run_b.host.publishing.tokens.token_for("alpha")
        assert sorted(p.name for p in folder.iterdir()) == [
            "hosta.alpha",
            "hosta.beta",
            "hosta.handmade",
            "hostb.alpha",
            "other-host.vm9",
        ]
        assert read_tokens(folder) == {
            tokens_a["alpha"]: f"hosta.example:{run_a['alpha'].port}",
            tokens_a["beta"]: f"hosta.example:{run_a['beta'].port}",
            token_b: f"127.0.0.1:{run_b['alpha'].port}",
            "theirs": "10.0.0.9:5900",
            "handmade": "10.0.0.8:5900",
        }
        assert stat.S_IMODE(os.stat(folder / "hosta.alpha").st_mode) == 0o644
        # the temporary files live beside the folder, never in it
        assert (tmp_path / ".tokens.tmp-hosta").is_dir()
        run_a.run(run_a.host.remove_console("beta"))
        assert not (folder / "hosta.beta").exists()
        run_a.run(run_a.host.add_console("gamma", sleeper("G")))
        assert read_tokens(folder)[run_a.host.publishing.tokens.token_for("gamma")].startswith(
            "hosta.example:"
        )
    assert sorted(p.name for p in folder.iterdir()) == ["hosta.handmade", "other-host.vm9"]
    assert not (tmp_path / ".tokens.tmp-hosta").exists()


@pytest.mark.peer
def test_an_unwritable_token_folder_is_refused_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = dataclasses.replace(
        host_config(tmp_path, alpha=sleeper("A")),
        publish=PublishConfig(token_dir=str(blocker / "tokens"), host_id="h"),
    )
    with pytest.raises(ConfigError, match=r"--publish-tokens .*cannot write there"):
        with RunningHost(config):
            pass
    # the command line: a clear message and exit status 2, before any console is served
    done = subprocess.run(
        [sys.executable, "-m", "vncterm", "--listen", "127.0.0.1:0"]
        + ["--state-dir", str(tmp_path / "state2"), "--publish-tokens", str(blocker / "t")]
        + ["--", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "--publish-tokens" in done.stderr and "cannot write there" in done.stderr
    assert "Traceback" not in done.stderr


# -- Redis (websockify TokenRedis) ---------------------------------------------------------------


@pytest.mark.peer
@pytest.mark.slow
def test_redis_keys_expire_unless_refreshed_and_come_back_after_a_redis_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vncterm.server.publish_redis")
    with RedisServer(password="s3cret-redis") as redis:
        config = dataclasses.replace(
            host_config(tmp_path, alpha=sleeper("A"), beta=sleeper("B")),
            publish=PublishConfig(
                redis=f"127.0.0.1:{redis.port}/3",
                redis_password="s3cret-redis",
                redis_namespace="fleet",
                expiry=4.0,
                advertise="10.1.2.3",
            ),
        )
        with RunningHost(config) as run:
            assert run.host is not None
            tokens = {n: run.host.publishing.tokens.token_for(n) for n in ("alpha", "beta")}
            keys = {f"fleet:{t}": n for n, t in tokens.items()}
            wait_until(lambda: redis.keys(db=3) == sorted(keys))
            for key, name in keys.items():
                value = json.loads(redis.get(key, db=3) or "null")
                assert value == {"host": f"10.1.2.3:{run[name].port}"}
            key = next(iter(keys))
            assert 0 < int(redis.cli("PTTL", key, db=3)[0]) <= 4000
            time.sleep(2 * 4.0)  # two expiries later: refreshed all along
            assert redis.keys(db=3) == sorted(keys)
            run.run(run.host.remove_console("beta"))
            wait_until(lambda: redis.keys(db=3) == [f"fleet:{tokens['alpha']}"])
            # Redis goes away and comes back empty: vncterm serves on, then writes it all again
            redis.stop()
            time.sleep(2.0)
            with RawClient("127.0.0.1", run["alpha"].port) as viewer:
                assert viewer.name.startswith(b"alpha on ")
            redis.start()
            wait_until(lambda: redis.keys(db=3) == [f"fleet:{tokens['alpha']}"], 40)
        assert redis.keys(db=3) == []  # a clean exit deletes its keys
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1, messages
    assert sum("published (expiry 4 s) again" in m for m in messages) == 1, messages


# -- the options -----------------------------------------------------------------------------


@pytest.mark.unit
def test_publishing_keys_in_the_config_file_and_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "redis-pw").write_text("a long redis password\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "host.toml").write_text(
        "[vncterm]\n"
        'publish-tokens = "tokens"\n'
        'publish-redis = "[::1]:6380/2"\n'
        'publish-redis-password-file = "redis-pw"\n'
        'publish-redis-namespace = "fleet"\n'
        "publish-expiry = 20\n"
        'advertise = "10.0.0.11"\n'
        'host-id = "hv1"\n'
        "token-names = true\n"
        "websocket-ping = 15\n"
        'web = "web"\n'
        "[defaults]\nkeepalive = 25\n"
        '[console.vm1]\ncommand = ["true"]\n'
    )
    host = load_config_file(str(tmp_path / "host.toml"))
    assert host.publish == PublishConfig(
        token_names=True,
        token_dir=str(tmp_path / "tokens"),
        redis="[::1]:6380/2",
        redis_password="a long redis password",
        redis_namespace="fleet",
        expiry=20.0,
        advertise="10.0.0.11",
        host_id="hv1",
    )
    assert RedisAddress.parse(host.publish.redis or "") == RedisAddress("::1", 6380, 2)
    assert (host.websocket_ping, host.web) == (15.0, str(tmp_path / "web"))
    vm1 = host.consoles["vm1"]
    assert (vm1.keepalive, vm1.websocket_ping, vm1.web) == (25.0, 15.0, str(tmp_path / "web"))
    (tmp_path / "bad.toml").write_text('[console.vm1]\ncommand = ["true"]\npublish-redis = "r"\n')
    with pytest.raises(ConfigError, match="belongs in \\[vncterm\\]"):
        load_config_file(str(tmp_path / "bad.toml"))
    host, _ = host_config_from_args(
        ["--publish-redis", "redis.example", "--host-id", "hv2", "--keepalive", "30", "--", "true"]
    )
    assert host.publish.redis == "redis.example" and host.publish.host_id == "hv2"
    assert host.consoles["console"].keepalive == 30.0
    for argv, message in (
        (["--host-id", "../x"], "--host-id"),
        (["--publish-expiry", "1"], "--publish-expiry"),
        (["--keepalive", "-1"], "--keepalive"),
        (["--web", str(tmp_path / "none")], "--web"),
    ):
        with pytest.raises(ConfigError, match=message):
            host_config_from_args([*argv, "--", "true"])
    for bad in ("", ":6379", "host:port", "host:6379/x", "host:99999"):
        with pytest.raises(ConfigError, match="--publish-redis"):
            RedisAddress.parse(bad)
