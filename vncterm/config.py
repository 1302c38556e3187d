"""The validated configuration every layer reads (built by the CLI or by tests)."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ConfigError
from .users import PlainUser


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where to accept viewers: a TCP host and port, a unix socket path, or a listening socket
    inherited as a file descriptor (systemd socket activation)."""

    host: str = "127.0.0.1"
    port: int = 5900
    path: str | None = None
    fd: int | None = None

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        """``HOST:PORT``, ``[IPV6]:PORT``, ``:PORT`` (loopback) or ``unix:PATH``."""
        if text.startswith("unix:"):
            if len(text) == 5:
                raise ConfigError("unix: needs a path")
            return cls(path=text[5:])
        if text.startswith("fd:"):
            if not text[3:].isdigit():
                raise ConfigError(f"bad listen address {text!r}: use fd:N (e.g. fd:3)")
            return cls(fd=int(text[3:]))
        if text.startswith("["):
            host, sep, port = text[1:].partition("]:")
            if not sep:
                raise ConfigError(f"bad listen address {text!r}: use [ADDR]:PORT")
        else:
            host, sep, port = text.rpartition(":")
            if not sep:
                raise ConfigError(f"bad listen address {text!r}: use HOST:PORT or unix:PATH")
        try:
            number = int(port)
        except ValueError:
            raise ConfigError(f"bad port in listen address {text!r}") from None
        if not 0 <= number <= 65535:
            raise ConfigError(f"port {number} out of range")
        return cls(host=host or "127.0.0.1", port=number)

    @property
    def is_local(self) -> bool:
        """True for unix sockets and loopback addresses (reachable only from this machine)."""
        if self.path is not None:
            return True
        if self.fd is not None:
            return self._fd_is_local()
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def _fd_is_local(self) -> bool:
        assert self.fd is not None
        try:
            sock = socket.socket(fileno=os.dup(self.fd))
        except OSError:
            return False
        with sock:
            if sock.family == socket.AF_UNIX:
                return True
            try:
                return ipaddress.ip_address(sock.getsockname()[0]).is_loopback
            except (OSError, ValueError):
                return False

    def __str__(self) -> str:
        if self.fd is not None:
            return f"fd:{self.fd}"
        if self.path is not None:
            return f"unix:{self.path}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ConsoleSpec:
    """Which console to attach: a command on a pty, a QEMU serial socket, a tty, or a pipe."""

    kind: str  # "spawn", "unix", "tcp", "tty" or "exec"
    target: str = ""  # socket path, device path or shell command
    host: str = ""
    port: int = 0
    telnet: bool = False
    baud: int | None = None

    @classmethod
    def parse_stream(cls, text: str) -> tuple[str, ConsoleSpec]:
        """``NAME=unix:PATH``, ``NAME=tcp:HOST:PORT`` or ``NAME=exec:CMD`` (``--stream``)."""
        name, sep, spec = text.partition("=")
        if not sep or not name:
            raise ConfigError(
                f"bad --stream {text!r}: use NAME=unix:PATH, NAME=tcp:HOST:PORT or NAME=exec:CMD"
            )
        kind, sep, rest = spec.partition(":")
        if not sep or not rest:
            raise ConfigError(f"bad --stream {text!r}: missing target after {kind!r}")
        if kind == "unix":
            return name, cls("unix", rest)
        if kind == "tcp":
            addr = ListenAddress.parse(rest)
            return name, cls("tcp", host=addr.host, port=addr.port)
        if kind == "exec":
            return name, cls("exec", rest)
        raise ConfigError(f"bad --stream {text!r}: kind must be unix, tcp or exec")

    @classmethod
    def parse_tty(cls, text: str) -> ConsoleSpec:
        """``PATH`` or ``PATH,baud=N`` (``--tty``)."""
        path, *opts = text.split(",")
        baud = None
        for opt in opts:
            key, _, value = opt.partition("=")
            if key != "baud" or not value.isdigit():
                raise ConfigError(f"bad --tty option {opt!r}: only baud=N is known")
            baud = int(value)
        return cls("tty", path, baud=baud)

    def describe(self) -> str:
        if self.kind == "tcp":
            return f"tcp:{self.host}:{self.port}"
        return f"{self.kind}:{self.target}"


SHARE_POLICIES = ("force-shared", "allow-exclusive")
#: The largest framebuffer a viewer may ask for by default (a 4K screen either way up; measured
#: +132 MB of RSS at 4096x4096 with a Raw viewer, +535 MB at 8192x8192), and the most
#: ``--max-framebuffer`` allows.
MAX_FRAMEBUFFER = (4096, 4096)
FRAMEBUFFER_CEILING = 8192


#: xterm's window operations by kind (``--window-ops``): size reports in characters and pixels
#: (``CSI 14/16/18/19 t``), the title reports (``CSI 20/21 t``), resizing (``CSI 8 ; rows ;
#: cols t``, where the console may be resized), the checksum of a rectangle (DECRQCRA).
WINDOW_OPS = ("size", "title", "resize", "checksum")
#: The title reports are off: they echo text a program set (an injection path when a
#: console is shared).
DEFAULT_WINDOW_OPS = frozenset({"size", "resize", "checksum"})


def parse_window_ops(text: str) -> frozenset[str]:
    """``--window-ops``: a comma-separated list of WINDOW_OPS, or ``all`` or ``none``."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    if names == {"all"}:
        return frozenset(WINDOW_OPS)
    if names == {"none"}:
        return frozenset()
    unknown = names - set(WINDOW_OPS)
    if unknown:
        raise ConfigError(
            f"--window-ops: unknown {', '.join(sorted(unknown))} "
            f"(choose from {', '.join(WINDOW_OPS)}, or all, or none)"
        )
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a vncterm server needs to run."""

    command: list[str]
    listen: list[ListenAddress] = field(default_factory=lambda: [ListenAddress()])
    password: bytes | None = None
    view_only_password: bytes | None = None
    name: str = ""
    cols: int = 80
    rows: int = 25
    font_size: int = 15
    antialias: bool = False
    share_policy: str = "force-shared"
    insecure: bool = False
    #: None: run ``command`` on a new pty.
    console: ConsoleSpec | None = None
    stream_name: str = "console"
    #: A QEMU's QMP socket: its chardevs become streams, its first serial the console.
    qmp: str | None = None
    log_path: str | None = None
    streams: list[tuple[str, ConsoleSpec]] = field(default_factory=list)
    #: A guest desktop to proxy: reverse connections accepted here ...
    reverse_listen: ListenAddress | None = None
    #: ... or a VNC server to connect to (HOST:PORT or unix:PATH).
    desktop: ListenAddress | None = None
    desktop_password: bytes | None = None
    #: The console's character set: utf-8, cp437 or latin-1.
    charset: str = "utf-8"
    #: Lines kept above the screen, shared by every viewer.
    scrollback: int = 10000
    #: Tight's gradient filter (noVNC decodes it only from 1.5.0).
    tight_gradient: bool = False
    #: Bold text in colours 0-7 drawn in 8-15, as xterm does (``--no-bold-bright``: not).
    bold_is_bright: bool = True
    #: Let viewers resize a console whose backend cannot tell the program (serial consoles).
    allow_resize: bool = False
    #: The window operations a program may use (WINDOW_OPS).
    window_ops: frozenset[str] = DEFAULT_WINDOW_OPS
    #: Allow lossy (JPEG) encodings for non-text content when a viewer asks for a quality.
    allow_lossy: bool = False
    #: VeNCrypt: X509 certificate chain and key (PEM), CA for client certificates.
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    #: VeNCrypt anonymous TLS sub-types (TLSNone/TLSVnc/TLSPlain; no protection against a
    #: man in the middle).
    tls_anon: bool = False
    #: X509Plain/TLSPlain users (from ``--plain-users``).
    plain_users: Mapping[str, PlainUser] | None = None
    #: JSON-lines audit log path, or "journal".
    audit_log: str | None = None
    #: Connections (in any state) at once; None: no limit.
    max_viewers: int | None = None
    #: A viewer whose send buffer stays full this long without draining is dropped.
    stuck_timeout: float = 20.0
    #: WebSocket (RFC 6455) for browsers, see vncterm.server.websocket: also on the ``listen``
    #: addresses after a short wait for the client's first bytes (``websocket_wait`` s) ...
    websocket_sniff: bool = True
    websocket_wait: float = 0.05
    #: ... and/or WebSocket-only listeners (``--websocket``), with TLS (wss) when asked.
    websocket: list[ListenAddress] = field(default_factory=list)
    websocket_tls: bool = False
    #: Origins allowed to open a WebSocket; empty: the default policy (``OriginPolicy``).
    websocket_origins: tuple[str, ...] = ()
    #: Limits on what viewers can make the server hold (``--max-captures``,
    #: ``--max-framebuffer``, ``--scrollback-memory``): see ``validate_limits``.
    max_captures: int = 16
    max_framebuffer: tuple[int, int] = MAX_FRAMEBUFFER
    scrollback_memory: int = 64 << 20
    #: Start the console again (with backoff) when its program ends; consoles of a host only.
    restart: bool = False
    #: An asciicast v2 recording of the console (``--record``): output, resizes, vncterm's
    #: events; input too with ``record_input``. It rotates past ``record_max_size`` bytes,
    #: keeping ``record_keep`` old files (FILE.1 the newest).
    record_path: str | None = None
    record_input: bool = False
    record_max_size: int = 64 << 20
    record_keep: int = 4
    #: Pastes typed at most ``paste_rate`` bytes a second with a pause of ``paste_line_delay``
    #: seconds after each line (0: at once); None: paced on a --tty only (``PASTE_TTY_*``).
    paste_rate: int | None = None
    paste_line_delay: float | None = None
    #: Who may type: "shared" (every viewer with control) or "one" (the first to type, until
    #: idle ``input_idle`` seconds).
    input_policy: str = "shared"
    input_idle: float = 5.0
    #: Type ``stty rows R cols C`` into a serial console after a resize, at a quiet prompt
    #: matching ``tell_size_prompt`` (needs ``allow_resize``).
    tell_size: bool = False
    tell_size_prompt: str = r"[$#>] ?$"
    #: Keep the terminal (screen, scrollback) in the state directory and show it again after
    #: vncterm restarts (``--no-restore-screen``: not).
    restore_screen: bool = True
    #: An empty FramebufferUpdate answers a request held this many seconds without an update
    #: (proxies cut silent connections); 0: off.
    keepalive: float = 30.0
    #: WebSocket Pings every this many seconds on an open WebSocket; 0: none.
    websocket_ping: float = 30.0
    #: A noVNC installation served over HTTP on the WebSocket listeners (``--web DIR``).
    web: str | None = None

    def validate(self) -> None:
        """Refuse configurations that cannot work or are unsafe."""
        if not self.command and self.console is None and self.qmp is None:
            raise ConfigError("no command to run")
        if self.qmp is not None and self.command and self.console is None:
            raise ConfigError("--qmp renders the guest's serial console: it takes no command")
        names = [self.stream_name] + [name for name, _ in self.streams]
        if len(set(names)) != len(names):
            raise ConfigError(f"stream names must be unique: {', '.join(names)}")
        if not (2 <= self.cols <= 1000 and 1 <= self.rows <= 500):
            raise ConfigError(f"geometry {self.cols}x{self.rows} out of range (2..1000 x 1..500)")
        if not 0 <= self.scrollback <= 1_000_000:
            raise ConfigError(f"scrollback {self.scrollback} out of range (0..1000000)")
        if not 6 <= self.font_size <= 72:
            raise ConfigError(f"font size {self.font_size} out of range (6..72)")
        if self.share_policy not in SHARE_POLICIES:
            raise ConfigError(f"share policy must be one of {', '.join(SHARE_POLICIES)}")
        if self.tls_key is not None and self.tls_cert is None:
            raise ConfigError("--tls-key needs --tls-cert")
        if self.tls_ca is not None and self.tls_cert is None:
            raise ConfigError("--tls-ca needs --tls-cert")
        if self.plain_users is not None and self.tls_cert is None and not self.tls_anon:
            raise ConfigError("--plain-users needs TLS: --tls-cert (or --tls-anon)")
        if self.max_viewers is not None and self.max_viewers < 1:
            raise ConfigError("--max-viewers must be at least 1")
        if self.stuck_timeout <= 0:
            raise ConfigError("--stuck-timeout must be positive")
        self.validate_limits()
        authenticated = (
            self.password is not None
            or self.view_only_password is not None
            or self.plain_users is not None
            or (self.tls_cert is not None and self.tls_ca is not None)
        )
        if self.websocket_tls and self.tls_cert is None:
            raise ConfigError("--websocket-tls needs --tls-cert")
        if self.websocket_tls and not self.websocket:
            raise ConfigError("--websocket-tls needs a --websocket listener")
        if not 0 < self.websocket_wait <= 1:
            raise ConfigError("--websocket-wait must be between 1 and 1000 ms")
        for option, seconds in (
            ("keepalive", self.keepalive),
            ("websocket-ping", self.websocket_ping),
        ):
            if seconds != 0 and not 0.1 <= seconds <= 3600:
                raise ConfigError(f"--{option} must be 0 (off) or between 0.1 and 3600 seconds")
        if self.web is not None and not os.path.isdir(self.web):
            raise ConfigError(f"--web {self.web}: not a folder (e.g. /usr/share/novnc)")
        if (
            self.reverse_listen is not None
            and not self.reverse_listen.is_local
            and not self.insecure
        ):
            raise ConfigError(
                f"refusing to accept desktops on {self.reverse_listen} without --insecure: "
                "nothing proves that a desktop connecting there is the real one (RFB "
                "authenticates viewers, not desktops), and whoever connects first is shown to "
                "viewers and gets their keys; listen on loopback (e.g. through an SSH tunnel), "
                "use --desktop to connect out, or add --insecure"
            )
        exposed = [a for a in [*self.listen, *self.websocket] if not a.is_local]
        if exposed and not authenticated and not self.insecure:
            raise ConfigError(
                f"refusing to listen on {exposed[0]} without --password-file, --plain-users "
                "or --tls-ca client certificates (anyone who reaches it gets the console); "
                "add --insecure to do it anyway"
            )

    def validate_limits(self) -> None:
        """The caps on what viewers can make the server hold."""
        if not 1 <= self.max_captures <= 1024:
            raise ConfigError("--max-captures must be between 1 and 1024")
        w, h = self.max_framebuffer
        if not (64 <= w <= FRAMEBUFFER_CEILING and 64 <= h <= FRAMEBUFFER_CEILING):
            raise ConfigError(
                f"--max-framebuffer {w}x{h} out of range (64..{FRAMEBUFFER_CEILING} each way)"
            )
        if not 1 << 20 <= self.scrollback_memory <= 16 << 30:
            raise ConfigError("--scrollback-memory must be between 1 MiB and 16 GiB")
        if not 4096 <= self.record_max_size <= 1 << 40:
            raise ConfigError("--record-max-size must be between 4 KiB and 1 TiB")
        if self.paste_rate is not None and not 0 <= self.paste_rate <= 10_000_000:
            raise ConfigError("--paste-rate must be between 0 and 10000000")
        if self.paste_line_delay is not None and not 0 <= self.paste_line_delay <= 10:
            raise ConfigError("--paste-line-delay must be between 0 and 10000 ms")
        if self.tell_size and not self.allow_resize:
            raise ConfigError("--tell-size needs --allow-resize")
        if len(self.tell_size_prompt) > 200:
            raise ConfigError("--tell-size-prompt: longer than 200 characters")
        try:
            re.compile(self.tell_size_prompt)
        except re.error as e:
            raise ConfigError(f"--tell-size-prompt: not a regular expression: {e}") from None
        if self.input_policy not in ("shared", "one"):
            raise ConfigError("--input must be shared or one")
        if not 0 < self.input_idle <= 86400:
            raise ConfigError("--input-idle must be between 0 and 86400 seconds")
        if not 0 <= self.record_keep <= 100:
            raise ConfigError("--record-keep must be between 0 and 100")
        if self.record_input and self.record_path is None:
            raise ConfigError("--record-input needs --record")


#: Ports handed out to consoles that name none (``--port-range``), kept per console name.
DEFAULT_PORT_RANGE = (5900, 6199)


def default_state_dir() -> str:
    """Where per-console state lives: systemd's ``STATE_DIRECTORY`` under a unit, the system's
    ``/var/lib/vncterm`` for root, else ``$XDG_STATE_HOME/vncterm`` (``~/.local/state``)."""
    given = os.environ.get("STATE_DIRECTORY")
    if given:
        return given.split(":")[0]
    if os.geteuid() == 0:
        return "/var/lib/vncterm"
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "vncterm")


@dataclass(frozen=True, slots=True)
class PublishConfig:
    """Where a host's consoles are published for websockify's token plugins, and their tokens
    (``--publish-tokens``, ``--publish-redis``, ``--token-names``, ...; see server.publish)."""

    #: The console name is the token (else a random token kept per console).
    token_names: bool = False
    #: websockify ``TokenFile`` directory: one file ``HOST_ID.CONSOLE`` per console.
    token_dir: str | None = None
    #: websockify ``TokenRedis``: ``HOST[:PORT[/DB]]``, its password, a key prefix.
    redis: str | None = None
    redis_password: str | None = None
    redis_namespace: str = ""
    #: Seconds a Redis key lives unless vncterm refreshes it.
    expiry: float = 60.0
    #: The host other machines reach the consoles at (default: the address listened on).
    advertise: str | None = None
    #: Names this host's token files (default: the host name).
    host_id: str = field(default_factory=socket.gethostname)

    def validate(self) -> None:
        if not 3 <= self.expiry <= 86400:
            raise ConfigError("--publish-expiry must be between 3 and 86400 seconds")
        if self.redis_namespace and not all(
            c.isascii() and c.isprintable() and c != " " for c in self.redis_namespace
        ):
            raise ConfigError("--publish-redis-namespace: printable ASCII without spaces")
        host_id = self.host_id
        if not (
            0 < len(host_id) <= 253
            and host_id[0] != "."
            and all(c.isascii() and (c.isalnum() or c in "._-") for c in host_id)
        ):
            raise ConfigError(f"--host-id {host_id!r}: use letters, digits, '.', '_' and '-'")


@dataclass(frozen=True, slots=True)
class HostConfig:
    """One vncterm process: its consoles by name (each a :class:`Config`; in a config file one
    ``[console.NAME]`` table) and what they share (the ``[vncterm]`` table).

    The process-wide fields of each console's Config (``audit_log``, ``max_viewers``,
    ``stuck_timeout``, ``websocket*``) are ignored in favour of these.
    """

    consoles: dict[str, Config]
    #: The one-console command line: vncterm exits with the console's status (127 when its
    #: command does not exist). Else consoles outlive their programs.
    single: bool = False
    #: The file the consoles came from (re-read on SIGHUP), None for the command line.
    config_path: str | None = None
    state_dir: str = field(default_factory=default_state_dir)
    #: Ports for consoles without ``listen`` (inclusive), bound on ``listen_host``.
    port_range: tuple[int, int] = DEFAULT_PORT_RANGE
    listen_host: str = "127.0.0.1"
    audit_log: str | None = None
    max_viewers: int | None = None
    stuck_timeout: float = 20.0
    #: The shared WebSocket listeners: ``/NAME`` reaches console NAME (any path when there is
    #: one console).
    websocket: list[ListenAddress] = field(default_factory=list)
    websocket_tls: bool = False
    #: Certificate for ``websocket_tls`` (PEM chain and key).
    tls_cert: str | None = None
    tls_key: str | None = None
    websocket_wait: float = 0.05
    websocket_origins: tuple[str, ...] = ()
    #: WebSocket Pings on the shared listeners every this many seconds (0: none).
    websocket_ping: float = 30.0
    #: A noVNC installation served on the shared listeners (``--web DIR``).
    web: str | None = None
    #: Allow listening beyond loopback without authentication (shared WebSocket listeners).
    insecure: bool = False
    #: Inherited listening sockets by systemd ``FileDescriptorName=``: a console's name, or
    #: ``websocket`` for the shared WebSocket listener.
    named_fds: dict[str, list[int]] = field(default_factory=dict)
    #: Process-wide options given on the command line beside ``--config`` (parsed option
    #: values by argparse dest): they win over the file's ``[vncterm]`` table, on every reload.
    overrides: dict[str, object] = field(default_factory=dict)
    #: Consoles found through libvirt (``--libvirt URI``): every running domain, configured
    #: as ``console_template`` (defaults when None); ``libvirt_force_console`` takes a pty
    #: console over from another holder (``virsh console``).
    libvirt: str | None = None
    libvirt_force_console: bool = False
    console_template: Config | None = None
    #: Tokens and where consoles are published (websockify token plugins).
    publish: PublishConfig = field(default_factory=PublishConfig)

    @classmethod
    def single_console(cls, config: Config, name: str = "console", **host: object) -> HostConfig:
        """Today's command line: one console named ``name``; its process-wide options become the
        host's."""
        return cls(
            consoles={name: config},
            single=True,
            audit_log=config.audit_log,
            max_viewers=config.max_viewers,
            stuck_timeout=config.stuck_timeout,
            **host,  # type: ignore[arg-type]
        )

    def validate(self) -> None:
        """Each console's own checks, then the shared ones, naming the console at fault."""
        if not self.consoles and self.config_path is None and self.libvirt is None:
            raise ConfigError("no console to serve")
        for name, console in self.consoles.items():
            if not valid_console_name(name):
                raise ConfigError(
                    f"console name {name!r}: use letters, digits, '.', '_' and '-' (at most 64)"
                )
            try:
                console.validate()
            except ConfigError as e:
                raise ConfigError(f"[console.{name}]: {e}") from None
        low, high = self.port_range
        if not 1 <= low <= high <= 65535:
            raise ConfigError(f"port range {low}-{high} out of range (1..65535)")
        if self.max_viewers is not None and self.max_viewers < 1:
            raise ConfigError("max-viewers must be at least 1")
        if self.websocket_tls and self.tls_cert is None:
            raise ConfigError("websocket-tls needs tls-cert")
        if self.websocket_tls and not self.websocket:
            raise ConfigError("websocket-tls needs a websocket listener")
        self.publish.validate()


def valid_console_name(name: str) -> bool:
    """Console names appear in URLs (``/NAME``), file names and tokens."""
    return (
        0 < len(name) <= 64
        and name[0] not in ".-"
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    )
