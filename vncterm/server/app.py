"""Wires a console, a terminal, a renderer and listeners into a running vncterm server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket

from ..config import Config
from ..console.base import Console
from ..console.factory import make_console
from ..render.font import CellFont
from ..render.renderer import TerminalRenderer
from ..rfb import vencrypt
from ..rfb.connection import SecurityConfig
from ..terminal.emulator import Emulator
from .audit import AuditLog
from .desktop import DesktopLink
from .hints import connect_hints
from .outfile import AppendFile
from .security import Gatekeeper, anonymous_tls_context, tls_context
from .session import Session
from .viewer import Viewer
from .websocket_listen import WebSocketSetup

log = logging.getLogger(__name__)


class Server:
    """A vncterm server: ``await start()``, then ``await wait()`` for the console's exit status."""

    def __init__(self, config: Config, console: Console | None = None) -> None:
        config.validate()
        self.config = config
        self.console = console or make_console(
            config.console, config.command, config.cols, config.rows
        )
        font = CellFont(config.font_size, config.antialias)
        self.emulator = Emulator(
            config.cols,
            config.rows,
            charset=config.charset,
            scrollback=config.scrollback,
            scrollback_memory=config.scrollback_memory,
        )
        self.renderer = TerminalRenderer(
            font, config.cols, config.rows, bold_is_bright=config.bold_is_bright
        )
        if config.console is not None:
            what = config.console.describe()
        else:
            what = os.path.basename(config.command[0])
        name = config.name or f"{what} on {socket.gethostname()}"
        self.log_file = (
            AppendFile(config.log_path, "console log", on_notice=self._notice)
            if config.log_path
            else None
        )
        self.session = Session(
            self.console,
            self.emulator,
            self.renderer,
            name,
            config.share_policy,
            stream_name=config.stream_name,
            log_file=self.log_file,
        )
        self.session.follow_title = not config.name
        self.session.allow_resize = config.allow_resize
        self.session.allow_lossy = config.allow_lossy
        self.session.tight_gradient = config.tight_gradient
        self.session.max_captures = config.max_captures
        self.session.max_width, self.session.max_height = config.max_framebuffer
        # DECCOLM (80/132 columns) resizes only where the program can be told
        self.emulator.allow_column_mode = self.session.can_resize
        self.security = SecurityConfig(
            password=config.password,
            view_only_password=config.view_only_password,
            tls_context=(
                vencrypt.without_session_tickets(
                    tls_context(config.tls_cert, config.tls_key, config.tls_ca)
                )
                if config.tls_cert
                else None
            ),
            anon_tls_context=anonymous_tls_context() if config.tls_anon else None,
            plain_users=config.plain_users,
        )
        self.audit = (
            AuditLog(config.audit_log, on_notice=self._notice) if config.audit_log else None
        )
        self.guard = Gatekeeper(
            max_viewers=config.max_viewers, audit=self.audit, stuck_timeout=config.stuck_timeout
        )
        #: The signal that stopped the server (SIGTERM/SIGINT), if any.
        self.stop_signal: int | None = None
        self.servers: list[asyncio.AbstractServer] = []
        self.desktop_link: DesktopLink | None = None
        self.addresses: list[tuple[str, int] | str] = []
        #: WebSocket sniffing on the listeners, WebSocket-only listeners (``.addresses``).
        self.websocket = WebSocketSetup(
            config, self.security, lambda security: Viewer(self.session, security, self.guard)
        )

    def _notice(self, key: str, text: str, ttl: float | None) -> None:
        """A log file's trouble, shown on the status row."""
        self.session.notice(key, text, ttl)

    async def start(self) -> None:
        """Listen on every address, then start the console."""
        loop = asyncio.get_running_loop()

        factory = self.websocket.vnc_factory()  # Viewers, after a sniff for WebSocket

        if self.security.types[0] == 19:
            log.info(
                "security: VeNCrypt sub-types %s",
                ", ".join(vencrypt.NAMES[t] for t in self.security.vencrypt_subtypes),
            )
        if self.audit is not None:
            self.audit.record(
                "start",
                listen=[str(a) for a in self.config.listen],
                security=[
                    vencrypt.NAMES.get(t, str(t))
                    for t in self.security.vencrypt_subtypes or self.security.types
                ],
            )
        for addr in self.config.listen:
            if addr.fd is not None:
                # an inherited listening socket (systemd): never pass it on to the console
                sock = socket.socket(fileno=addr.fd)
                sock.set_inheritable(False)
                sock.setblocking(False)
                if sock.family == socket.AF_UNIX:
                    server = await loop.create_unix_server(factory, sock=sock)
                    self.addresses.append(str(sock.getsockname()))
                else:
                    server = await loop.create_server(factory, sock=sock)
                    self.addresses.append(sock.getsockname()[:2])
            elif addr.path is not None:
                with contextlib.suppress(FileNotFoundError):
                    if os.path.exists(addr.path) and not os.path.isfile(addr.path):
                        os.unlink(addr.path)
                server = await loop.create_unix_server(factory, addr.path)
                self.addresses.append(addr.path)
            else:
                server = await loop.create_server(factory, addr.host, addr.port, reuse_address=True)
                for sock in server.sockets:
                    self.addresses.append(sock.getsockname()[:2])
            self.servers.append(server)
            log.info("listening on %s", addr if addr.port or addr.path else self.addresses[-1])
        self.servers += await self.websocket.start()
        for hint in connect_hints(
            self.addresses,
            self.config.websocket_sniff,
            self.websocket.addresses,
            self.websocket.tls is not None,
        ):
            log.info("ready: connect with %s", hint)
        r = self.renderer
        log.info(
            "screen %dx%d cells, %dx%d pixels (font %d px, cell %dx%d)",
            r.cols,
            r.rows,
            r.width,
            r.height,
            self.config.font_size,
            r.cell_w,
            r.cell_h,
        )
        await self.console.start(self.session.on_console_data, self.session.on_console_status)
        cfg = self.config
        if cfg.reverse_listen is not None or cfg.desktop is not None:
            target: tuple[str, int] | str | None = None
            if cfg.desktop is not None:
                target = cfg.desktop.path or (cfg.desktop.host, cfg.desktop.port)
            reverse = None
            if cfg.reverse_listen is not None:
                reverse = (cfg.reverse_listen.host, cfg.reverse_listen.port)
            self.desktop_link = DesktopLink(
                self.session.set_desktop,
                reverse=reverse,
                connect=target,
                password=cfg.desktop_password,
                audit=self.audit,
            )
            await self.desktop_link.start()
        self.session.streams.availability_changed(self.config.stream_name)
        for stream_name, spec in self.config.streams:
            backend = make_console(spec, [], self.config.cols, self.config.rows)
            await self.session.add_stream(stream_name, backend)

    @property
    def port(self) -> int:
        """The first TCP port listened on (useful with port 0)."""
        for a in self.addresses:
            if isinstance(a, tuple):
                return int(a[1])
        raise LookupError("not listening on TCP")

    async def wait(self) -> int:
        """Run until the console ends; give viewers a last update; return its status."""
        status = await self.console.wait_closed()
        if self.desktop_link is not None:
            await self.desktop_link.close()
        log.info("console ended with status %d", status)
        for server in self.servers:
            server.close()
        await self.session.final_updates(timeout=1.0)
        self.session.close()
        for viewer in list(self.guard.connections):  # those still in their handshake
            viewer.close("the server is stopping")
        self.guard.plain.close()
        self.console.close()
        if self.log_file is not None:
            self.log_file.close()
        if self.stop_signal is not None:
            status = 128 + self.stop_signal
        if self.audit is not None:
            self.audit.record("stop", status=status, signal=self.stop_signal)
            self.audit.close()
        for handler in logging.getLogger().handlers:
            handler.flush()
        for addr in self.config.listen:
            if addr.path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(addr.path)
        return status

    def stop(self, signum: int | None = None) -> None:
        """End the console (the child gets SIGHUP); ``wait()`` then finishes, returning
        128 + ``signum`` when a signal asked for it."""
        if signum is not None and self.stop_signal is None:
            log.warning("stopping on %s", signal.Signals(signum).name)
            self.stop_signal = signum
        self.console.close()


async def serve(config: Config) -> int:
    """Run a server until its console ends; SIGINT/SIGTERM end it early (exit 128+N)."""
    server = Server(config)
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop, int(sig))
    return await server.wait()


def run(config: Config) -> int:
    """Blocking entry point: uvloop when installed, asyncio otherwise."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency but optional at run time
        return asyncio.run(serve(config))
    return uvloop.run(serve(config))
