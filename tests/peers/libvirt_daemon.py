"""A private libvirt daemon and TCG guests defined in it (the busybox initramfs guest).

Needs Debian's ``libvirt-daemon-system`` and ``libvirt-clients`` (``libvirtd``, ``virtlogd``,
``virsh``) and root, as CI runs: the daemon is a privileged ``libvirtd`` with its own config file
whose sockets live in a private folder (``qemu:///system?socket=...``), so it neither needs nor
touches a system libvirtd's socket. Its guests run their QEMU as root without relabelling
(a per-domain ``<seclabel model='dac' relabel='no'>``), so nothing in ``/etc/libvirt`` changes;
they boot from copies of the kernel and the initramfs all the same (libvirt chowns a domain's
boot files when it relabels).

Each guest has a pty serial (ttyS0, the kernel console and the console vncterm renders), a unix
serial (ttyS1) and a virtio channel ``org.vncterm.test.0`` on a unix socket; both serials run
a shell after printing ``VNCTERM-GUEST-READY ttySn``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

from guest.build_initramfs import build

from .qemu_guest import KERNEL_ARGS, find_kernel

DAEMON_CONF = """unix_sock_dir = "{sock}"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:{log}"
"""

CHANNEL = "org.vncterm.test.0"


def channel_xml(path: Path | str, name: str) -> str:
    """A virtio channel on a unix socket (for ``virsh attach-device``)."""
    return (
        f"<channel type='unix'><source mode='bind' path='{escape(str(path))}'/>"
        f"<target type='virtio' name='{escape(name)}'/></channel>"
    )


class LibvirtDaemon:
    """``libvirtd`` (and ``virtlogd`` when none runs) for the tests' guests."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sock_dir = workdir / "sock"
        self.pid_file = workdir / "libvirtd.pid"
        self.uri = f"qemu:///system?socket={self.sock_dir}/libvirt-sock"
        self.virtlogd: int | None = None
        self.guests: list[str] = []
        self.kernel = workdir / "vmlinuz"
        self.initrd = workdir / "initrd.gz"

    def start(self, timeout: float = 30.0) -> None:
        self.sock_dir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "libvirtd.conf"
        conf.write_text(DAEMON_CONF.format(sock=self.sock_dir, log=self.workdir / "libvirtd.log"))
        if not Path("/run/libvirt/virtlogd-sock").exists():
            subprocess.run(["virtlogd", "--daemon"], check=True)
            self.virtlogd = _pid_of(Path("/run/virtlogd.pid"), timeout)
        subprocess.run(
            ["libvirtd", "--config", str(conf), "--pid-file", str(self.pid_file), "--daemon"],
            check=True,
        )
        self._wait(timeout)
        shutil.copyfile(find_kernel(), self.kernel)
        shutil.copyfile(build(), self.initrd)

    def restart(self, timeout: float = 30.0) -> None:
        """libvirtd stopped (its guests go on running) and started again."""
        self.stop_daemon()
        self.start_daemon(timeout)

    def stop_daemon(self) -> None:
        """libvirtd only (its guests go on running)."""
        pid = _pid_of(self.pid_file, 0.0)
        if pid is not None:
            _terminate(pid)

    def start_daemon(self, timeout: float = 30.0) -> None:
        conf = self.workdir / "libvirtd.conf"
        subprocess.run(
            ["libvirtd", "--config", str(conf), "--pid-file", str(self.pid_file), "--daemon"],
            check=True,
        )
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while subprocess.run(["virsh", "-c", self.uri, "version"], capture_output=True).returncode:
            if time.monotonic() > deadline:
                log = (self.workdir / "libvirtd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"libvirtd did not answer in {timeout} s:\n{log}")
            time.sleep(0.05)

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["virsh", "-c", self.uri, *args], capture_output=True, text=True, check=check
        )

    def guest_xml(self, name: str, first: str = "pty") -> str:
        """A TCG domain (transient: ``virsh create``) with a pty serial, a unix serial and a
        virtio channel, its sockets under the work folder; ``first="unix"``: the unix serial
        first (ttyS0, the console), the pty second."""
        sock = self.workdir / name
        sock.mkdir(exist_ok=True)
        kernel, initrd = sock / "vmlinuz", sock / "initrd.gz"
        shutil.copyfile(self.kernel, kernel)
        shutil.copyfile(self.initrd, initrd)
        cmdline = f"console=ttyS0 vncterm.shells=ttyS0,ttyS1 {KERNEL_ARGS}"
        pty = "<serial type='pty'><target port='{}'/></serial>"
        unix = f"<serial type='unix'><source mode='bind' path='{sock}/serial{{}}.sock'/>"
        unix += "<target port='{}'/></serial>"
        if first == "unix":
            serials = unix.format(0, 0) + pty.format(1)
        else:
            serials = pty.format(0) + unix.format(1, 1)
        return f"""<domain type='qemu'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>160</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel><initrd>{initrd}</initrd><cmdline>{cmdline}</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    {serials}
    <controller type='virtio-serial' index='0'/>
    {channel_xml(sock / "channel.sock", CHANNEL)}
    <memballoon model='none'/>
  </devices>
</domain>"""

    def start_guest(self, name: str, first: str = "pty") -> None:
        """Create (and start) a transient guest ``name``."""
        xml = self.workdir / f"{name}.xml"
        xml.write_text(self.guest_xml(name, first))
        self.virsh("create", str(xml))
        if name not in self.guests:
            self.guests.append(name)

    def destroy(self, name: str) -> None:
        self.virsh("destroy", name, check=False)

    def stop(self) -> None:
        """Every guest destroyed (at once: each takes QEMU ~2 s), then the daemons (libvirtd
        takes seconds to stop by itself: killed after a short wait)."""
        destroying = [
            subprocess.Popen(
                ["virsh", "-c", self.uri, "destroy", name],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name in self.guests
        ]
        for proc in destroying:
            proc.wait()
        for pid in (_pid_of(self.pid_file, 0.0), self.virtlogd):
            if pid is not None:
                _terminate(pid, timeout=1.0)


def _pid_of(path: Path, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


def _terminate(pid: int, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
