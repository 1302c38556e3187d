"""The sans-I/O QMP core (``vncterm.qmp.protocol``) and the reading of chardevs
(``vncterm.qmp.chardevs``): bytes split anywhere, garbage never raised, every cap kept; and
``--qmp``/``qmp =`` as a console option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vncterm.cli import config_from_args
from vncterm.config import ConsoleSpec
from vncterm.config_file import load_config_file
from vncterm.errors import ConfigError, UsageError
from vncterm.qmp import chardevs as cd
from vncterm.qmp import protocol as qp

pytestmark = pytest.mark.unit

GREETING = (
    b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, '
    b'"capabilities": ["oob"]}}\r\n'
)


def feed_split(proto: qp.QmpProtocol, data: bytes, step: int) -> list[qp.Event]:
    events: list[qp.Event] = []
    for i in range(0, len(data), step):
        events += proto.receive_data(data[i : i + step])
    return events


def ready() -> qp.QmpProtocol:
    proto = qp.QmpProtocol()
    proto.receive_data(GREETING)
    sent = json.loads(proto.data_to_send())
    proto.receive_data(b'{"return": {}, "id": %d}\r\n' % sent["id"])
    return proto


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_greeting_negotiation_commands_and_events_split_anywhere(step: int) -> None:
    proto = qp.QmpProtocol()
    with pytest.raises(UsageError):
        proto.command("query-chardev")  # not before the negotiation
    assert feed_split(proto, GREETING, step) == [qp.Greeting("7.2.22")]
    sent = json.loads(proto.data_to_send())
    assert sent["execute"] == "qmp_capabilities"
    answer = b'{"return": {}, "id": %d}\r\n' % sent["id"]
    assert feed_split(proto, answer, step) == [qp.Ready()]
    a = proto.command("query-chardev")
    b = proto.command("qom-get", {"path": "/machine/peripheral/x", "property": "name"})
    lines = proto.data_to_send().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [a, b]
    assert json.loads(lines[1])["arguments"] == {
        "path": "/machine/peripheral/x",
        "property": "name",
    }
    wire = (
        b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "VSERPORT_CHANGE", '
        b'"data": {"id": "p", "open": true}}\r\n'
        + b'{"error": {"class": "DeviceNotFound", "desc": "no x"}, "id": %d}\r\n' % b
        + b'{"return": [{"label": "serial0"}], "id": %d}\r\n' % a
    )
    assert feed_split(proto, wire, step) == [
        qp.AsyncEvent("VSERPORT_CHANGE", {"id": "p", "open": True}),
        qp.Failure(b, "qom-get", "DeviceNotFound", "no x"),
        qp.Reply(a, "query-chardev", [{"label": "serial0"}]),
    ]
    assert proto.pending == 0


def test_garbage_is_an_event_never_an_exception() -> None:
    proto = ready()
    cid = proto.command("query-chardev")
    proto.data_to_send()
    events = proto.receive_data(
        b"not json\r\n[1, 2]\r\n{}\r\n"
        b'{"return": 1, "id": 99999}\r\n{"event": 5}\r\n\xff\xfe\r\n' + b"[" * 100000 + b"\r\n"
    )
    assert all(isinstance(e, qp.Garbage) and not e.fatal for e in events), events
    assert len(events) == 7
    # the connection goes on: the real reply still arrives
    assert proto.receive_data(b'{"return": [], "id": %d}\n' % cid) == [
        qp.Reply(cid, "query-chardev", [])
    ]


def test_a_peer_that_is_not_qmp_is_fatal_garbage() -> None:
    proto = qp.QmpProtocol()
    (event,) = proto.receive_data(b"guest:/# \r\n")
    assert isinstance(event, qp.Garbage) and event.fatal
    refused = qp.QmpProtocol()
    refused.receive_data(GREETING)
    sent = json.loads(refused.data_to_send())
    (event,) = refused.receive_data(
        b'{"error": {"class": "CommandNotFound", "desc": "no"}, "id": %d}\n' % sent["id"]
    )
    assert isinstance(event, qp.Garbage) and event.fatal and not refused.ready


def test_line_and_pending_caps() -> None:
    proto = ready()
    proto.max_line = 100
    # an over-long line is skipped (reported once) up to its newline, in any number of pieces
    events = proto.receive_data(b"x" * 150)
    events += proto.receive_data(b"y" * 150)
    assert [type(e) for e in events] == [qp.Garbage]
    assert proto.receive_data(b'zzz\n{"event": "RESET"}\n') == [qp.AsyncEvent("RESET", {})]
    proto.max_pending = 3
    for _ in range(3):
        proto.command("query-status")
    with pytest.raises(UsageError):
        proto.command("query-status")


def test_chardev_filenames() -> None:
    def sock(filename: str) -> object:
        return cd.Chardev("x", filename, True).socket

    assert sock("disconnected:unix:/run/vm/s0,server=on") == ("unix", "/run/vm/s0", False, True)
    assert sock("unix:/run/vm/s0,server=on") == ("unix", "/run/vm/s0", False, True)
    assert sock("disconnected:tcp:127.0.0.1:4444,server=on") == (
        "tcp",
        ("127.0.0.1", 4444),
        False,
        True,
    )
    assert sock("tcp:127.0.0.1:4444,server=on <-> 127.0.0.1:5555") == (
        "tcp",
        ("127.0.0.1", 4444),
        False,
        True,
    )
    assert sock("disconnected:telnet:[::1]:23,server=on") == ("tcp", ("::1", 23), True, True)
    assert sock("pty:/dev/pts/3") is None
    assert "pty" in (cd.Chardev("x", "pty:/dev/pts/3", True).unusable() or "")
    assert "server=off" in (cd.Chardev("x", "disconnected:unix:/s", True).unusable() or "")
    assert sock("tcp:host:99999999") is None


def test_streams_named_like_spice_ports() -> None:
    chardevs, problems = cd.parse_chardevs(
        [
            {"label": "serial0", "filename": "unix:/vm/s0,server=on", "frontend-open": True},
            {"label": "serial1", "filename": "disconnected:unix:/vm/s1,server=on"},
            {"label": "ga", "filename": "disconnected:unix:/vm/ga,server=on"},
            {"label": "mon", "filename": "unix:/vm/qmp,server=on", "frontend-open": True},
            {"label": "p", "filename": "pty:/dev/pts/4", "frontend-open": True},
            {"label": "dup", "filename": "disconnected:unix:/vm/d,server=on"},
            {"label": "orphan", "filename": "disconnected:unix:/vm/o,server=on"},
            {"label": "hmp", "filename": "unix:/vm/hmp,server=on", "frontend-open": True},
            "junk",
            {"filename": "no label"},
        ]
    )
    assert len(problems) == 2
    frontends = {
        "serial0": cd.Frontend("isa-serial"),
        "serial1": cd.Frontend("isa-serial"),
        "ga": cd.Frontend("virtserialport", "org.qemu.guest_agent.0"),
        "dup": cd.Frontend("virtconsole", "org.qemu.guest_agent.0"),
    }
    first = cd.first_serial(chardevs, frontends)
    assert first is not None and first.label == "serial0"
    offers, skipped = cd.plan(chardevs, frontends, {"serial0"}, {"/vm/qmp"})
    # a chardev no device uses is offered only while open (a monitor), never unbound
    assert list(offers) == ["serial1", "org.qemu.guest_agent.0", "hmp"]
    assert offers["org.qemu.guest_agent.0"] == cd.Offer("ga", "/vm/ga", False, False)
    assert set(skipped) == {"p", "dup"}  # "orphan" is not skipped: it is not there yet
    assert cd.parse_chardevs({"not": "a list"})[0] == []
    many = [{"label": f"c{i}", "filename": "unix:/x,server=on"} for i in range(1000)]
    assert len(cd.parse_chardevs(many)[0]) == cd.MAX_CHARDEVS


def test_qmp_is_a_console_option_of_the_command_line_and_the_config_file(tmp_path: Path) -> None:
    config, _ = config_from_args(["--qmp", "/run/vm-qmp.sock"])
    assert (config.qmp, config.console, config.command) == ("/run/vm-qmp.sock", None, [])
    with pytest.raises(ConfigError, match="takes no command"):
        config_from_args(["--qmp", "/run/vm-qmp.sock", "--", "/bin/sh"])
    path = tmp_path / "vncterm.toml"
    path.write_text(
        '[defaults]\ncommand = ["/bin/sh"]\n\n'
        '[console.vm1]\nqmp = "run/vm1-qmp.sock"\n\n'
        '[console.vm2]\nqmp = "run/vm2-qmp.sock"\nunix = "run/vm2.sock"\n'
    )
    host = load_config_file(str(path))
    vm1, vm2 = host.consoles["vm1"], host.consoles["vm2"]
    # relative to the file; a console with qmp takes no [defaults] command
    assert (vm1.qmp, vm1.console, vm1.command) == (f"{tmp_path}/run/vm1-qmp.sock", None, [])
    assert vm2.qmp == f"{tmp_path}/run/vm2-qmp.sock"
    assert vm2.console == ConsoleSpec("unix", f"{tmp_path}/run/vm2.sock")
