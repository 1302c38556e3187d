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


SHARE_POLICIES = ("force-shared", "allow-exclusive")


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a vncterm server needs to run."""

    command: list[str]
    listen: list[ListenAddress] = field(default_factory=lambda: [ListenAddress()])
    password: bytes | None = None
    name: str = ""
    cols: int = 80
    rows: int = 25
    font_size: int = 15
    antialias: bool = False
    share_policy: str = "force-shared"
    insecure: bool = False

    def validate(self) -> None:
        """Refuse configurations that cannot work or are unsafe."""
        if not self.command:
            raise ConfigError("no command to run")
        if not (2 <= self.cols <= 1000 and 1 <= self.rows <= 500):
            raise ConfigError(f"geometry {self.cols}x{self.rows} out of range (2..1000 x 1..500)")
        if not 6 <= self.font_size <= 72:
            raise ConfigError(f"font size {self.font_size} out of range (6..72)")
        if self.share_policy not in SHARE_POLICIES:
            raise ConfigError(f"share policy must be one of {', '.join(SHARE_POLICIES)}")
        exposed = [a for a in self.listen if not a.is_local]
        if exposed and self.password is None and not self.insecure:
            raise ConfigError(
                f"refusing to listen on {exposed[0]} without --password-file "
                "(anyone who reaches it gets the console); add --insecure to do it anyway"
            )
