"""``--qmp`` against a real QEMU guest (TCG, busybox, virtio-serial): its chardevs found as
streams, named like SPICE ports, connected only while captured, hot-plugged and unplugged, the
guest opening and closing a virtio port reaching a stream client as states, and a BREAK sent
through QMP on a plain unix serial."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from console_helpers import stream_names
from harness import RunningVncterm
from peers.novnc_client import NoVncClient
from peers.qemu_guest import MARKER, QemuGuest, Serial, guest_port

from vncterm.client import StreamClient
from vncterm.rfb.streams import StreamState

pytestmark = [pytest.mark.peer, pytest.mark.slow]

BOOT = 120.0  # seconds: TCG boots in ~7 s on an idle machine; CI may be busy
AGENT = "org.qemu.guest_agent.0"


def hmp(path: Path, command: str) -> str:
    """One human monitor command (QEMU's -monitor socket, free for the test); its answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        out = b""
        while not out.endswith(b"(qemu) "):
            out += s.recv(65536)
        s.sendall(command.encode() + b"\n")
        out = b""
        while out.count(b"(qemu) ") < 1:
            out += s.recv(65536)
        return out.decode(errors="replace")


def host_attached(monitor: Path, label: str) -> bool:
    """Whether some host client is connected to chardev ``label`` (QEMU's own view)."""
    for line in hmp(monitor, "info chardev").splitlines():
        if line.startswith(f"{label}:"):
            return "disconnected:" not in line
    raise AssertionError(f"no chardev {label}")


async def attached(monitor: Path, label: str, want: bool) -> None:
    """Wait until QEMU sees a host client on chardev ``label`` (``want``) or none."""
    loop = asyncio.get_running_loop()
    for _ in range(100):
        if await loop.run_in_executor(None, host_attached, monitor, label) == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"chardev {label}: host client {'never came' if want else 'stayed'}")


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def prompt(vt: RunningVncterm) -> None:
    """Wait for the guest shell's prompt on the rendered console. What the guest printed
    before QMP named its serial chardev is lost (QEMU drops output while no client is
    attached), the prompt included: Return brings a new one."""
    assert vt.server is not None
    session = vt.server.session
    deadline = time.monotonic() + BOOT
    while True:
        try:
            vt.wait_text("guest:", timeout=3)
            return
        except AssertionError:
            assert time.monotonic() < deadline, "no prompt from the guest"
            vt.call(lambda: session.write_input(b"\r"))


def test_qmp_finds_streams_follows_hot_plug_and_the_guests_ports(tmp_path: Path) -> None:
    vm = tmp_path / "vm"
    agent = vm / "agent.sock"
    devices = [
        "-device",
        "virtio-serial-pci,id=vser0",
        "-chardev",
        f"socket,id=agent,path={agent},server=on,wait=off",
        "-device",
        f"virtserialport,chardev=agent,name={AGENT},id=agentport",
    ]
    serials = [Serial.unix(vm / "s0"), Serial.unix(vm / "s1")]
    with (
        QemuGuest(vm, serials, qmp=True, devices=devices) as guest,
        RunningVncterm([], qmp=str(guest.qmp_path)) as vt,
        NoVncClient() as viewer,
    ):
        assert guest.monitor_path is not None
        monitor = guest.monitor_path
        prompt(vt)  # the first serial is rendered
        addr = "127.0.0.1", vt.port

        async def go() -> None:
            client = await StreamClient.connect(*addr)
            await client.wait_for_stream(AGENT, timeout=30)
            assert {"console", "serial1", AGENT, "compat_monitor0"} <= set(client.streams)
            # the guest has not opened the port; nobody captures it: vncterm is not attached
            state = await client.wait_for_state(AGENT, lambda s: True)
            assert state == StreamState(AGENT, False, False)
            assert not host_attached(monitor, "agent")

            # the guest opens the port: VSERPORT_CHANGE reaches the client as a state
            await vt_type(vt, f"exec 3<>{guest_port(AGENT)}; echo opened-$((1+1))\r")
            await client.wait_for_state(AGENT, lambda s: s.guest_open is True, timeout=30)

            # a capture connects vncterm to the chardev (QEMU sees a host client), bytes flow
            capture = await client.open(AGENT)
            await client.wait_for_state(AGENT, lambda s: s.connected, timeout=10)
            await attached(monitor, "agent", True)
            await vt_type(vt, "echo from-guest-$((6*7)) >&3\r")
            got = b""
            while b"from-guest-42" not in got:
                got += await asyncio.wait_for(capture.read(), 30)
            capture.write(b"to-guest\n")
            await vt_type(vt, "read -r line <&3; echo got-$line-back\r")
            await asyncio.get_running_loop().run_in_executor(
                None, vt.wait_text, "got-to-guest-back", 30.0
            )
            # the capture ends: vncterm lets the chardev go
            capture.close()
            await client.wait_for_state(AGENT, lambda s: not s.connected, timeout=10)
            await attached(monitor, "agent", False)
            await vt_type(vt, "exec 3<&-\r")
            await client.wait_for_state(AGENT, lambda s: s.guest_open is False, timeout=30)

            # hot-plug: chardev-add + device_add -> a stream named after the port
            hot = vm / "hot.sock"
            hmp(monitor, f"chardev-add socket,id=hot,path={hot},server=on,wait=off")
            await asyncio.sleep(2.5)  # a chardev no device uses yet is not offered
            assert "hot" not in client.streams
            hmp(monitor, "device_add virtserialport,chardev=hot,name=org.example.hot,id=hotport")
            await client.wait_for_stream("org.example.hot", timeout=30)
            held = await client.open("org.example.hot")
            # unplugged: DEVICE_DELETED (and the chardev removed) -> the stream goes away and
            # its capture ends cleanly
            hmp(monitor, "device_del hotport")
            assert await asyncio.wait_for(_drain(held), 30) == b""
            for _ in range(300):
                if "org.example.hot" not in client.streams:
                    break
                await asyncio.sleep(0.1)
            assert "org.example.hot" not in client.streams
            await asyncio.sleep(2.5)  # nor is one a deleted device left behind
            assert "hot" not in client.streams
            hmp(monitor, "chardev-remove hot")
            await client.close()

        asyncio.run(go())

        # Magic SysRq on a plain (non-telnet) unix serial: BREAK through chardev-send-break
        viewer.connect("127.0.0.1", vt.port, quality=None)
        viewer.key(0xFF6B)  # Break, then the SysRq command key
        viewer.type("h")
        vt.wait_text("sysrq: HELP", timeout=30)

        # QEMU restarted: its streams go with its QMP socket and come back when it answers;
        # the rendered console reconnects by itself
        asyncio.run(vt_type(vt, "clear\r"))
        wait_for(lambda: not any(MARKER in line for line in vt.text()), 30, "a clear screen")

        guest.kill()  # from this thread: QEMU dies with the thread that started it
        assert AGENT not in asyncio.run(stream_names(vt.port, None, AGENT))
        guest.start()
        assert AGENT in asyncio.run(stream_names(vt.port, AGENT, None, BOOT))
        vt.wait_text(MARKER, timeout=BOOT)


async def _drain(capture: object) -> bytes:
    """Read a capture to its end; the last read (b"" once it has ended)."""
    while True:
        data: bytes = await capture.read()  # type: ignore[attr-defined]
        if not data:
            return data


async def vt_type(vt: RunningVncterm, text: str) -> None:
    """Type ``text`` into the rendered console (as a viewer's keys would)."""
    assert vt.server is not None
    session = vt.server.session
    await asyncio.get_running_loop().run_in_executor(
        None, vt.call, lambda: session.write_input(text.encode())
    )
