"""One viewer's update scheduling (``server/updates.py``), driven with requests and damage; what
it writes is read back as RFB bytes (sections 7.5.3, 7.5.10, 7.5.11, 7.7.2, 7.8)."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np
import pytest

from vncterm.encoders.base import EncoderOptions
from vncterm.encoders.manager import EncodeManager
from vncterm.geometry import Move, Rect
from vncterm.rfb import events
from vncterm.rfb.connection import ServerConnection
from vncterm.rfb.constants import Encoding
from vncterm.rfb.pixel_format import PixelFormat
from vncterm.server.sources import Damage, FramebufferSource, InputState, Snapshot
from vncterm.server.updates import INLINE_AREA, MAX_COPIES, MAX_FPS, UpdateScheduler

pytestmark = pytest.mark.unit

W, H = 64, 32
FULL = Rect(0, 0, W, H)
#: (x, y, w, h, encoding) of each rectangle of one FramebufferUpdate.
Update = list[tuple[int, int, int, int, int]]


class Picture(FramebufferSource):
    """A plain framebuffer source of 16x16 tiles."""

    def __init__(self, width: int = W, height: int = H) -> None:
        self.pixels = np.zeros((height, width), np.uint32)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def tile_size(self) -> tuple[int, int]:
        return 16, 16

    def refresh(self) -> Damage:
        return Damage()

    def snapshot(self) -> Snapshot:
        return Snapshot(self.pixels.copy(), 0)

    def key(self, who: InputState, keysym: int, down: bool) -> None:
        raise AssertionError("no input here")

    def pointer(self, who: InputState, mask: int, x: int, y: int) -> None:
        raise AssertionError("no input here")

    def paste(self, text: str) -> None:
        raise AssertionError("no input here")

    def release_keys(self) -> None:
        raise AssertionError("no input here")


class HeldExecutor(Executor):
    """Runs a submitted job only when the test says so (an encoding in progress)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Future[Any], Callable[[], Any]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self.jobs.append((fut, lambda: fn(*args, **kwargs)))
        return fut

    def run(self, fault: Exception | None = None) -> None:
        fut, job = self.jobs.pop(0)
        if fault is None:
            fut.set_result(job())
        else:
            fut.set_exception(fault)


class Budget:
    def __init__(self) -> None:
        self.executor = HeldExecutor()
        self.wait = 0.0
        self.charged = 0.0

    def encode_wait(self) -> float:
        return self.wait

    def charge_encoding(self, seconds: float) -> None:
        self.charged += seconds

    def refresh(self) -> None:
        pass


class Rig:
    """A scheduler with a handshaken connection, a clock of days and recorded timers."""

    def __init__(self, *encodings: int, source: Picture | None = None) -> None:
        self.now = time.monotonic() + 3 * 86400
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.failures: list[str] = []
        self.source = source or Picture()
        self.conn = ServerConnection()
        self.conn.receive_data(b"RFB 003.008\n\x01\x01")
        self.conn.send_server_init(self.source.width, self.source.height, "test")
        self.conn.data_to_send()
        if encodings:
            msg = struct.pack(">BxH", 2, len(encodings))
            msg += b"".join(struct.pack(">i", e) for e in encodings)
            self.conn.receive_data(msg)
        manager = EncodeManager(EncoderOptions())
        manager.set_encodings(encodings)
        self.budget = Budget()
        self.out = bytearray()
        self.updates = UpdateScheduler(
            self.conn,
            manager,
            self.source,
            self.budget,
            clock=lambda: self.now,
            write=lambda: self.out.extend(self.conn.data_to_send()),
            later=lambda delay, fn: self.timers.append((delay, fn)),
            post=lambda fn: fn(),
            fail=self.failures.append,
        )
        self.updates.start(self.source)
        self.updates.encodings(encodings)

    def request(self, incremental: bool = True, rect: Rect = FULL) -> None:
        self.updates.on_request(events.FramebufferUpdateRequest(incremental, rect))

    def messages(self) -> list[Update | tuple[str, int, bytes]]:
        """What was written since the last call: updates as rectangle lists, fences and
        EndOfContinuousUpdates as tuples."""
        self.out.extend(self.conn.data_to_send())
        data, self.out = bytes(self.out), bytearray()
        out: list[Update | tuple[str, int, bytes]] = []
        bpp = self.conn.pixel_format.bytes_per_pixel
        pos = 0
        while pos < len(data):
            kind = data[pos]
            if kind == 0:
                (count,) = struct.unpack_from(">xxH", data, pos)
                pos += 4
                rects: Update = []
                for _ in range(count):
                    x, y, w, h, enc = struct.unpack_from(">HHHHi", data, pos)
                    pos += 12 + self._payload(enc, w, h, data, pos + 12, bpp)
                    rects.append((x, y, w, h, enc))
                out.append(rects)
            elif kind == 248:
                flags, size = struct.unpack_from(">xxxxIB", data, pos)
                out.append(("fence", flags, data[pos + 9 : pos + 9 + size]))
                pos += 9 + size
            elif kind == 1:
                (count,) = struct.unpack_from(">xxxxH", data, pos)
                out.append(("colour-map", count, b""))
                pos += 6 + 6 * count
            elif kind == 150:
                out.append(("end-continuous", 0, b""))
                pos += 1
            else:
                raise AssertionError(f"unexpected message {kind} in {data[pos:]!r}")
        return out

    @staticmethod
    def _payload(enc: int, w: int, h: int, data: bytes, at: int, bpp: int) -> int:
        if enc == Encoding.RAW:
            return w * h * bpp
        if enc == Encoding.COPYRECT:
            return 4
        if enc == Encoding.EXTENDED_DESKTOP_SIZE:
            return 4 + 16 * data[at]
        if enc in (Encoding.QEMU_EXTENDED_KEY_EVENT, Encoding.DESKTOP_SIZE):
            return 0
        raise AssertionError(f"unexpected encoding {enc}")

    def fire_timers(self) -> None:
        timers, self.timers = self.timers, []
        for _, fn in timers:
            fn()


def raws(update: object) -> int:
    """The pixels the Raw rectangles of ``update`` cover."""
    assert isinstance(update, list), update
    return sum(w * h for _, _, w, h, enc in update if enc == Encoding.RAW)


def test_nothing_is_sent_without_a_request_and_a_full_request_gets_the_whole_screen() -> None:
    rig = Rig()
    rig.updates.maybe_send()
    assert rig.messages() == []
    rig.request(incremental=False)
    (update,) = rig.messages()
    assert raws(update) == W * H
    rig.request()  # incremental, nothing changed: held until something does
    assert rig.messages() == []
    rig.updates.add_damage(Damage([], [Rect(16, 16, 8, 8)]))
    rig.updates.maybe_send()
    assert rig.messages() == [[(16, 16, 16, 16, Encoding.RAW)]]  # the damaged tile
    rig.updates.add_damage(Damage([], [Rect(0, 0, 4, 4)]))
    rig.updates.maybe_send()
    assert rig.messages() == []  # no request outstanding


def test_the_empty_qemu_key_rectangle_and_the_layout_on_every_full_request() -> None:
    rig = Rig(Encoding.RAW, Encoding.QEMU_EXTENDED_KEY_EVENT, Encoding.EXTENDED_DESKTOP_SIZE)
    rig.request(incremental=False)
    size, update = rig.messages()
    assert size == [(0, 0, W, H, Encoding.EXTENDED_DESKTOP_SIZE)]  # in an update of its own
    assert update[0] == (0, 0, 0, 0, Encoding.QEMU_EXTENDED_KEY_EVENT)
    assert raws(update) == W * H
    rig.updates.encodings((Encoding.QEMU_EXTENDED_KEY_EVENT,))  # listed again: not repeated
    rig.request(incremental=False)
    size, update = rig.messages()
    assert size == [(0, 0, W, H, Encoding.EXTENDED_DESKTOP_SIZE)]
    assert [r[4] for r in update] == [Encoding.RAW] * len(update)


def test_moves_go_as_copyrect_first_or_as_repaints_for_a_viewer_without_it() -> None:
    down = Move(Rect(0, 0, W, 16), 0, 16)
    rig = Rig(Encoding.COPYRECT, Encoding.RAW)
    rig.request(incremental=False)
    rig.messages()
    rig.updates.add_damage(Damage([down], [Rect(0, 0, W, 16)]))
    rig.request()
    (update,) = rig.messages()
    assert update[0] == (0, 16, W, 16, Encoding.COPYRECT)
    assert raws(update) == W * 16 and rig.updates.copyrects_sent == 1
    plain = Rig(Encoding.RAW)
    plain.request(incremental=False)
    plain.messages()
    plain.updates.add_damage(Damage([down], [Rect(0, 0, W, 16)]))
    plain.request()
    (update,) = plain.messages()
    assert raws(update) == W * H and plain.updates.copyrects_sent == 0


def test_more_moves_than_the_cap_and_a_partial_request_become_repaints() -> None:
    rig = Rig(Encoding.COPYRECT, Encoding.RAW)
    rig.request(incremental=False)
    rig.messages()
    step = Move(Rect(0, 0, 16, 16), 16, 0)
    rig.updates.add_damage(Damage([step] * (MAX_COPIES + 1), []))
    rig.request()
    (update,) = rig.messages()
    assert sum(1 for r in update if r[4] == Encoding.COPYRECT) == MAX_COPIES
    rig.updates.add_damage(Damage([step], []))
    rig.request(rect=Rect(0, 0, 32, 16))  # not the whole screen: no CopyRect
    (update,) = rig.messages()
    assert update == []  # the move became damage after this update's rectangles were taken
    rig.request(rect=Rect(0, 0, 32, 16))
    assert rig.messages() == [[(16, 0, 16, 16, Encoding.RAW)]]


def test_continuous_updates_are_paced_but_input_goes_at_once() -> None:
    rig = Rig(Encoding.RAW)
    rig.request(incremental=False)
    rig.messages()
    rig.updates.on_continuous(events.EnableContinuousUpdates(True, Rect(0, 0, 1000, 1000)))
    rig.updates.add_damage(Damage([], [Rect(0, 0, 1, 1)]))
    rig.updates.maybe_send()
    assert rig.messages() == []  # a frame went out just now
    (delay, _), *more = rig.timers
    assert not more and delay == pytest.approx(1 / MAX_FPS)
    rig.updates.maybe_send()
    assert len(rig.timers) == 1  # one timer at a time
    rig.now += 1 / MAX_FPS
    rig.fire_timers()
    assert rig.messages() == [[(0, 0, 16, 16, Encoding.RAW)]]
    rig.updates.input()
    rig.updates.add_damage(Damage([], [Rect(32, 16, 1, 1)]))
    rig.updates.maybe_send()
    assert rig.messages() == [[(32, 16, 16, 16, Encoding.RAW)]]
    rig.updates.on_continuous(events.EnableContinuousUpdates(False, Rect(0, 0, 0, 0)))
    assert rig.messages() == [("end-continuous", 0, b"")]
    rig.updates.add_damage(Damage([], [Rect(0, 0, 1, 1)]))
    rig.updates.maybe_send()
    assert rig.messages() == []


def test_a_spent_budget_holds_incremental_updates_but_not_a_full_request() -> None:
    rig = Rig(Encoding.RAW)
    rig.budget.wait = 0.25
    rig.updates.add_damage(Damage([], [Rect(0, 0, 1, 1)]))
    rig.request()
    assert rig.messages() == [] and [d for d, _ in rig.timers] == [0.25]
    rig.request(incremental=False)
    (update,) = rig.messages()
    assert raws(update) == W * H
    assert rig.budget.charged > 0


def test_large_updates_are_encoded_by_a_worker_and_fences_wait_for_them() -> None:
    big = Picture(512, 256)
    assert big.width * big.height > INLINE_AREA
    rig = Rig(Encoding.RAW, source=big)
    rig.request(incremental=False, rect=Rect(0, 0, 512, 256))
    assert rig.messages() == [] and rig.updates.has_unsent()
    rig.updates.on_fence(events.ClientFence(1 << 31 | 2 | 8, b"xy"))
    rig.updates.on_fence(events.ClientFence(1, b"our own fence answered"))
    assert rig.messages() == []
    rig.budget.executor.run()
    update, fence = rig.messages()
    assert raws(update) == 512 * 256
    assert fence == ("fence", 2, b"xy")  # the flags we honour, after the update
    rig.updates.on_fence(events.ClientFence(1 << 31 | 1, b"z"))
    assert rig.messages() == [("fence", 1, b"z")]  # nothing being encoded: at once
    assert not rig.updates.has_unsent()


def test_an_encoder_fault_in_the_worker_is_reported_once() -> None:
    rig = Rig(Encoding.RAW, source=Picture(512, 256))
    rig.request(incremental=False, rect=Rect(0, 0, 512, 256))
    rig.budget.executor.run(RuntimeError("boom"))
    assert rig.failures == ["internal error while encoding"]
    assert rig.messages() == []


def test_a_resize_goes_alone_and_a_viewer_without_size_encodings_keeps_its_size() -> None:
    source = Picture()
    rig = Rig(Encoding.RAW, Encoding.DESKTOP_SIZE, source=source)
    rig.request(incremental=False)
    rig.messages()
    source.pixels = np.zeros((48, 80), np.uint32)
    rig.updates.resized(0)
    rig.request(rect=Rect(0, 0, 80, 48))
    size, update = rig.messages()
    assert size == [(0, 0, 80, 48, Encoding.DESKTOP_SIZE)]
    assert raws(update) == 80 * 48
    old = Rig(Encoding.RAW)
    old.request(incremental=False)
    old.messages()
    old.source.pixels = np.zeros((48, 80), np.uint32)
    old.updates.resized(0)
    old.request(incremental=False, rect=Rect(0, 0, 80, 48))
    (update,) = old.messages()
    assert raws(update) == W * H  # what it knows of the new screen
    old.updates.size_refused(1)
    assert old.messages() == []  # nothing to tell it the refusal with


def test_a_new_pixel_format_gets_its_colour_map_and_everything_again() -> None:
    rig = Rig(Encoding.RAW)
    rig.request(incremental=False)
    rig.messages()
    bgr233 = PixelFormat(8, 8, False, False, 7, 7, 3, 0, 3, 6)
    (ev,) = rig.conn.receive_data(b"\0\0\0\0" + bgr233.to_bytes())
    assert isinstance(ev, events.SetPixelFormat)
    rig.updates.pixel_format(ev.pixel_format)
    assert rig.messages() == [("colour-map", 256, b"")]
    rig.request()  # incremental, nothing changed: the whole screen all the same
    (update,) = rig.messages()
    assert raws(update) == W * H
