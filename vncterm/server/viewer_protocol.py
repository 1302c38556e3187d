"""What the session and the gatekeeper need of a viewer: small protocols, so that neither
depends on ``viewer.Viewer`` (which depends on them)."""

from __future__ import annotations

from typing import Protocol

from .sources import Damage, FramebufferSource


class Peer(Protocol):
    """A connection the gatekeeper counts and may block (``security.Gatekeeper``)."""

    #: What blocking counts failures by: the peer's IP address, or its uid on a unix socket.
    address_key: str

    def close(self, reason: str, abort: bool = False) -> None:
        """Drop the connection, logging why."""


class SessionViewer(Peer, Protocol):
    """A viewer attached to a session (``session.Session``)."""

    #: Ctrl-Alt-1 chose the console: a desktop that (re)appears does not take this viewer.
    chose_console: bool

    @property
    def source(self) -> FramebufferSource:
        """What the viewer is shown."""

    def switch(self, source: FramebufferSource) -> None:
        """Show ``source`` from now on."""

    def add_damage(self, damage: Damage) -> None:
        """Changes in the source the viewer shows."""

    def maybe_send(self) -> None:
        """Send an update if one is due."""

    def has_unsent(self) -> bool:
        """True while the viewer has changes not sent yet."""

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until everything is written."""

    def on_resize(self, reason: int) -> None:
        """The framebuffer changed size (ExtendedDesktopSize ``reason``)."""

    def on_name(self, name: str) -> None:
        """A new desktop name."""

    def on_cursor(self) -> None:
        """The cursor of the source shown changed."""

    def bell(self) -> None:
        """Ring the viewer's bell."""

    def offer_clipboard(self, text: str) -> None:
        """Offer ``text`` to the viewer's clipboard."""
