"""The protocol-test RFB client with ExtendedDesktopSize (RFB 7.8.5): it asks for sizes with
SetDesktopSize (7.5.9) and records every size rectangle (reason, status, width, height)."""

from __future__ import annotations

import struct

import numpy as np
from rawclient import RawClient

EXTENDED_DESKTOP_SIZE = -308


class SizingClient(RawClient):
    """Raw plus ExtendedDesktopSize; ``sizes`` holds (reason, status, width, height)."""

    def _handshake(self, password: bytes | None, shared: bool) -> None:
        super()._handshake(password, shared)
        self.sizes: list[tuple[int, int, int, int]] = []
        self.sock.sendall(struct.pack(">BxHii", 2, 2, 0, EXTENDED_DESKTOP_SIZE))

    def ask_size(self, width: int, height: int) -> None:
        """SetDesktopSize with one screen of ``width`` x ``height``."""
        self.sock.sendall(
            struct.pack(">BxHHBx", 251, width, height, 1)
            + struct.pack(">IHHHHI", 0, 0, 0, width, height, 0)
        )

    def read_message(self) -> int:
        kind = self.recv_exact(1)[0]
        if kind != 0:
            raise AssertionError(f"unexpected server message {kind}")
        (count,) = struct.unpack(">xH", self.recv_exact(3))
        for _ in range(count):
            x, y, w, h, enc = struct.unpack(">HHHHi", self.recv_exact(12))
            if enc == EXTENDED_DESKTOP_SIZE:
                screens = self.recv_exact(4)[0]
                self.recv_exact(16 * screens)
                self.sizes.append((x, y, w, h))
                if y == 0 and self.fb.shape != (h, w):
                    self.fb = np.zeros((h, w), dtype=np.uint32)
                continue
            assert enc == 0, f"unexpected encoding {enc}"
            data = self.recv_exact(w * h * 4)
            self.fb[y : y + h, x : x + w] = np.frombuffer(data, dtype="<u4").reshape(h, w)
        self.updates += 1
        return kind

    def resize(self, width: int, height: int, tries: int = 20) -> int:
        """Ask for a size; the status of the server's answer (reason 1), after a full
        update at the size now in force."""
        seen = len(self.sizes)
        self.ask_size(width, height)
        for _ in range(tries):
            self.update(incremental=False)
            answers = [s for s in self.sizes[seen:] if s[0] == 1]
            if answers:
                self.update(incremental=False)  # the frame at the new size
                return answers[0][1]
        raise AssertionError(f"no answer to SetDesktopSize {width}x{height}: {self.sizes}")
