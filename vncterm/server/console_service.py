"""One named console of a vncterm process: its backend, terminal, renderer and session, its own
listeners, its streams and proxied desktop, and what happens when its program ends (the
one-console command line ends with it; a host keeps it listed, restarting it when asked)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..config import Config, ListenAddress
from ..console.base import Console
from ..console.factory import make_console
from ..console.qmp_serial import QmpSerialConsole
from ..console.spawn import KILL_GRACE, READ_TIME_SHARED, SpawnConsole
from ..render.font import CellFont
from ..render.renderer import TerminalRenderer
from ..rfb import vencrypt
from ..rfb.connection import SecurityConfig
from ..terminal.emulator import Emulator
from .audit import AuditLog
from .desktop import DesktopLink
from .listeners import listen_on
from .logcontext import InConsole, console_context
from .outfile import AppendFile
from .paste_pacing import pace_for
from .qmp_streams import QmpLink
from .recording import Recording
from .screen_state import ScreenKeeper
from .security import Gatekeeper, anonymous_tls_context, tls_context
from .session import Session
from .tell_size import SizeTeller, compile_prompt
from .viewer import Viewer
from .websocket_listen import WebSocketSetup, wss_security
from .websocket_origin import OriginPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Waits before restarting a console whose program ended (``restart = true``): doubling from
#: the first to the last, back to the first once it ran for RESTART_STEADY seconds.
RESTART_FIRST = 1.0
RESTART_LAST = 60.0
RESTART_STEADY = 60.0
#: What the terminal forgets before a restarted program's first byte, so that the run that
#: ended cannot leave the next one its modes: DECSTR (character sets, cursor keys, keypad,
#: margins, attributes), mouse reporting (X10, 1000, 1002, 1003 and the 1005/1006/1015
#: encodings) and bracketed paste. The text stays for the viewers.
FRESH_TERMINAL = b"\x1b[!p" + b"".join(
    b"\x1b[?%dl" % mode for mode in (9, 1000, 1002, 1003, 1005, 1006, 1015, 2004)
)
#: Seconds the status row says that vncterm was not attached for a while (a restored screen).
RESTORED_NOTICE = 30.0


@dataclass
class Shared:
    """What every console of the process shares: who may connect (blocking, limits), the
    audit log."""

    guard: Gatekeeper
    audit: AuditLog | None


class ConsoleService:
    """A console and everything that serves it. ``start()`` listens and attaches the
    console; ``run()`` follows it until the end; ``stop()`` lets it all go."""

    def __init__(
        self,
        name: str,
        config: Config,
        shared: Shared,
        *,
        console: Console | None = None,
        single: bool = False,
        screen_path: str | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.shared = shared
        self.single = single
        #: Log records from this console's work carry its name (not on the one-console line).
        self.context = contextvars.copy_context() if single else console_context(name)
        self.console = console or self._make_console(config.cols, config.rows)
        self.emulator = Emulator(
            config.cols,
            config.rows,
            charset=config.charset,
            scrollback=config.scrollback,
            scrollback_memory=config.scrollback_memory,
        )
        font = CellFont(config.font_size, config.antialias)
        self.renderer = TerminalRenderer(
            font, config.cols, config.rows, bold_is_bright=config.bold_is_bright
        )
        #: Files of this console that could not be opened: (notice key, why).
        self._unopened: list[tuple[str, str]] = []
        self.log_file = self._optional_file(
            "console log",
            config.log_path,
            lambda path: AppendFile(path, "console log", on_notice=self._notice),
        )
        self.session = Session(
            self.console,
            self.emulator,
            self.renderer,
            config.name or self._default_name(),
            config.share_policy,
            stream_name=config.stream_name,
            log_file=self.log_file,
        )
        session = self.session
        self.recording = self._optional_file("recording", config.record_path, self._make_recording)
        session.recording = self.recording
        for key, why in self._unopened:
            session.notice(key, why, None)
        #: Keeps the terminal across vncterm restarts (None: not kept, e.g. tests' Server).
        self.screen_keeper = ScreenKeeper(screen_path, self.emulator) if screen_path else None
        if self.screen_keeper is not None:
            session.screen_changed = self.screen_keeper.changed
        session.follow_title = not config.name
        session.allow_resize = config.allow_resize
        session.allow_lossy = config.allow_lossy
        session.tight_gradient = config.tight_gradient
        session.max_captures = config.max_captures
        session.pacer.rate, session.pacer.line_delay = pace_for(config)
        session.presence.policy, session.presence.idle = config.input_policy, config.input_idle
        session.presence.audit = shared.audit
        if config.tell_size and not self.console.can_resize:
            session.size_teller = SizeTeller(
                self.emulator,
                lambda data: self.session.console.write(data),
                compile_prompt(config.tell_size_prompt),
                audit=shared.audit,
                mark=session.mark,
            )
        session.max_width, session.max_height = config.max_framebuffer
        # DECCOLM (80/132 columns) resizes only where the program can be told
        self.emulator.allow_column_mode = session.can_resize
        self.emulator.window_ops = config.window_ops
        self.emulator.set_cell_pixels(self.renderer.cell_w, self.renderer.cell_h)
        self.security = security_config(config)
        #: WebSocket sniffing on this console's ports (and, on the one-console command line,
        #: its ``--websocket`` listeners).
        self.websocket = WebSocketSetup(config, self.security, self._viewer)
        self.servers: list[asyncio.AbstractServer] = []
        self.addresses: list[tuple[str, int] | str] = []
        self.desktop_link: DesktopLink | None = None
        #: The guest's QMP socket (``--qmp``): its chardevs as streams.
        self.qmp: QmpLink | None = None
        #: "starting", "running", "exited N", "restarting", "failed: why", "stopped".
        self.state = "starting"
        self.exit_status: int | None = None
        self._stopping = False
        self._started_at = 0.0

    def _default_name(self) -> str:
        host = socket.gethostname()
        if not self.single:
            return f"{self.name} on {host}"
        spec = self.config.console
        if spec is not None:
            what = spec.describe()
        elif self.config.command:
            what = os.path.basename(self.config.command[0])
        else:
            what = f"QEMU {self.config.qmp}"
        return f"{what} on {host}"

    def _make_console(self, cols: int, rows: int) -> Console:
        c = self.config
        if c.qmp is not None and c.console is None:
            return QmpSerialConsole(c.qmp)
        console = make_console(c.console, c.command, cols, rows)
        if not self.single and isinstance(console, SpawnConsole):
            console.read_time = READ_TIME_SHARED  # the loop is shared with other consoles
        return console

    def _optional_file(self, what: str, path: str | None, open_: Callable[[str], T]) -> T | None:
        """A file the console writes (its log, its recording). On a host, one that cannot be
        opened leaves the console going without it, saying why (logged once with the console's
        name, and on its status row); the one-console command line refuses to start."""
        if not path:
            return None
        try:
            return open_(path)
        except OSError as e:
            if self.single:
                raise
            why = f"{what} {path}: cannot open: {e.strerror or e}"
            self.context.run(log.error, "%s", why)
            self._unopened.append((what, why))
            return None

    def _make_recording(self, path: str) -> Recording:
        c = self.config
        return Recording(
            path,
            c.cols,
            c.rows,
            c.name or self.session.name,
            charset=c.charset,
            record_input=c.record_input,
            max_size=c.record_max_size,
            keep=c.record_keep,
            on_notice=self._notice,
        )

    def _restore_screen(self) -> None:
        """The terminal as the last vncterm left it, with a line saying when nobody watched the
        console (in the scrollback, on the status row, in the recording)."""
        if self.screen_keeper is None:
            return
        saved = self.screen_keeper.restore()
        if saved is None:
            return
        title = self.emulator.take_title()
        if title and self.session.follow_title:
            self.session.set_name(title)
        since, until = _when(saved.saved_at), _when(time.time())
        text = (
            f"vncterm was not attached from {since} to {until}: console output in that time "
            "may be lost"
        )
        log.info("screen restored from %s; %s", self.screen_keeper.path, text)
        self.emulator.add_note(f"[vncterm] {text}")
        self.session.mark(text)
        if self.recording is not None:  # a player starts from the restored screen too
            self.session.stages.run("record", self.recording.drawn, self.emulator.paint())
        self.session.notice("restored", text, RESTORED_NOTICE)

    def _notice(self, key: str, text: str, ttl: float | None) -> None:
        """A log file's trouble, shown on the status row."""
        self.session.notice(key, text, ttl)

    def _viewer(self, security: SecurityConfig) -> asyncio.Protocol:
        viewer = Viewer(self.session, security, self.shared.guard)
        viewer.updates.keepalive = self.config.keepalive
        return viewer

    # -- starting --------------------------------------------------------------------------------

    async def listen(self, addresses: list[ListenAddress]) -> None:
        """Accept viewers on ``addresses`` (WebSocket sniffed unless turned off) and on the
        one-console command line's ``--websocket`` listeners. OSError when one cannot."""
        servers, bound = await self.context.run(
            asyncio.ensure_future, listen_on(addresses, self.websocket.vnc_factory())
        )
        self.servers += servers
        self.addresses += bound
        if self._stopping:  # removed while it was being added: listen no more
            self.stop_listening()
            return
        if self.single:
            self.servers += await self.context.run(asyncio.ensure_future, self.websocket.start())

    async def start(self) -> None:
        """Attach the console (a failure to start is the console's state, not an exception),
        its streams and its desktop."""
        await self.context.run(asyncio.ensure_future, self._start())

    async def _start(self) -> None:
        self._restore_screen()
        await self._start_console()
        if self._stopping:
            return
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
                audit=self.shared.audit,
            )
            await self.desktop_link.start()
        self.session.streams.availability_changed(cfg.stream_name)
        if cfg.qmp is not None:
            self.qmp = QmpLink(cfg.qmp, self.session, lambda: self.console, cfg.console)
            self.qmp.start()
        for stream_name, spec in cfg.streams:
            backend = make_console(spec, [], cfg.cols, cfg.rows)
            await self.session.add_stream(stream_name, backend)

    async def _start_console(self) -> bool:
        session = self.session
        if self._stopping:  # removed while it was being added: start no program
            return False
        try:
            await self.console.start(session.on_console_data, session.on_console_status)
        except Exception as e:  # a command that cannot run, a device that cannot open
            if self.single:
                raise
            why = str(e)
            if isinstance(e, OSError) and e.strerror:
                why = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
            self.state = f"failed: {why}"
            log.error("console cannot start: %s", why)
            session.notice("console", f"console cannot start: {why}", None)
            return False
        if self._stopping:  # stopped while it started: let the program go too
            self.console.close()
            return False
        self.state = "running"
        self._started_at = time.monotonic()
        return True

    # -- running ---------------------------------------------------------------------------------

    async def run(self) -> int:
        """Follow the console to its end. The one-console command line then shuts everything
        down and returns the status; a host's console stays, restarted when configured."""
        return await self.context.run(asyncio.ensure_future, self._run())

    async def _run(self) -> int:
        delay = RESTART_FIRST
        running = self.state == "running"
        while True:
            if running:
                status = await self.console.wait_closed()
                self.exit_status = status
                log.info("console ended with status %d", status)
                if self.single or self._stopping:
                    return status
                if time.monotonic() - self._started_at >= RESTART_STEADY:
                    delay = RESTART_FIRST
            if self._stopping:
                return self.exit_status or 0
            ended = f"console ended (status {self.exit_status})" if running else "console failed"
            if not self.config.restart:
                if running:
                    self.state = f"exited {self.exit_status}"
                    self.session.notice("console", ended, None)
                    self.console.close()
                return self.exit_status or 0
            self.state = "restarting"
            self.session.notice("console", f"{ended}: restarting in {delay:g} s", None)
            self.console.close()
            await asyncio.sleep(delay)
            if self._stopping:
                return self.exit_status or 0
            delay = min(RESTART_LAST, delay * 2)
            # at the terminal's size now: a viewer may have resized it
            self.console = self._make_console(self.emulator.cols, self.emulator.rows)
            self.session.set_console(self.console)
            self._fresh_terminal()
            running = await self._start_console()
            if running:
                self.session.notice("console", "console restarted", 5.0)
                self.session.mark("console restarted")

    def _fresh_terminal(self) -> None:
        """Before a restarted program: the terminal without the modes the last run left on;
        the recording and the kept screen follow."""
        session = self.session
        session.stages.run("terminal", self.emulator.feed, FRESH_TERMINAL)
        if self.recording is not None:  # a player resets there too
            session.stages.run("record", self.recording.output, FRESH_TERMINAL)
        if session.screen_changed is not None:
            session.stages.run("screen state", session.screen_changed)

    # -- WebSocket by name -----------------------------------------------------------------------

    def websocket_route(self, tls: bool) -> tuple[Callable[[], asyncio.Protocol], OriginPolicy]:
        """What the shared WebSocket listener runs for ``/NAME``: this console's viewer (inside
        ``wss``, the security ``wss_security`` gives) and its origin policy."""
        security = wss_security(self.security) if tls else self.security

        def make() -> asyncio.Protocol:
            return InConsole(self._viewer(security), self.name)

        return make, self.websocket.policy

    # -- listing ---------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """One console for ``vncterm --list``."""
        return {
            "name": self.name,
            "ports": [a[1] for a in self.addresses if isinstance(a, tuple)],
            "listen": [a if isinstance(a, str) else f"{a[0]}:{a[1]}" for a in self.addresses],
            "websocket": f"/{self.name}",
            "streams": self.session.streams.available_names(),
            "viewers": len(self.session.viewers),
            "status": self.state,
            "title": self.session.name,
        }

    # -- stopping --------------------------------------------------------------------------------

    def stop_listening(self) -> None:
        for server in self.servers:
            server.close()
        self.servers = []

    async def stop(self, reason: str = "the console has ended", final: bool = True) -> None:
        """Stop listening, give viewers the last screen (``final``), close them and the
        console, its streams, its desktop and its log (logged under the console's name)."""
        await self.context.run(asyncio.ensure_future, self._stop(reason, final))

    async def _stop(self, reason: str, final: bool) -> None:
        self._stopping = True
        self.stop_listening()
        if self.desktop_link is not None:
            await self.desktop_link.close()
        if self.qmp is not None:
            self.qmp.close()
        if final:
            await self.session.final_updates(timeout=1.0)
        for viewer in list(self.session.viewers):
            viewer.close(reason)
        self.session.close()
        for peer in list(self.shared.guard.connections):  # those still in their handshake
            if getattr(peer, "session", None) is self.session:
                peer.close("the server is stopping")
        self.console.close()
        with contextlib.suppress(TimeoutError):  # a program that ignores SIGHUP: SIGKILL
            await asyncio.wait_for(self.console.gone(), KILL_GRACE + 1.0)
        if self.screen_keeper is not None:
            self.screen_keeper.close()
        if self.log_file is not None:
            self.log_file.close()
        if self.recording is not None:
            self.recording.close()
        for addr in self.config.listen:
            if addr.path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(addr.path)
        if self.state in ("running", "starting", "restarting"):
            self.state = "stopped"


def _when(wall: float) -> str:
    """A wall-clock time as people read it in a marker (UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(wall))


def security_config(config: Config) -> SecurityConfig:
    """The RFB security types a console offers (section 7.1.2), from its options."""
    return SecurityConfig(
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
