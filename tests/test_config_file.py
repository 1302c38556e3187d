"""The configuration side of many consoles per process: ``--config FILE`` (TOML tables read
through the command line's own option table), errors naming the file, table and key (exit 2),
single-valued options given twice, systemd sockets by ``FileDescriptorName=``, and
``--list`` against a control socket served by a small asyncio unix server."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from vncterm.cli import config_from_args, host_config_from_args, main
from vncterm.config import ConsoleSpec, ListenAddress
from vncterm.config_file import load_config_file

pytestmark = pytest.mark.unit

FLEET = """
[vncterm]
port-range = "6000-6099"
listen-host = "127.0.0.1"
max-viewers = 12
websocket = ["127.0.0.1:6080"]
websocket-origin = "https://console.example.com"
state-dir = "state"

[defaults]
geometry = "100x30"
scrollback = 500
password-file = "secrets/pw"
command = ["bash", "-l"]

[console.vm1]
unix = "run/vm1.sock"
telnet = true
listen = ["127.0.0.1:5901", "unix:run/vm1-vnc.sock"]
log = "logs/vm1.log"
stream = { monitor = "unix:run/vm1-mon.sock", agent = "tcp:127.0.0.1:4444" }
restart = true

[console.shell]
font-size = 20
bold-bright = false
charset = "cp437"

[console.serial]
tty = "dev/ttyS0,baud=115200"
geometry = "80x25"
allow-resize = true
"""


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The FLEET file in ``tmp_path/etc``, read from another working directory."""
    write(tmp_path / "etc" / "secrets" / "pw", "s3cret\n")
    monkeypatch.chdir(tmp_path)
    return write(tmp_path / "etc" / "vncterm.toml", FLEET)


def test_consoles_take_defaults_and_their_own_keys(fleet: str) -> None:
    host = load_config_file(fleet)
    etc = os.path.dirname(fleet)
    assert list(host.consoles) == ["vm1", "shell", "serial"]
    assert not host.single and host.config_path == fleet
    assert host.port_range == (6000, 6099) and host.max_viewers == 12
    assert host.websocket == [ListenAddress("127.0.0.1", 6080)]
    assert host.websocket_origins == ("https://console.example.com",)
    assert host.state_dir == f"{etc}/state"
    vm1, shell, serial = host.consoles.values()
    # A console that names its backend (unix) takes no command from [defaults].
    assert vm1.command == [] and vm1.console == ConsoleSpec(
        "unix", f"{etc}/run/vm1.sock", telnet=True
    )
    assert vm1.listen == [
        ListenAddress("127.0.0.1", 5901),
        ListenAddress(path=f"{etc}/run/vm1-vnc.sock"),
    ]
    assert vm1.log_path == f"{etc}/logs/vm1.log"
    assert vm1.streams == [
        ("monitor", ConsoleSpec("unix", f"{etc}/run/vm1-mon.sock")),
        ("agent", ConsoleSpec("tcp", host="127.0.0.1", port=4444)),
    ]
    assert vm1.restart and not shell.restart
    assert (vm1.cols, vm1.rows, vm1.scrollback) == (100, 30, 500)
    # Password files are read at load time; the process-wide fields reach every console.
    assert vm1.password == shell.password == serial.password == b"s3cret"
    assert vm1.max_viewers == shell.max_viewers == 12
    assert not vm1.websocket_sniff  # a shared WebSocket listener: console ports speak RFB
    assert shell.command == ["bash", "-l"] and shell.console is None
    assert (shell.font_size, shell.bold_is_bright, shell.charset) == (20, False, "cp437")
    assert shell.listen == []  # a port from the range, handed out by the server
    assert serial.console == ConsoleSpec("tty", f"{etc}/dev/ttyS0", baud=115200)
    assert (serial.cols, serial.rows, serial.allow_resize) == (80, 25, True)


def test_a_console_without_command_or_backend_gets_the_users_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELL", "/bin/dash")
    host = load_config_file(write(tmp_path / "v.toml", "[console.plain]\n"))
    assert host.consoles["plain"].command == ["/bin/dash"]


def test_command_line_process_options_win_over_the_file_even_on_reload(fleet: str) -> None:
    host, _ = host_config_from_args(
        ["--config", fleet, "--max-viewers", "3", "--port-range", "7000-7010"]
    )
    assert host.max_viewers == 3 and host.port_range == (7000, 7010)
    assert all(c.max_viewers == 3 for c in host.consoles.values())
    assert host.config_path is not None
    again = load_config_file(host.config_path, host.overrides)  # what SIGHUP runs
    assert again.max_viewers == 3 and again.port_range == (7000, 7010)
    assert list(again.consoles) == ["vm1", "shell", "serial"]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[console.vm1]\npasswd-file = "x"\n', "[console.vm1] unknown key 'passwd-file'"),
        ("[defaults]\nverbose = 2\n", "[defaults] unknown key 'verbose'"),
        (
            '[console.vm1]\naudit-log = "a.log"\n',
            "[console.vm1] key 'audit-log' belongs in [vncterm]",
        ),
        ('[defaults]\nport-range = "1-2"\n', "[defaults] key 'port-range' belongs in [vncterm]"),
        ('[vncterm]\ngeometry = "80x25"\n', "[vncterm] unknown key 'geometry'"),
        ("[consoles.vm1]\n", "unknown table 'consoles'"),
        ('[console.vm1]\nfont-size = "big"\n', "[console.vm1] key 'font-size' must be an integer"),
        ("[console.vm1]\nlisten = 5901\n", "[console.vm1] key 'listen' must be a string or a list"),
        (
            '[console.vm1]\ncommand = "bash"\n',
            "[console.vm1] key 'command' must be a non-empty list",
        ),
        ('[console.vm1]\ntelnet = "yes"\n', "[console.vm1] key 'telnet' must be true or false"),
        ('[console.vm1]\nstream = "unix:x"\n', "[console.vm1] key 'stream' must be a table"),
        ('[vncterm]\nstuck-timeout = "long"\n', "[vncterm] key 'stuck-timeout' must be a number"),
        ('[console.vm1]\ncharset = "ebcdic"\n', "[console.vm1] key 'charset': invalid choice"),
        ('[console.vm1]\ngeometry = "wide"\n', "[console.vm1] bad geometry 'wide'"),
        ('[console.vm1]\nunix = "a"\ntcp = "h:1"\n', "[console.vm1] choose one console"),
        ('[console.vm1]\npassword-file = "missing"\n', "[console.vm1] cannot read password file"),
        (
            '[console.vm1]\nlisten = "0.0.0.0:5901"\n',
            "[console.vm1]: refusing to listen on 0.0.0.0:5901",
        ),
        ('[vncterm]\nport-range = "6200-6100"\n', "port range 6200-6100 out of range"),
        ("[console]\nvm1 = 1\n", "[console.vm1] must be a table"),
        ("[console.vm1]\ngeometry = \n", "(at line 2, column 12)"),
    ],
)
def test_config_errors_name_the_table_and_key_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = write(tmp_path / "vncterm.toml", text)
    status, err = run_main(["--config", path], capsys)
    assert status == 2
    assert err.startswith(f"vncterm: {path}: ") and expected in err, err


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--unix", "/x.sock"], "--unix"),
        (["--geometry", "80x25"], "--geometry"),
        (["--", "sh"], "-- CMD"),
    ],
)
def test_console_options_cannot_go_with_config(
    fleet: str, capsys: pytest.CaptureFixture[str], extra: list[str], flag: str
) -> None:
    status, err = run_main(["--config", fleet, *extra], capsys)
    assert status == 2 and f"{flag} cannot go with --config" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--unix", "/a.sock", "--unix", "/b.sock"],
        ["--tcp", "h:1", "--tcp", "h:2"],
        ["--tty", "/dev/ttyS0", "--tty", "/dev/ttyS1"],
        ["--password-file", "a", "--password-file", "b"],
        ["--geometry", "80x25", "--geometry", "80x25"],
        ["--name", "a", "--name", "b"],
        ["--log", "a", "--log", "b"],
        ["--config", "a", "--config", "b"],
        ["--font-size", "15", "--font-size", "15"],
        ["--antialias", "--antialias"],
        ["--bold-bright", "--no-bold-bright"],
    ],
)
def test_a_single_valued_option_given_twice_is_an_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert f"argument {argv[0]}" in capsys.readouterr().err


def test_repeatable_options_still_repeat() -> None:
    config, _ = config_from_args(
        [
            "--listen",
            ":5901",
            "--listen",
            ":5902",
            "--stream",
            "a=unix:/a",
            "--stream",
            "b=unix:/b",
            "--websocket-origin",
            "https://a",
            "--websocket-origin",
            "https://b",
            "-v",
            "-v",
            "--",
            "sh",
        ]
    )
    assert [a.port for a in config.listen] == [5901, 5902]
    assert [name for name, _ in config.streams] == ["a", "b"]
    assert config.websocket_origins == ("https://a", "https://b")


def test_the_command_line_is_a_host_of_one_named_console(tmp_path: Path) -> None:
    host, _ = host_config_from_args(
        ["--console-name", "vm1", "--state-dir", str(tmp_path), "--max-viewers", "4", "--", "sh"]
    )
    assert host.single and list(host.consoles) == ["vm1"] and host.config_path is None
    assert host.state_dir == str(tmp_path) and host.max_viewers == 4
    assert host.consoles["vm1"].command == ["sh"]
    assert host.consoles["vm1"].listen == [ListenAddress("127.0.0.1", 5900)]


def systemd_env(monkeypatch: pytest.MonkeyPatch, count: int, names: str) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", str(count))
    monkeypatch.setenv("LISTEN_FDNAMES", names)


def test_systemd_sockets_go_to_consoles_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One console: sockets named after it or ``websocket`` by name, the others (named after
    their unit by systemd) its listeners as before; a config file: all by name."""
    systemd_env(monkeypatch, 3, "vm1:websocket:vncterm.socket")
    host, _ = host_config_from_args(["--console-name", "vm1", "--insecure", "--", "sh"])
    assert host.named_fds == {"vm1": [3], "websocket": [4]}
    assert host.consoles["vm1"].listen == [ListenAddress(fd=5)]
    assert "LISTEN_FDNAMES" not in os.environ  # no console's child sees them
    systemd_env(monkeypatch, 3, "vm1:websocket:vm1")
    path = write(tmp_path / "v.toml", '[console.vm1]\ncommand = ["sh"]\n')
    host, _ = host_config_from_args(["--config", path])
    assert host.named_fds == {"vm1": [3, 5], "websocket": [4]}
    assert host.consoles["vm1"].listen == []


LISTING = {
    "consoles": [
        {
            "name": "vm1",
            "ports": [5901],
            "websocket": "/vm1",
            "streams": ["console", "monitor"],
            "viewers": 2,
            "status": "running",
        },
        {
            "name": "local",
            "ports": [],
            "listen": ["/run/local.sock"],
            "streams": ["console"],
            "viewers": 1,
            "status": "restarting",
        },
        {
            "name": "build-box",
            "ports": [6000, 6001],
            "websocket": "/build-box",
            "streams": [],
            "viewers": 0,
            "status": "exited 1",
        },
    ],
    "websocket": ["127.0.0.1:6080"],
}


def list_against_server(state_dir: Path, argv: list[str]) -> tuple[int, list[bytes]]:
    """``main(argv)`` in a thread while an asyncio unix server on STATE_DIR/control answers
    LISTING to each connection; the requests it got."""
    requests: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readline())
        writer.write(json.dumps(LISTING).encode())
        await writer.drain()
        writer.close()

    async def scenario() -> int:
        server = await asyncio.start_unix_server(answer, path=str(state_dir / "control"))
        async with server:
            return await asyncio.to_thread(main, argv)

    return asyncio.run(scenario()), requests


def test_list_prints_a_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, requests = list_against_server(tmp_path, ["--list", "--state-dir", str(tmp_path)])
    assert status == 0 and requests == [b"list\n"]
    assert capsys.readouterr().out.splitlines() == [
        "NAME       PORTS            VIEWERS  STREAMS          STATUS      TOKEN",
        "vm1        5901             2        console,monitor  running     -",
        "local      /run/local.sock  1        console          restarting  -",
        "build-box  6000,6001        0        -                exited 1    -",
        "WebSocket by name (/NAME) or token (/?token=TOKEN): 127.0.0.1:6080",
    ]
    status, requests = list_against_server(
        tmp_path, ["--list", "--json", "--state-dir", str(tmp_path)]
    )
    assert status == 0 and json.loads(capsys.readouterr().out) == LISTING


def test_list_with_nothing_listening_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run_main(["--list", "--state-dir", str(tmp_path)], capsys)
    assert status == 1 and f"no vncterm is listening on {tmp_path}/control" in err


def test_restart_belongs_to_the_consoles_of_a_config_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One console on the command line ends vncterm with its program: nothing to restart."""
    status, err = run_main(["--restart", "--", "sh"], capsys)
    assert status == 2 and "--restart is for the consoles of --config" in err


def test_the_readmes_example_file_loads(tmp_path: Path) -> None:
    """The config file shown in README.md is one vncterm reads."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("## Many consoles: the config file", 1)[1].split("```toml\n", 1)[1]
    path = write(tmp_path / "vncterm.toml", example.split("```", 1)[0])
    write(tmp_path / "vnc-password", "pw\n")
    host = load_config_file(path)
    assert list(host.consoles) == ["vm1", "router", "build"]
    assert host.consoles["router"].console == ConsoleSpec("tty", "/dev/ttyUSB0", baud=115200)
    assert host.consoles["build"].restart and host.consoles["vm1"].password == b"pw"
