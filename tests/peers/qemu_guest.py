"""Boot a real QEMU guest (TCG, Debian kernel, busybox initramfs) whose serial ports are sockets.

Needs Debian's ``qemu-system-x86``, ``linux-image-amd64`` and ``busybox-static``. The guest has
no network and no disk; each serial port is a QEMU socket chardev (unix or TCP, optionally
telnet) in server mode without waiting; ttyS0 (the first) is the kernel console, and every port
runs a shell after printing ``VNCTERM-GUEST-READY ttySn``. The monitor is a second unix socket.

Usage::

    with QemuGuest(tmp_path, [Serial.unix(tmp_path / "s0"), Serial.tcp()]) as guest:
        ...               # connect to guest.serials[0].path, read the marker, ...
        guest.kill()      # QEMU gone: sockets close
        guest.start()     # same sockets again

``PYTHONPATH=tests python -m peers.qemu_guest`` boots once and prints the time to the marker.
"""

from __future__ import annotations

import ctypes
import dataclasses
import glob
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from guest.build_initramfs import MARKER, build

__all__ = ["MARKER", "QemuGuest", "Serial", "find_kernel", "free_tcp_port"]

QEMU = "qemu-system-x86_64"
# loglevel=6 keeps a few kernel lines (the tests look for "Linux version") and boots ~1 s faster
# than the full log; mitigations=off and tsc=reliable trim TCG time.
KERNEL_ARGS = "panic=-1 loglevel=6 mitigations=off tsc=reliable"


def _die_with_parent() -> None:  # runs in the child before exec
    """PR_SET_PDEATHSIG(SIGKILL): QEMU dies if the test process dies without cleaning up."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def find_kernel() -> Path:
    """The newest Debian kernel image in /boot (from linux-image-amd64)."""
    images = sorted(glob.glob("/boot/vmlinuz-*"))
    if not images:
        raise FileNotFoundError("no /boot/vmlinuz-*: apt-get install linux-image-amd64")
    return Path(images[-1])


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tcp_listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port, without connecting (QEMU takes 1 client)."""
    want = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            return any(
                line.split()[1] == want and line.split()[3] == "0A" for line in f.readlines()[1:]
            )
    except OSError:
        return False


def guest_port(name: str) -> str:
    """Shell words, for the guest's shell, naming its /dev/vportNpM of virtio port ``name``."""
    return f"/dev/$(basename $(dirname $(grep -l {name} /sys/class/virtio-ports/*/name)))"


@dataclasses.dataclass(frozen=True)
class Serial:
    """One guest serial port as a QEMU server socket, or a pty (``-serial pty``: QEMU names
    the pty it made in its log; :attr:`QemuGuest.ptys` has the paths)."""

    path: Path | None = None
    port: int | None = None
    telnet: bool = False
    pty: bool = False

    @classmethod
    def unix(cls, path: Path | str, telnet: bool = False) -> Serial:
        return cls(path=Path(path), telnet=telnet)

    @classmethod
    def tcp(cls, port: int | None = None, telnet: bool = False) -> Serial:
        return cls(port=port if port is not None else free_tcp_port(), telnet=telnet)

    @classmethod
    def new_pty(cls) -> Serial:
        return cls(pty=True)

    def qemu_arg(self) -> str:
        if self.pty:
            return "pty"
        telnet = ",telnet=on" if self.telnet else ""
        if self.path is not None:
            return f"unix:{self.path},server=on,wait=off{telnet}"
        return f"tcp:127.0.0.1:{self.port},server=on,wait=off{telnet}"

    def listening(self) -> bool:
        if self.pty:
            return True  # QemuGuest.start waits for the pty names in the log
        if self.path is not None:
            return self.path.exists()
        assert self.port is not None
        return _tcp_listening(self.port)


class QemuGuest:
    """A QEMU process that can be killed and started again on the same sockets.

    QEMU gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so call
    :meth:`start` from a long-lived thread (the test's main thread), not from a worker.
    """

    def __init__(
        self,
        workdir: Path | str,
        serials: list[Serial],
        *,
        memory_mb: int = 256,
        monitor: bool = True,
        extra_args: str = "",
        qmp: bool = False,
        devices: list[str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.serials = serials
        self.memory_mb = memory_mb
        self.monitor_path: Path | None = self.workdir / "monitor.sock" if monitor else None
        #: The QMP socket (``qmp=True``), a unix server socket like the monitor's.
        self.qmp_path: Path | None = self.workdir / "qmp.sock" if qmp else None
        #: More QEMU arguments, e.g. ``["-device", "virtio-serial-pci", "-chardev", ...]``.
        self.devices = list(devices or [])
        self.kernel = find_kernel()
        self.initrd = build()
        shells = ",".join(f"ttyS{i}" for i in range(len(serials)))
        # Linux's 8250 driver is one kernel console: only ttyS0 gets the kernel log (and SysRq
        # by BREAK); every port gets a shell.
        self.append = f"console=ttyS0 vncterm.shells={shells} {KERNEL_ARGS} {extra_args}".strip()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "qemu.log"
        self.starts = 0
        #: The pty of each ``Serial.new_pty()`` port, in order, once started.
        self.ptys: list[str] = []

    def command(self) -> list[str]:
        cmd = [
            QEMU,
            "-accel",
            "tcg",
            "-m",
            str(self.memory_mb),
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-nic",
            "none",
            "-no-reboot",
            "-kernel",
            str(self.kernel),
            "-initrd",
            str(self.initrd),
            "-append",
            self.append,
        ]
        for serial in self.serials:
            cmd += ["-serial", serial.qemu_arg()]
        if self.monitor_path is not None:
            cmd += ["-monitor", f"unix:{self.monitor_path},server=on,wait=off"]
        if self.qmp_path is not None:
            cmd += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        return cmd + self.devices

    def start(self, timeout: float = 10.0) -> None:
        """Start QEMU and return once every socket listens (the guest is still booting)."""
        if self.running:
            raise RuntimeError("QEMU is already running")
        for serial in self.serials:
            if serial.path is not None:
                serial.path.unlink(missing_ok=True)
        for path in (self.monitor_path, self.qmp_path):
            if path is not None:
                path.unlink(missing_ok=True)
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        want_ptys = sum(s.pty for s in self.serials)
        self.ptys = []
        while (
            not all(s.listening() for s in self.serials)
            or (self.monitor_path is not None and not self.monitor_path.exists())
            or (self.qmp_path is not None and not self.qmp_path.exists())
            or len(self.ptys) < want_ptys
        ):
            self.ptys = self._ptys(log_start)
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"QEMU sockets not listening after {timeout} s: {self.log()}")
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL QEMU (like a crash or a host-side kill) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def close(self) -> None:
        """Kill QEMU and remove its sockets."""
        self.kill()
        for serial in self.serials:
            if serial.path is not None:
                serial.path.unlink(missing_ok=True)
        for path in (self.monitor_path, self.qmp_path):
            if path is not None:
                path.unlink(missing_ok=True)

    def _ptys(self, log_start: int) -> list[str]:
        """The ptys QEMU made, as its log of this start names them."""
        with open(self.log_path, "rb") as f:
            f.seek(log_start)
            text = f.read(65536).decode(errors="replace")
        return re.findall(r"char device redirected to (/dev/pts/\d+)", text)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def __enter__(self) -> QemuGuest:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def measure_boot(workdir: Path, timeout: float = 60.0) -> tuple[float, float, bytes]:
    """Boot once; return (seconds to the first kernel line, seconds to the marker, output)."""
    serial = Serial.unix(workdir / "ttyS0.sock")
    with QemuGuest(workdir, [serial], monitor=False) as guest:
        t0 = time.monotonic()
        assert guest.proc is not None
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(serial.path))
        s.settimeout(timeout)
        out = b""
        first = 0.0
        while MARKER.encode() not in out:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("serial socket closed before the marker")
            if not out:
                first = time.monotonic() - t0
            out += chunk
        total = time.monotonic() - t0
        s.close()
        return first, total, out


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        first, total, out = measure_boot(Path(d))
    print(f"first output after {first:.2f} s, marker after {total:.2f} s, {len(out)} bytes")
