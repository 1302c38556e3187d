"""The WebSocket listeners: sniffing on the VNC listeners, WebSocket-only listeners (``wss``
under ``--websocket-tls``), the origin policy and the security a viewer gets inside ``wss``."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from ..config import Config
from ..rfb.connection import SecurityConfig
from .security import tls_context
from .sniff import sniffing_factory
from .websocket import WebSocketProtocol
from .websocket_origin import OriginPolicy

log = logging.getLogger(__name__)


class WebSocketSetup:
    """What the configuration asks for: sniffing on the VNC listeners, separate WebSocket-only
    listeners (``--websocket``, with TLS for ``wss`` under ``--websocket-tls``), the origin
    policy, and the security a viewer gets inside ``wss``.

    ``make_viewer(security)`` builds the RFB protocol for one connection.
    """

    def __init__(
        self,
        config: Config,
        security: SecurityConfig,
        make_viewer: Callable[[SecurityConfig], asyncio.Protocol],
    ) -> None:
        self.config = config
        self.security = security
        self.make_viewer = make_viewer
        authenticated = (
            security.has_password
            or security.plain_users is not None
            or (
                security.tls_context is not None
                and security.tls_context.verify_mode == ssl.CERT_REQUIRED
            )
        )
        self.policy = OriginPolicy(tuple(config.websocket_origins), authenticated)
        self.tls: ssl.SSLContext | None = None
        self.inner_security = security
        if config.websocket_tls:
            assert config.tls_cert is not None  # Config.validate
            self.tls = tls_context(config.tls_cert, config.tls_key, config.tls_ca)
            self.inner_security = wss_security(security)
        #: (host, port) of each WebSocket-only listener, once started.
        self.addresses: list[tuple[str, int]] = []

    def vnc_factory(self) -> Callable[[], asyncio.Protocol]:
        """The factory for the ``--listen`` addresses: sniffing unless turned off."""

        def rfb() -> asyncio.Protocol:
            return self.make_viewer(self.security)

        if not self.config.websocket_sniff:
            return rfb

        def websocket() -> asyncio.Protocol:
            return WebSocketProtocol(
                rfb, self.policy, ping=self.config.websocket_ping, web=self.config.web
            )

        return sniffing_factory(rfb, websocket, self.config.websocket_wait)

    def websocket_factory(self) -> Callable[[], asyncio.Protocol]:
        """The factory for the WebSocket-only listeners (no wait, TLS underneath if asked)."""

        def rfb() -> asyncio.Protocol:
            return self.make_viewer(self.inner_security)

        def websocket() -> asyncio.Protocol:
            return WebSocketProtocol(
                rfb, self.policy, ping=self.config.websocket_ping, web=self.config.web
            )

        return websocket

    async def start(self) -> list[asyncio.AbstractServer]:
        """Listen on the ``--websocket`` addresses."""
        loop = asyncio.get_running_loop()
        servers: list[asyncio.AbstractServer] = []
        for addr in self.config.websocket:
            server = await loop.create_server(
                self.websocket_factory(), addr.host, addr.port, reuse_address=True, ssl=self.tls
            )
            self.addresses += [s.getsockname()[:2] for s in server.sockets]
            servers.append(server)
            log.info(
                "WebSocket%s only on %s",
                " (TLS: wss)" if self.tls else "",
                addr if addr.port else self.addresses[-1],
            )
        return servers


def wss_security(security: SecurityConfig) -> SecurityConfig:
    """The security offered inside ``wss``: the socket is already TLS with the VeNCrypt
    certificate (and client certificates when ``--tls-ca`` asks), so the RFB inside offers VNC
    Authentication with the password (or None when the server has none), which noVNC speaks;
    noVNC knows no VeNCrypt sub-type but Plain, which it would send without TLS. Plain users
    without a password cannot be checked that way: the VeNCrypt offer stays (noVNC will refuse
    it, but no one gets in unchecked)."""
    if security.plain_users is not None and not security.has_password:
        return security
    return SecurityConfig(
        password=security.password, view_only_password=security.view_only_password
    )
