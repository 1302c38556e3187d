"""Entry points: a host of consoles (``run_host``), and :class:`Server`, the one-console case
that tests and embedders drive directly."""

from __future__ import annotations

import asyncio
import signal
import sys

from ..config import Config, HostConfig
from ..console.base import Console
from ..render.renderer import TerminalRenderer
from ..rfb.connection import SecurityConfig
from ..terminal.emulator import Emulator
from .audit import AuditLog
from .console_service import ConsoleService
from .desktop import DesktopLink
from .host import Host, Reload
from .outfile import AppendFile
from .security import Gatekeeper
from .session import Session
from .websocket_listen import WebSocketSetup

#: How long an encoding thread may hold the GIL while the event loop waits for it (Python's
#: default is 5 ms): the loop serves every console, so it must get it back sooner.
SWITCH_INTERVAL = 0.001


class Server:
    """One console served as today's command line serves it: ``await start()``, then
    ``await wait()`` for the console's exit status. No state directory, no control socket."""

    def __init__(self, config: Config, console: Console | None = None) -> None:
        config.validate()
        self.config = config
        host = HostConfig.single_console(config)
        self.host = Host(host, {"console": console} if console is not None else None, control=False)
        self.service: ConsoleService = self.host.services["console"]

    async def start(self) -> None:
        await self.host.start()

    async def wait(self) -> int:
        return await self.host.wait()

    def stop(self, signum: int | None = None) -> None:
        self.host.stop(signum)

    @property
    def port(self) -> int:
        """The first TCP port listened on (useful with port 0)."""
        for a in self.service.addresses:
            if isinstance(a, tuple):
                return int(a[1])
        raise LookupError("not listening on TCP")

    @property
    def addresses(self) -> list[tuple[str, int] | str]:
        return self.service.addresses

    @property
    def session(self) -> Session:
        return self.service.session

    @property
    def console(self) -> Console:
        return self.service.console

    @property
    def emulator(self) -> Emulator:
        return self.service.emulator

    @property
    def renderer(self) -> TerminalRenderer:
        return self.service.renderer

    @property
    def security(self) -> SecurityConfig:
        return self.service.security

    @property
    def websocket(self) -> WebSocketSetup:
        return self.service.websocket

    @property
    def desktop_link(self) -> DesktopLink | None:
        return self.service.desktop_link

    @property
    def log_file(self) -> AppendFile | None:
        return self.service.log_file

    @property
    def guard(self) -> Gatekeeper:
        return self.host.shared.guard

    @property
    def audit(self) -> AuditLog | None:
        return self.host.audit

    @property
    def stop_signal(self) -> int | None:
        return self.host.stop_signal


async def serve_host(config: HostConfig, reload: Reload | None = None) -> int:
    """Run a host: SIGINT/SIGTERM stop it (exit 128+N), SIGHUP re-reads its config file and
    reopens the log files."""
    host = Host(config, reload=reload)
    loop = asyncio.get_running_loop()
    sys.setswitchinterval(SWITCH_INTERVAL)
    # before the first listener opens: a signal that comes once a port answers is handled
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, host.stop, int(sig))
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(host.reload()) and None)
    await host.start()
    return await host.wait()


def run_host(config: HostConfig, reload: Reload | None = None) -> int:
    """Blocking entry point: uvloop when installed, asyncio otherwise."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency but optional at run time
        return asyncio.run(serve_host(config, reload))
    return uvloop.run(serve_host(config, reload))


def run(config: Config) -> int:
    """The one-console command line (``config`` named ``console``)."""
    return run_host(HostConfig.single_console(config))
