"""Consoles found through libvirt (``vncterm --libvirt URI``), with a real libvirtd and real TCG
guests (tests/peers/libvirt_daemon.py): every running domain a console on its own port, a guest
started later appears, a channel hot-plugged with ``virsh attach-device --live`` comes and goes
as a stream, a destroyed guest's console says so; and the domain XML rules, without a daemon."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from host_harness import RunningHost
from peers.common import wait_until_equal
from peers.libvirt_daemon import CHANNEL, LibvirtDaemon, channel_xml
from peers.qemu_guest import guest_port
from peers.vncdotool_peer import VncDoToolPeer
from rawclient import RawClient
from selenium import webdriver
from test_browser import browser, events, page_url, wait_event, wait_same_pixels  # noqa: F401
from test_host import ask_list, by_name, free_range, wait_until
from test_host_viewers import type_in_page
from test_viewers_desktop import wait_line
from wsclient import WsRawClient

from vncterm.client import StreamClient
from vncterm.config import Config, HostConfig, ListenAddress
from vncterm.server.libvirt_source import LibvirtSource
from vncterm.server.libvirt_xml import DomainXMLError, console_name, parse_devices

pytestmark = pytest.mark.filterwarnings("ignore:TripleDES has been moved")

MARKER = "VNCTERM-GUEST-READY"


# -- a daemon and two guests for the whole session --------------------------------------------


@pytest.fixture(scope="session")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LibvirtDaemon]:
    daemon = LibvirtDaemon(tmp_path_factory.mktemp("libvirt"))
    started = time.monotonic()
    daemon.start()
    print(f"\nlibvirtd ready in {time.monotonic() - started:.2f} s", file=sys.stderr)
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def two_guests(libvirtd: LibvirtDaemon) -> list[str]:
    names = ["vt-alpha", "vt-beta"]
    for name in names:
        libvirtd.start_guest(name)
    return names


def serve(
    libvirtd: LibvirtDaemon,
    tmp_path: Path,
    force: bool = False,
    remote: bool = False,
    websocket: bool = False,
) -> tuple[RunningHost, LibvirtSource]:
    """A host with no console of its own, discovering the daemon's domains (and a shared
    WebSocket listener, when asked)."""
    config = HostConfig(
        consoles={},
        state_dir=str(tmp_path / "state"),
        port_range=free_range(8),
        libvirt=libvirtd.uri,
        websocket=[ListenAddress("127.0.0.1", 0)] if websocket else [],
    )
    running = RunningHost(config)
    running.__enter__()
    assert running.host is not None
    host = running.host
    source = running.call(
        lambda: LibvirtSource(host, libvirtd.uri, Config(command=[]), force_console=force)
    )
    source.remote = remote  # as over qemu+ssh://: only libvirt's own streams reach a device
    running.run(source.start(), timeout=30)
    return running, source


def stop(running: RunningHost, source: LibvirtSource) -> None:
    running.call(source.close)
    running.__exit__(None, None, None)


def child_env() -> dict[str, str]:
    """The environment of a vncterm this test starts: this run's import path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def vncterm_process(*args: str) -> subprocess.Popen[str]:
    """``python -m vncterm ARGS`` as a user runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "vncterm", *args], env=child_env(), stderr=subprocess.PIPE, text=True
    )


def listed(state: Path) -> dict[str, Any]:
    """The consoles of the vncterm keeping ``state``, by name (none until it answers)."""
    try:
        return by_name(ask_list(str(state)))
    except OSError:
        return {}


def type_and_see(running: RunningHost, name: str, viewer: VncDoToolPeer, text: str) -> None:
    """``echo`` through the viewer, its answer on the console, the viewer's screen the
    server's."""
    wait_until(lambda: running.host.services[name].console.connected, 20)  # type: ignore[union-attr]
    answer = f"{text}-{len(text) * 7}"
    deadline = time.monotonic() + 90  # TCG boot: the shell may not be there yet
    while True:
        viewer.type(f"echo {text}-$(({len(text)}*7))\n")
        try:
            running[name].wait_text(answer, timeout=3)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    diff = wait_until_equal(viewer, running[name].framebuffer, timeout=10)
    assert diff, diff


def shell_ready(console: Any, timeout: float = 90) -> None:
    """Until the guest's shell on this console answers (a TCG guest boots in seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        console.write_console(b"echo up-$((20+22))\n")
        try:
            console.wait_text("up-42", timeout=3)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


# -- end to end --------------------------------------------------------------------------------


@pytest.mark.peer
@pytest.mark.slow
def test_two_guests_each_a_console_on_its_own_port(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    running, source = serve(libvirtd, tmp_path)
    try:
        listed = by_name(ask_list(str(tmp_path / "state")))
        assert set(two_guests) <= set(listed)
        ports = {name: listed[name]["ports"][0] for name in two_guests}  # type: ignore[index]
        assert len(set(ports.values())) == 2
        for name in two_guests:
            # the unix serial and the virtio channel are streams beside the console
            assert {"console", "serial1", CHANNEL} <= set(listed[name]["streams"])  # type: ignore[arg-type]
            viewer = VncDoToolPeer(timeout=10)
            viewer.connect("127.0.0.1", ports[name], None, encodings=["raw"])
            try:
                type_and_see(running, name, viewer, name.replace("-", ""))
            finally:
                viewer.close()
    finally:
        stop(running, source)


@pytest.mark.peer
@pytest.mark.slow
def test_two_guests_by_name_in_chromium(
    libvirtd: LibvirtDaemon,
    two_guests: list[str],
    tmp_path: Path,
    browser: webdriver.Chrome,  # noqa: F811
    page_url: str,  # noqa: F811
) -> None:
    """noVNC in Chromium opens each guest by its domain's name on the shared WebSocket
    listener: pixel-exact, and what it types reaches that guest only."""
    running, source = serve(libvirtd, tmp_path, websocket=True)
    try:
        for name in two_guests:
            view = running[name]
            shell_ready(view)
            browser.get(f"{page_url}?host=127.0.0.1&port={running.websocket_port}&path={name}")
            wait_event(browser, "connect")
            token = name.replace("-", "")
            type_in_page(browser, f"echo {token}-$((6*7))\n")
            wait_line(view, f"{token}-42", f"Chromium on {name}", timeout=60)
            wait_same_pixels(browser, view, timeout=20)
            for other in two_guests:
                if other != name:
                    assert not any(f"{token}-42" in line for line in running[other].text())
            browser.execute_script("window.rfb.disconnect()")
            assert wait_event(browser, "disconnect")["clean"]
    finally:
        stop(running, source)


@pytest.mark.peer
@pytest.mark.slow
def test_a_guest_started_later_appears_and_its_destruction_is_shown(
    libvirtd: LibvirtDaemon, tmp_path: Path
) -> None:
    running, source = serve(libvirtd, tmp_path)
    try:
        assert "vt-later" not in running.host.services  # type: ignore[union-attr]
        libvirtd.start_guest("vt-later")
        wait_until(lambda: "vt-later" in source.guests, 20)
        port = running["vt-later"].port
        viewer = VncDoToolPeer(timeout=10)
        viewer.connect("127.0.0.1", port, None, encodings=["raw"])
        try:
            type_and_see(running, "vt-later", viewer, "later")
            libvirtd.destroy("vt-later")
            service = running.host.services["vt-later"]  # type: ignore[union-attr]
            wait_until(lambda: "destroyed" in (running.call(service.session.status.text) or ""))
            # the viewer sees it: its screen is the server's, status row included
            diff = wait_until_equal(viewer, running["vt-later"].framebuffer, timeout=10)
            assert diff, diff
            listed = by_name(ask_list(str(tmp_path / "state")))
            assert listed["vt-later"]["status"] == "guest destroyed"
            assert "serial1" not in listed["vt-later"]["streams"]  # type: ignore[operator]
            # started again within the grace period: served again under its name and port
            libvirtd.start_guest("vt-later")
            wait_until(lambda: running.host.services.get("vt-later") not in (None, service), 20)  # type: ignore[union-attr]
            wait_until(
                lambda: "vt-later" in source.guests and source.guests["vt-later"].gone is None
            )
            assert running["vt-later"].port == port
            # destroyed for good: after the grace period its console goes
            source.grace = 0.5
            libvirtd.destroy("vt-later")
            wait_until(lambda: "vt-later" not in running.host.services, 10)  # type: ignore[union-attr]
            assert "vt-later" not in by_name(ask_list(str(tmp_path / "state")))
        finally:
            viewer.close()
    finally:
        stop(running, source)


@pytest.mark.peer
@pytest.mark.slow
def test_a_hot_plugged_channel_comes_and_goes_as_a_stream(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    name = two_guests[0]
    running, source = serve(libvirtd, tmp_path)
    hotplug = "org.vncterm.hotplug.0"
    device = tmp_path / "hotplug.xml"
    device.write_text(channel_xml(tmp_path / "hotplug.sock", hotplug))

    async def stream_client() -> None:
        """vncterm's stream client on the guest's console port sees the channel come and go,
        and captures the unix serial (a shell on the guest's ttyS1)."""
        client = await StreamClient.connect("127.0.0.1", running[name].port)
        try:
            offered = await client.list_streams()
            assert {"console", "serial1", CHANNEL} <= set(offered)
            assert hotplug not in offered
            await asyncio.to_thread(libvirtd.virsh, "attach-device", name, str(device), "--live")
            await client.wait_for_stream(hotplug)
            capture = await client.open("serial1")
            got = b""
            for _ in range(60):  # until the guest's shell on ttyS1 answers
                capture.write(b"echo s1-$((3*5))\n")
                with contextlib.suppress(asyncio.TimeoutError):
                    while b"s1-15" not in got:
                        got += await asyncio.wait_for(capture.read(), 1.0)
                if b"s1-15" in got:
                    break
            assert b"s1-15" in got
            await asyncio.to_thread(libvirtd.virsh, "detach-device", name, str(device), "--live")
            for _ in range(200):
                if hotplug not in client.streams:
                    break
                await asyncio.sleep(0.1)
            assert hotplug not in client.streams and CHANNEL in client.streams
        finally:
            await client.close()

    try:
        service = running.host.services[name]  # type: ignore[union-attr]
        asyncio.run(stream_client())
        # libvirt's state of a virtio port (the guest has it closed)
        hub = service.session.streams
        assert running.call(lambda: hub.streams[CHANNEL].guest_open) is False
    finally:
        stop(running, source)


@pytest.mark.peer
def test_command_line_serves_the_domains_and_lists_them(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    low, high = free_range(9)
    ws_port, high = high, high - 1
    proc = vncterm_process(
        *["--libvirt", libvirtd.uri, "--state-dir", str(state)],
        *["--port-range", f"{low}-{high}", "--geometry", "100x30"],
        *["--websocket", f"127.0.0.1:{ws_port}"],
    )
    try:
        wait_until(lambda: set(two_guests) <= set(listed(state)), 20)
        out = subprocess.run(
            [sys.executable, "-m", "vncterm", "--list", "--state-dir", str(state)],
            env=child_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for name in two_guests:
            assert name in out
            assert low <= listed(state)[name]["ports"][0] <= high
            # by name over the shared WebSocket listener, the domain's name as the desktop's
            ws = WsRawClient("127.0.0.1", ws_port, path=f"/{name}")
            assert ws.name == name.encode()
            ws.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 128 + 15, err


# -- without a daemon --------------------------------------------------------------------------


@pytest.mark.unit
def test_missing_libvirt_python_is_a_clear_error_exit_2() -> None:
    code = (
        "import sys; sys.modules['libvirt'] = None\n"
        "from vncterm.cli import main\n"
        "sys.exit(main(['--libvirt', 'qemu:///system']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "pip install 'vncterm[libvirt]'" in proc.stderr


@pytest.mark.unit
@pytest.mark.parametrize("flag", ["--listen=127.0.0.1:5900", "--unix=/tmp/x", "--stream=a=unix:/b"])
def test_per_console_sources_cannot_go_with_libvirt(flag: str) -> None:
    from vncterm.cli import main

    assert main(["--libvirt", "qemu:///system", flag]) == 2


DOMAIN = """<domain type='qemu'><name>x</name><devices>
  <serial type='pty'><source path='/dev/pts/3'/><target type='isa-serial' port='0'/>
    <alias name='serial0'/></serial>
  <serial type='unix'><source mode='bind' path='/run/s1'/><target port='1'/>
    <alias name='serial1'/></serial>
  <console type='pty' tty='/dev/pts/3'><target type='serial' port='0'/><alias name='serial0'/>
  </console>
  <console type='pty'><target type='virtio' port='1'/><alias name='console1'/></console>
  <channel type='unix'><source mode='bind' path='/run/ga'/>
    <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
    <alias name='channel0'/></channel>
  <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/>
    <alias name='channel1'/></channel>
</devices></domain>"""


@pytest.mark.unit
def test_domain_xml_first_serial_is_the_console_the_others_named_streams() -> None:
    devices = parse_devices(DOMAIN)
    assert devices.console is not None
    assert (devices.console.type, devices.console.alias) == ("pty", "serial0")
    # the <console> duplicating serial0 is the same device; virtio ports keep dotted names
    assert list(devices.streams) == [
        "serial1",
        "console1",
        "org.qemu.guest_agent.0",
        "com.redhat.spice.0",
    ]
    agent = devices.streams["org.qemu.guest_agent.0"]
    assert (agent.path, agent.state) == ("/run/ga", "connected")


@pytest.mark.unit
@pytest.mark.parametrize(
    "xml",
    [
        "<domain><devices><serial",
        '<!DOCTYPE d [<!ENTITY a "aaaa">]><domain>&a;</domain>',
        "<domain>" + " " * (1 << 20) + "</domain>",
    ],
    ids=["malformed", "entities", "huge"],
)
def test_domain_xml_malformed_huge_or_with_entities_is_refused(xml: str) -> None:
    with pytest.raises(DomainXMLError):
        parse_devices(xml)


@pytest.mark.unit
def test_domain_xml_device_count_is_capped() -> None:
    many = "".join(
        f"<channel type='unix'><target type='virtio' name='p.{i}'/></channel>" for i in range(500)
    )
    devices = parse_devices(f"<domain><devices><serial type='pty'/>{many}</devices></domain>")
    assert len(devices.streams) < 64


@pytest.mark.unit
def test_console_names_from_domain_names() -> None:
    assert console_name("web-01.prod") == "web-01.prod"
    assert console_name("db server/é") == "db_server__"
    assert console_name(".hidden") == "_hidden"
    assert len(console_name("x" * 200)) == 64


# -- the one holder of a pty console, a restarted libvirtd ---------------------------------------

HOLDER = """
import sys, time, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open(sys.argv[1])
stream = conn.newStream(0)
force = libvirt.VIR_DOMAIN_CONSOLE_FORCE if sys.argv[3:] == ["force"] else 0
conn.lookupByName(sys.argv[2]).openConsole(None, stream, force)
print("holding", flush=True)
try:
    while stream.recv(4096):
        pass
except libvirt.libvirtError as e:
    print("lost:", e.get_error_message(), flush=True)
"""


def hold_console(libvirtd: LibvirtDaemon, name: str, force: bool = False) -> subprocess.Popen[str]:
    """Another client (as ``virsh console [--force]`` would) holding the domain's pty
    console."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, libvirtd.uri, name] + ["force"] * force,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


@pytest.mark.peer
@pytest.mark.slow
def test_a_held_pty_console_is_waited_for_or_taken_over_when_forced(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    name = two_guests[1]
    holder = hold_console(libvirtd, name)
    running, source = serve(libvirtd, tmp_path / "wait")
    try:
        service = running.host.services[name]  # type: ignore[union-attr]
        assert not service.console.connected
        wait_until(
            lambda: "Active console session" in (running.call(service.session.status.text) or "")
        )
        holder.terminate()
        holder.communicate(timeout=5)
        wait_until(lambda: service.console.connected, 15)  # retried with backoff
    finally:
        stop(running, source)
        holder.kill()
        holder.communicate()
    holder = hold_console(libvirtd, name)
    running, source = serve(libvirtd, tmp_path / "force", force=True)
    try:
        assert running.host is not None
        service = running.host.services[name]
        assert service.console.connected
        assert holder.stdout is not None
        assert holder.stdout.readline().startswith("lost:")  # the old holder's stream ended
        holder.communicate(timeout=5)
        # taken back with force (virsh console --force): vncterm waits, it does not retake it
        holder = hold_console(libvirtd, name, force=True)
        wait_until(lambda: not service.console.connected, 10)
        wait_until(
            lambda: "Active console session" in (running.call(service.session.status.text) or "")
        )
        assert holder.poll() is None  # still holding it after vncterm's retries
    finally:
        stop(running, source)
        holder.kill()
        holder.communicate()


@pytest.mark.peer
@pytest.mark.slow
def test_a_restarted_libvirtd_is_reconnected_and_the_console_reopened(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    name = two_guests[0]
    running, source = serve(libvirtd, tmp_path)
    try:
        service = running.host.services[name]  # type: ignore[union-attr]
        wait_until(lambda: service.console.connected, 15)
        first = source.conn
        libvirtd.restart()
        wait_until(lambda: source.conn is not None and source.conn is not first, 30)
        wait_until(lambda: service.console.connected, 30)
        running.call(lambda: service.session.write_input(b"echo back-$((6*7))\n"))
        running[name].wait_text("back-42", timeout=20)
        assert running.host.services[name] is service  # the same console, its viewers kept
    finally:
        stop(running, source)


@pytest.mark.peer
@pytest.mark.slow
def test_break_through_qmp_then_h_gives_sysrq_help_on_the_pty_console(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    name = two_guests[1]
    running, source = serve(libvirtd, tmp_path)
    try:
        service = running.host.services[name]  # type: ignore[union-attr]
        wait_until(lambda: service.console.connected, 15)
        running.call(lambda: service.session.write_input(b"echo ready-$((2*21))\n"))
        running[name].wait_text("ready-42", timeout=60)
        assert running.call(lambda: service.console.send_break())
        running.call(lambda: service.session.write_input(b"h"))  # queued behind the BREAK
        running[name].wait_text("sysrq: HELP", timeout=20)
    finally:
        stop(running, source)


@pytest.mark.peer
@pytest.mark.slow
def test_over_a_remote_uri_channels_come_through_libvirt_and_unix_serials_are_skipped(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    name = two_guests[0]
    running, source = serve(libvirtd, tmp_path, remote=True)
    try:
        service = running.host.services[name]  # type: ignore[union-attr]
        streams = running.call(lambda: dict(service.session.streams.streams))
        assert "serial1" not in streams  # a unix serial: only its socket path reaches it
        assert CHANNEL in running.call(service.session.streams.available_names)

        async def capture() -> None:
            client = await StreamClient.connect("127.0.0.1", running[name].port)
            try:
                cap = await client.open(CHANNEL)
                backend = running.call(lambda: service.session.streams.streams[CHANNEL].backend)
                assert type(backend).__name__ == "LibvirtStreamConsole" and backend.channel
                for _ in range(100):  # virDomainOpenChannel
                    if backend.connected:
                        break
                    await asyncio.sleep(0.1)
                assert backend.connected
                cap.close()
            finally:
                await client.close()

        asyncio.run(capture())
    finally:
        stop(running, source)


@pytest.mark.unit
def test_remote_uris_are_told_apart() -> None:
    from vncterm.server.libvirt_source import _is_remote

    assert not _is_remote("qemu:///system")
    assert not _is_remote("qemu:///system?socket=/run/x")
    assert _is_remote("qemu+ssh://root@host.example/system")
    assert not _is_remote("qemu+tcp://localhost/system")


@pytest.mark.peer
def test_a_config_file_serves_its_consoles_and_the_domains_of_its_libvirt_uri(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    low, high = free_range(8)
    config = tmp_path / "vncterm.toml"
    config.write_text(
        f'[vncterm]\nlibvirt = "{libvirtd.uri}"\nport-range = "{low}-{high}"\n'
        f'state-dir = "{state}"\n\n[defaults]\ngeometry = "100x30"\n\n'
        '[console.shell]\ncommand = ["sleep", "600"]\n'
    )
    proc = vncterm_process("--config", str(config))
    try:
        wait_until(lambda: {"shell", *two_guests} <= set(listed(state)), 20)
        with RawClient("127.0.0.1", listed(state)["shell"]["ports"][0]) as shell:
            size = shell.fb.shape  # 100x30 cells, from [defaults]
        for name in two_guests:
            with RawClient("127.0.0.1", listed(state)[name]["ports"][0]) as viewer:
                assert viewer.name == name.encode()
                assert viewer.fb.shape == size  # the domains take [defaults] too
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 128 + 15, err


@pytest.mark.peer
def test_domain_names_mapping_to_one_console_name_keep_the_first(
    libvirtd: LibvirtDaemon, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("vt clash", "vt_clash"):
        libvirtd.start_guest(name)
    running, source = serve(libvirtd, tmp_path)
    try:
        assert running.host is not None
        service = running.host.services["vt_clash"]
        first = source.guests["vt_clash"].uuid
        running.run(source._sync())  # a re-sync (as after a reconnection) changes nothing
        assert running.host.services["vt_clash"] is service
        assert source.guests["vt_clash"].uuid == first
        assert sum("console name taken" in r.getMessage() for r in caplog.records) == 1
    finally:
        stop(running, source)  # the guests go with the session's daemon (at once)


@pytest.mark.peer
@pytest.mark.slow
def test_a_libvirtd_down_when_vncterm_starts_is_waited_for(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    libvirtd.stop_daemon()
    try:
        running, source = serve(libvirtd, tmp_path)
    finally:
        libvirtd.start_daemon()
    try:
        assert running.host is not None
        wait_until(lambda: set(two_guests) <= set(source.guests), 30)
        service = running.host.services[two_guests[0]]
        wait_until(lambda: service.console.connected, 15)
    finally:
        stop(running, source)


@pytest.mark.peer
@pytest.mark.slow
def test_break_through_qmp_then_h_gives_sysrq_help_on_a_plain_unix_serial(
    libvirtd: LibvirtDaemon, tmp_path: Path
) -> None:
    libvirtd.start_guest("vt-unix", first="unix")
    running, source = serve(libvirtd, tmp_path)
    try:
        service = running.host.services["vt-unix"]  # type: ignore[union-attr]
        assert service.console.break_hook is not None  # type: ignore[attr-defined]
        wait_until(lambda: service.console.connected, 15)
        deadline = time.monotonic() + 90
        while True:  # TCG boot: the shell may not be there yet
            running.call(lambda: service.session.write_input(b"echo ready-$((2*21))\n"))
            try:
                running["vt-unix"].wait_text("ready-42", timeout=3)
                break
            except AssertionError:
                assert time.monotonic() < deadline
        assert running.call(lambda: service.console.send_break())
        running.call(lambda: service.session.write_input(b"h"))  # held until the BREAK went
        running["vt-unix"].wait_text("sysrq: HELP", timeout=20)
    finally:
        stop(running, source)  # the guest goes with the session's daemon


@pytest.mark.unit
def test_an_event_storm_is_bounded_and_resolved_by_one_resync(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from vncterm.server.host import Host
    from vncterm.server.libvirt_source import MAX_EVENTS

    config = HostConfig(consoles={}, state_dir=str(tmp_path), libvirt="test:///default")
    source = LibvirtSource(Host(config, control=False), "test:///default", Config(command=[]))
    for _ in range(3 * MAX_EVENTS):
        source._queue("devices", None, "channel9")
    queued = [source._events.get_nowait() for _ in range(source._events.qsize())]
    assert len(queued) == MAX_EVENTS + 1
    assert queued[-1] == ("sync", None, "")
    assert sum("re-syncing" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.peer
@pytest.mark.slow
def test_the_guest_opening_and_closing_a_virtio_port_reaches_a_stream_client(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    name = two_guests[0]
    running, source = serve(libvirtd, tmp_path)
    console = running[name]
    port = guest_port(CHANNEL)

    async def watch() -> None:
        """vncterm's stream client, which asks for states, sees the guest open and close."""
        client = await StreamClient.connect("127.0.0.1", console.port)
        try:
            closed = await client.wait_for_state(CHANNEL, lambda s: s.guest_open is False)
            assert not closed.connected  # on demand: nobody captures it
            command = f"exec 3<>{port}; echo opened-$((1+1))\n"
            await asyncio.to_thread(console.write_console, command.encode())
            await client.wait_for_state(CHANNEL, lambda s: s.guest_open is True, 60)
            await asyncio.to_thread(console.write_console, b"exec 3>&-\n")
            await client.wait_for_state(CHANNEL, lambda s: s.guest_open is False, 20)
        finally:
            await client.close()

    try:
        shell_ready(console)
        asyncio.run(watch())
        console.wait_text("opened-2")
    finally:
        stop(running, source)


@pytest.mark.peer
@pytest.mark.slow
def test_a_channel_is_connected_only_while_captured(
    libvirtd: LibvirtDaemon, two_guests: list[str], tmp_path: Path
) -> None:
    name = two_guests[1]
    running, source = serve(libvirtd, tmp_path)
    port = guest_port(CHANNEL)

    def guest(command: str, answer: str) -> None:
        running.call(lambda: service.session.write_input(command.encode() + b"\n"))
        running[name].wait_text(answer, timeout=60)

    def attached() -> bool:
        return bool(running.call(lambda: hub.streams[CHANNEL].backend.connected))

    async def capture() -> None:
        client = await StreamClient.connect("127.0.0.1", running[name].port)
        try:
            cap = await client.open(CHANNEL)
            for _ in range(100):
                if attached():
                    break
                await asyncio.sleep(0.1)
            assert attached()
            await asyncio.to_thread(guest, f"head -c 12 {port}; echo; echo got-$((1+2))", "#")
            cap.write(b"from-host-42")
            await asyncio.to_thread(running[name].wait_text, "got-3", 20.0)
            cap.close()
            for _ in range(100):
                if not attached():
                    break
                await asyncio.sleep(0.1)
        finally:
            await client.close()

    try:
        service = running.host.services[name]  # type: ignore[union-attr]
        hub = service.session.streams
        assert not attached()
        # nobody captures it: the guest reading the port gets end-of-file at once
        guest(f"cat {port}; echo eof-$((1+1))", "eof-2")
        asyncio.run(capture())
        assert "from-host-42" in "\n".join(running[name].text())
        assert not attached()
    finally:
        stop(running, source)
