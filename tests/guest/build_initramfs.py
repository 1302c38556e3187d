"""Build a tiny busybox initramfs for the QEMU test guest.

The archive (gzip'd cpio "newc") holds Debian's static busybox, a /dev/console node and an /init
that mounts proc/sys/dev, enables Magic SysRq and starts a respawning interactive shell (with job
control) on every serial port named by ``vncterm.shells=ttyS0,ttyS1`` on the kernel command line
(default ttyS0), after printing ``VNCTERM-GUEST-READY <tty>`` on that port. It also loads the
kernel's virtio-serial modules, so virtio ports appear as ``/dev/vportNpM`` (their names in
``/sys/class/virtio-ports/*/name``).

It is written in Python (no cpio binary needed) and cached under ``tests/.work/`` keyed by a hash
of busybox, the init script and this builder's format version.

Run ``python tests/guest/build_initramfs.py`` to build it and print the path.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import struct
import sys
from pathlib import Path

MARKER = "VNCTERM-GUEST-READY"
BUSYBOX = Path("/bin/busybox")  # from Debian's busybox-static
WORK = Path(__file__).resolve().parent.parent / ".work"
FORMAT_VERSION = "2"
#: Debian's kernel has virtio-serial as modules: loaded in this order by /init (each after the
#: modules it needs), so a guest with a virtio-serial-pci device gets /dev/vport*.
VIRTIO_MODULES = (
    "virtio/virtio_ring.ko",
    "virtio/virtio.ko",
    "virtio/virtio_pci_legacy_dev.ko",
    "virtio/virtio_pci_modern_dev.ko",
    "virtio/virtio_pci.ko",
    "char/virtio_console.ko",
)

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
echo 1 > /proc/sys/kernel/sysrq
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
hostname guest
export HOME=/root PS1='guest:$PWD# ' TERM=vt100
shells=ttyS0
for arg in $(cat /proc/cmdline); do
  case "$arg" in vncterm.shells=*) shells="${arg#vncterm.shells=}" ;; esac
done
for t in $(echo "$shells" | tr ',' ' '); do
  (
    while true; do
      echo "__MARKER__ $t" > /dev/$t
      setsid sh -c "exec sh -i </dev/$t >/dev/$t 2>&1"
      sleep 0.2
    done
  ) &
done
while true; do wait; sleep 1; done
""".replace("__MARKER__", MARKER)


def _is_static_elf(data: bytes) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP program header."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        (p_type,) = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


class _Cpio:
    """A minimal writer for the cpio "newc" format the kernel unpacks."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.ino = 1

    def add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (
            self.ino,
            mode,
            0,
            0,
            2 if stat.S_ISDIR(mode) else 1,
            0,
            len(data),
            0,
            0,
            rdev[0],
            rdev[1],
            len(encoded),
            0,
        )
        self.ino += 1
        self.out += b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
        self._pad()
        self.out += data
        self._pad()

    def _pad(self) -> None:
        self.out += b"\0" * (-len(self.out) % 4)

    def finish(self) -> bytes:
        self.add("TRAILER!!!", 0)
        self.out += b"\0" * (-len(self.out) % 512)
        return bytes(self.out)


def _modules(kernel: Path | None) -> list[tuple[str, bytes]]:
    """The virtio-serial modules of ``kernel`` (the newest in /boot if None), in load order;
    none when its modules are not installed (the guest then has no virtio ports)."""
    if kernel is None:
        images = sorted(Path("/boot").glob("vmlinuz-*"))
        if not images:
            return []
        kernel = images[-1]
    base = Path("/lib/modules") / kernel.name.removeprefix("vmlinuz-") / "kernel/drivers"
    found = []
    for i, rel in enumerate(VIRTIO_MODULES):
        path = base / rel
        if path.exists():  # numbered so that the shell's glob loads them in order
            found.append((f"{i}-{path.name}", path.read_bytes()))
    return found


def build(busybox: Path = BUSYBOX, work: Path = WORK, kernel: Path | None = None) -> Path:
    """Return the path of the cached initramfs, building it when its inputs changed."""
    if not busybox.exists():
        raise FileNotFoundError(f"{busybox} missing: apt-get install busybox-static")
    bb = busybox.read_bytes()
    if not _is_static_elf(bb):
        raise RuntimeError(f"{busybox} is not a static binary: install busybox-static")
    modules = _modules(kernel)
    digest = hashlib.sha256(FORMAT_VERSION.encode() + INIT_SCRIPT.encode() + bb)
    for name, data in modules:
        digest.update(name.encode() + data)
    key = digest.hexdigest()[:16]
    target = work / f"initramfs-{key}.cpio.gz"
    if target.exists():
        return target
    cpio = _Cpio()
    for d in (
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "root",
        "etc",
        "lib",
        "lib/modules",
    ):
        cpio.add(d, stat.S_IFDIR | 0o755)
    cpio.add("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    cpio.add("bin/busybox", stat.S_IFREG | 0o755, bb)
    cpio.add("bin/sh", stat.S_IFLNK | 0o777, b"busybox")
    cpio.add("init", stat.S_IFREG | 0o755, INIT_SCRIPT.encode())
    for name, data in modules:
        cpio.add(f"lib/modules/{name}", stat.S_IFREG | 0o644, data)
    work.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(gzip.compress(cpio.finish(), compresslevel=6, mtime=0))
    tmp.replace(target)
    return target


if __name__ == "__main__":
    sys.stdout.write(f"{build()}\n")
