"""The validated configuration every layer reads (built by the CLI or by tests)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where to accept viewers: a TCP host and port, or a unix socket path."""

    host: str = "127.0.0.1"
    port: int = 5900
    path: str | None = None

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        """``HOST:PORT``, ``[IPV6]:PORT``, ``:PORT`` (loopback) or ``unix:PATH``."""
        if text.startswith("unix:"):
            if len(text) == 5:
                raise ConfigError("unix: needs a path")
            return cls(path=text[5:])
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
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
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
            raise ConfigError(f"bad --stream {text!r}: use NAME=unix:PATH, NAME=tcp:HOST:PORT "
                              "or NAME=exec:CMD")
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
    log_path: str | None = None
    streams: list[tuple[str, ConsoleSpec]] = field(default_factory=list)

    def validate(self) -> None:
        """Refuse configurations that cannot work or are unsafe."""
        if not self.command and self.console is None:
            raise ConfigError("no command to run")
        names = [self.stream_name] + [name for name, _ in self.streams]
        if len(set(names)) != len(names):
            raise ConfigError(f"stream names must be unique: {', '.join(names)}")
        if not (2 <= self.cols <= 1000 and 1 <= self.rows <= 500):
            raise ConfigError(f"geometry {self.cols}x{self.rows} out of range (2..1000 x 1..500)")
        if not 6 <= self.font_size <= 72:
            raise ConfigError(f"font size {self.font_size} out of range (6..72)")
        if self.share_policy not in SHARE_POLICIES:
            raise ConfigError(f"share policy must be one of {', '.join(SHARE_POLICIES)}")
        exposed = [a for a in self.listen if not a.is_local]
        if exposed and self.password is None and self.view_only_password is None \
                and not self.insecure:
            raise ConfigError(
                f"refusing to listen on {exposed[0]} without --password-file "
                "(anyone who reaches it gets the console); add --insecure to do it anyway"
            )
