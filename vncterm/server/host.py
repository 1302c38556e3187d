"""A host of consoles: every console of one vncterm process by name, what they share (who may
connect, the audit log, the WebSocket listener that reaches ``/NAME``, the ports handed out,
the state directory, the control socket), and consoles added and removed while it runs
(SIGHUP re-reads the config file; discovery adds and removes them the same way)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..config import Config, HostConfig, ListenAddress
from ..console.base import Console
from ..errors import ConfigError
from ..rfb import vencrypt
from .audit import AuditLog
from .console_service import ConsoleService, Shared
from .control import ControlServer
from .hints import connect_hints
from .listeners import listen_on
from .ports import PortBook
from .publish import Publishing
from .security import Gatekeeper, tls_context
from .state_dir import ensure_private_dir
from .websocket import WebSocketProtocol
from .websocket_origin import OriginPolicy

log = logging.getLogger(__name__)

#: Reads the config file again (SIGHUP): the command line's loader, injected.
Reload = Callable[[str], HostConfig]


class Host:
    """Every console of the process. ``await start()``, then ``await wait()``: the one-console
    command line returns its console's status; a host runs until ``stop()``."""

    def __init__(
        self,
        config: HostConfig,
        consoles: dict[str, Console] | None = None,
        *,
        control: bool = True,
        reload: Reload | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.reload_file = reload
        self.audit = (
            AuditLog(config.audit_log, on_notice=self._notice) if config.audit_log else None
        )
        self.shared = Shared(
            Gatekeeper(
                max_viewers=config.max_viewers,
                audit=self.audit,
                stuck_timeout=config.stuck_timeout,
            ),
            self.audit,
        )
        given = consoles or {}
        self._control_wanted = control
        self.services: dict[str, ConsoleService] = {
            name: ConsoleService(
                name,
                cfg,
                self.shared,
                console=given.get(name),
                single=config.single,
                screen_path=self._screen_path(name, cfg),
            )
            for name, cfg in config.consoles.items()
        }
        self._tasks: dict[str, asyncio.Task[int]] = {}
        self.control: ControlServer | None = None
        self.ports: PortBook | None = None
        #: Console tokens, and where consoles are published (websockify token plugins).
        self.publishing = Publishing(config.publish)
        self.websocket_servers: list[asyncio.AbstractServer] = []
        #: (host, port) of each shared WebSocket listener, once started.
        self.websocket_addresses: list[tuple[str, int]] = []
        self.websocket_tls = (
            tls_context(config.tls_cert, config.tls_key, None)
            if config.websocket_tls and config.tls_cert
            else None
        )
        #: The signal that stopped the host (SIGTERM/SIGINT), if any.
        self.stop_signal: int | None = None
        self._stopped = asyncio.Event()
        #: One reload at a time: SIGHUPs in a row each see the consoles the last one left.
        self._reloading = asyncio.Lock()
        self._started = asyncio.Event()

    def _screen_path(self, name: str, config: Config) -> str | None:
        """Where console ``name`` keeps its terminal across restarts: None without a state
        directory (``control=False``: tests' Server) or with ``--no-restore-screen``."""
        if not (self._control_wanted and config.restore_screen):
            return None
        return screen_path(self.config.state_dir, name, config, self.config.single)

    def _notice(self, key: str, text: str, ttl: float | None) -> None:
        """The audit log's trouble, on every console's status row."""
        for service in self.services.values():
            service.session.notice(key, text, ttl)

    # -- starting --------------------------------------------------------------------------------

    async def start(self) -> None:
        """The state directory, the shared listeners, then every console."""
        cfg = self.config
        needs_state = (
            self._control_wanted
            or self.publishing.wanted
            or any(not c.listen for c in cfg.consoles.values())
        )
        if needs_state:
            ensure_private_dir(cfg.state_dir)
        self.ports = PortBook(
            cfg.state_dir if needs_state else None, *cfg.port_range, cfg.listen_host
        )
        self.publishing.open(cfg.state_dir if needs_state else None)
        if self.audit is not None:
            self.audit.record("start", consoles=list(cfg.consoles))
        await self._start_websocket()
        for name in list(self.services):
            await self._start_service(name)
        if self._control_wanted:
            self.control = ControlServer(cfg.state_dir, self.describe)
            await self.control.start()
        self._started.set()
        for hint in connect_hints(
            [], False, self.websocket_addresses, self.websocket_tls is not None
        ):
            log.info("ready: %s (a console by name: /NAME)", hint)

    async def _start_websocket(self) -> None:
        cfg = self.config
        addresses = list(cfg.websocket)
        addresses += [ListenAddress(fd=fd) for fd in cfg.named_fds.get("websocket", [])]
        if not addresses:
            return

        def websocket() -> asyncio.Protocol:
            return WebSocketProtocol(
                _no_console,
                OriginPolicy(cfg.websocket_origins),
                route=self._route,
                ping=cfg.websocket_ping,
                web=cfg.web,
            )

        for addr in addresses:
            if addr.fd is not None:
                servers, bound = await listen_on([addr], websocket)
            else:
                loop = asyncio.get_running_loop()
                server = await loop.create_server(
                    websocket, addr.host, addr.port, reuse_address=True, ssl=self.websocket_tls
                )
                servers, bound = [server], [s.getsockname()[:2] for s in server.sockets]
            self.websocket_servers += servers
            self.websocket_addresses += [b for b in bound if isinstance(b, tuple)]
            log.info(
                "WebSocket%s for every console on %s",
                " (wss)" * bool(self.websocket_tls),
                bound[-1],
            )

    def _listen_addresses(self, name: str, config: Config) -> list[ListenAddress]:
        named = self.config.named_fds.get(name)
        if named:
            return [ListenAddress(fd=fd) for fd in named]
        if config.listen:
            return list(config.listen)
        assert self.ports is not None
        port = self.ports.port_for(name, set(self.services))
        if port is None:
            low, high = self.config.port_range
            raise OSError(f"no free port left in {low}-{high}")
        return [ListenAddress(self.config.listen_host, port)]

    async def _start_service(self, name: str) -> None:
        """Listen for one console and attach it; on a host, a console that cannot listen or
        start is logged and listed, and the others go on."""
        service = self.services[name]
        try:
            await service.listen(self._listen_addresses(name, service.config))
        except OSError as e:
            if self.config.single:
                raise
            service.state = f"failed: cannot listen: {e.strerror or e}"
            log.error("console %s cannot listen: %s", name, e.strerror or e)
        if self.config.single:
            for hint in connect_hints(
                service.addresses,
                service.config.websocket_sniff,
                service.websocket.addresses,
                service.websocket.tls is not None,
            ):
                log.info("ready: connect with %s", hint)
            log_screen(service)
        else:
            ports = ", ".join(str(a[1]) for a in service.addresses if isinstance(a, tuple))
            log.info("console %s: port %s, WebSocket /%s", name, ports or "none", name)
        if service.security.types[0] == 19:
            log.info(
                "security: VeNCrypt sub-types %s",
                ", ".join(vencrypt.NAMES[t] for t in service.security.vencrypt_subtypes),
            )
        await service.start()
        if not self.config.single:
            self._tasks[name] = asyncio.create_task(self._follow(service))
        self.publishing.publish(name, service.addresses)

    async def _follow(self, service: ConsoleService) -> int:
        try:
            return await service.run()
        except Exception:  # one console's fault stays in it
            log.exception("console %s failed", service.name)
            service.state = "failed: internal error (see the log)"
            return 1

    # -- adding and removing at run time ---------------------------------------------------------

    async def add_console(
        self, name: str, config: Config, console: Console | None = None
    ) -> ConsoleService:
        """Serve a new console (from a re-read config file, or discovered: then ``console``
        is its backend, e.g. a libvirt domain's serial)."""
        if name in self.services:
            raise ConfigError(f"console {name} exists")
        service = ConsoleService(
            name,
            config,
            self.shared,
            console=console,
            screen_path=self._screen_path(name, config),
        )
        self.services[name] = service
        await self._start_service(name)
        if self.audit is not None:
            self.audit.record("console_added", console=name)
        return service

    async def remove_console(self, name: str, reason: str = "the console was removed") -> None:
        """Stop serving a console: its viewers are told why and closed."""
        service = self.services.pop(name, None)
        if service is None:
            return
        self.publishing.withdraw(name)
        await service.stop(reason, final=False)
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
        if self.audit is not None:
            self.audit.record("console_removed", console=name)

    async def reload(self) -> None:
        """SIGHUP: reopen the log files; with a config file, apply its consoles: new ones
        start, removed ones stop, changed ones restart; the others are not touched. A SIGHUP
        while starting applies once started; reloads run one after the other."""
        await self._started.wait()
        async with self._reloading:
            await self._reload()

    async def _reload(self) -> None:
        for service in self.services.values():
            if service.log_file is not None:
                service.log_file.reopen()
            if service.recording is not None:
                service.recording.reopen()
        if self.audit is not None:
            self.audit.reopen()
        path = self.config.config_path
        if path is None or self.reload_file is None:
            log.info("SIGHUP: log files reopened")
            return
        try:
            new = self.reload_file(path)
            new.validate()
        except (ConfigError, OSError) as e:
            log.error("SIGHUP: %s: keeping the consoles as they are", e)
            return
        if _shared_fields(new) != _shared_fields(self.config):
            log.warning("SIGHUP: the [vncterm] table changed: restart vncterm to apply it")
        old = self.config.consoles
        for name in [n for n in old if n not in new.consoles]:
            log.info("SIGHUP: console %s removed", name)
            await self.remove_console(name)
        for name, cfg in new.consoles.items():
            if name in old and old[name] == cfg:
                continue
            if name in old:
                log.info("SIGHUP: console %s changed: restarting it", name)
                await self.remove_console(name, "the console's configuration changed")
            else:
                log.info("SIGHUP: console %s added", name)
            try:
                await self.add_console(name, cfg)
            except (ConfigError, OSError) as e:
                log.error("SIGHUP: console %s: %s", name, e)
        self.config = HostConfig(**{**_fields(self.config), "consoles": dict(new.consoles)})

    # -- listing ---------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Every console, for ``vncterm --list``."""
        return {
            "consoles": [
                {**service.describe(), "token": self.publishing.tokens.token_for(name)}
                for name, service in self.services.items()
            ],
            "websocket": [f"{h}:{p}" for h, p in self.websocket_addresses],
        }

    def _route(self, target: str) -> tuple[Callable[[], asyncio.Protocol], OriginPolicy] | None:
        """The console a shared WebSocket request's target names: ``?token=TOKEN`` on any
        path (noVNC's ``websockify?token=...``), else ``/NAME`` (percent-decoded); with a
        single console, any path that names no other console."""
        try:
            url = urllib.parse.urlsplit(target)
        except ValueError:  # "//[x": an authority that is no host (the viewer's own bytes)
            return None
        tokens = urllib.parse.parse_qs(url.query).get("token")
        if tokens:
            found = self.publishing.tokens.name_for(tokens[0], set(self.services))
            return (
                None
                if found is None
                else self.services[found].websocket_route(self.websocket_tls is not None)
            )
        name = urllib.parse.unquote(url.path.strip("/"))
        service = self.services.get(name)
        if service is None and len(self.services) == 1 and self.config.single:
            service = next(iter(self.services.values()))
        if service is None:
            return None
        return service.websocket_route(self.websocket_tls is not None)

    # -- running and stopping --------------------------------------------------------------------

    async def wait(self) -> int:
        """The one-console command line: until its console ends, with its status. A host: until
        ``stop()``."""
        if self.config.single:
            service = next(iter(self.services.values()))
            status = await service.run()
            await self._shut_down()
        else:
            await self._stopped.wait()
            await self._shut_down()
            status = 0
        if self.stop_signal is not None:
            status = 128 + self.stop_signal
        if self.audit is not None:
            self.audit.record("stop", status=status, signal=self.stop_signal)
            self.audit.close()
        for handler in logging.getLogger().handlers:
            handler.flush()
        return status

    async def _shut_down(self) -> None:
        for server in self.websocket_servers:
            server.close()
        await self.publishing.close()
        if self.control is not None:
            self.control.close()
        await asyncio.gather(
            *(s.stop("the console has ended") for s in self.services.values()),
            return_exceptions=True,
        )
        for task in self._tasks.values():
            task.cancel()
        for viewer in list(self.shared.guard.connections):  # those still in their handshake
            viewer.close("the server is stopping")
        self.shared.guard.plain.close()

    def stop(self, signum: int | None = None) -> None:
        """End every console (a spawned child gets SIGHUP); ``wait()`` then finishes,
        returning 128 + ``signum`` when a signal asked for it."""
        if signum is not None and self.stop_signal is None:
            log.warning("stopping on %s", signal.Signals(signum).name)
            self.stop_signal = signum
        if self.config.single:
            for service in self.services.values():
                service.console.close()
        self._stopped.set()


def _no_console() -> asyncio.Protocol:  # pragma: no cover - the route always replaces it
    raise RuntimeError("a routed WebSocket has no default console")


def _fields(config: HostConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in HostConfig.__dataclass_fields__}


def _shared_fields(config: HostConfig) -> dict[str, Any]:
    return {k: v for k, v in _fields(config).items() if k not in ("consoles", "named_fds")}


def log_screen(service: ConsoleService) -> None:
    r = service.renderer
    log.info(
        "screen %dx%d cells, %dx%d pixels (font %d px, cell %dx%d)",
        r.cols,
        r.rows,
        r.width,
        r.height,
        service.config.font_size,
        r.cell_w,
        r.cell_h,
    )


def screen_path(state_dir: str, name: str, config: Config, single: bool) -> str:
    """``STATE_DIR/screens/NAME.json.gz``. On the one-console command line every console is
    named "console", so the name is made from what the console is (the socket, device or
    command) and where it listens: two vncterms never share a file, and one started again the
    same way finds its own."""
    if single:
        what = config.console.describe() if config.console is not None else config.command
        parts: list[object] = [what, [str(a) for a in config.listen]]
        if config.qmp is not None:  # a guest found through QMP (names without it unchanged)
            parts.append(config.qmp)
        key = json.dumps(parts)
        name = "console-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return os.path.join(state_dir, "screens", f"{name}.json.gz")
