"""One viewer's keys and pointer, routed to the source it is shown.

The reserved keys (``reserved_keys``, the one table) are vncterm's: Ctrl-Alt-1/2 switch between
the console and a desktop on either; Break, Shift+PgUp/PgDn and the paste keys act on the console
while it is shown. Everything else goes to the source (``FramebufferSource.key`` / ``pointer``),
the terminal and a proxied desktop alike, if the viewer may control (view-only viewers' input is
refused and counted for the audit log).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .reserved_keys import Action, lookup
from .sources import FramebufferSource, InputState, TerminalSource

if TYPE_CHECKING:
    from .session import Session


class InputOwner(Protocol):
    """The viewer, as its input needs it."""

    @property
    def source(self) -> FramebufferSource: ...

    @property
    def session(self) -> Session: ...

    def may_control(self) -> bool: ...

    def audit_input(self, **counts: int) -> None: ...

    def show(self, action: Action) -> None:
        """Ctrl-Alt-1 / Ctrl-Alt-2 pressed: show the console or the desktop."""


class ViewerInput:
    """Routes one viewer's keys and pointer."""

    def __init__(self, owner: InputOwner, paste: Callable[[], None]) -> None:
        self.owner = owner
        self.state = InputState(owner, paste)

    def key(self, keysym: int, down: bool) -> None:
        """KeyEvent (RFB section 7.5.4) or QEMU extended key event."""
        owner, keys = self.owner, self.state.keys
        source = owner.source
        on_console = isinstance(source, TerminalSource)
        reserved = lookup(keysym, keys, on_console)
        if reserved is not None and not reserved.console_only:
            if down:
                owner.show(reserved.action)
            return
        if not isinstance(source, TerminalSource):
            keys.key(keysym, down)  # keep the modifier state
            if owner.may_control() and keysym:
                owner.audit_input(keys=int(down))
                source.key(self.state, keysym, down)
            return
        if not owner.may_control():
            owner.audit_input(refused=int(down))
        elif keysym:
            session = owner.session
            if reserved is not None and reserved.action is Action.TAKE_KEYBOARD:
                if down:
                    session.presence.take(owner)
                return
            if down and not session.presence.may_type(owner, session.viewers):
                keys.key(keysym, down)  # not typed, but its modifiers are still held
                owner.audit_input(refused=1)
                return
            if session.search.active:  # the search line takes every key while open
                session.search.key(keysym, down, keys)
                return
            if reserved is not None and reserved.action is Action.SEARCH:
                if down:
                    session.search.open()
                return
            owner.audit_input(keys=int(down))
            if reserved is None:
                source.key(self.state, keysym, down)
            elif down:
                source.action(self.state, reserved.action)

    def pointer(self, mask: int, x: int, y: int) -> None:
        """PointerEvent (section 7.5.5)."""
        owner = self.owner
        session = owner.session
        if (
            owner.may_control()
            and isinstance(owner.source, TerminalSource)
            and session.presence.held_by_other(owner, session.viewers)
        ):  # --input one: the pointer can type too (mouse reports, middle-click paste)
            owner.audit_input(refused=int(mask != 0))
        elif self.owner.may_control():
            self.owner.audit_input(pointer=int(mask != 0))
            self.owner.source.pointer(self.state, mask, x, y)
        else:
            self.owner.audit_input(refused=int(mask != 0))
