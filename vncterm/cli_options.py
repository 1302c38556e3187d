"""The options of the ``vncterm`` command (its argparse parser): one place for their names,
defaults and help, read by :mod:`vncterm.cli`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .config import SHARE_POLICIES
from .errors import ConfigError

#: Options of the whole process: the ``[vncterm]`` table of a config file (``tls-cert`` and
#: ``tls-key`` are also per console: VeNCrypt there, wss here).
PROCESS_KEYS = frozenset(
    {
        "audit-log",
        "max-viewers",
        "stuck-timeout",
        "port-range",
        "listen-host",
        "websocket",
        "websocket-tls",
        "websocket-wait",
        "websocket-origin",
        "state-dir",
        "insecure",
        "libvirt",
        "libvirt-force-console",
        "token-names",
        "publish-tokens",
        "publish-redis",
        "publish-redis-password-file",
        "publish-redis-namespace",
        "publish-expiry",
        "advertise",
        "host-id",
        "websocket-ping",
        "web",
    }
)
SHARED_KEYS = frozenset({"tls-cert", "tls-key"})
#: Options of the command line itself, never keys of a config file.
COMMAND_LINE_ONLY = frozenset(
    {"config", "console-name", "list", "json", "hash-password", "view-only", "verbose", "version"}
)


def _record(namespace: argparse.Namespace, dest: str) -> bool:
    """Note that ``dest`` was given; True when it already was."""
    given: set[str] = namespace.__dict__.setdefault("_given", set())
    seen = dest in given
    given.add(dest)
    return seen


def given_options(args: argparse.Namespace) -> set[str]:
    """The dests of the options actually given (not defaulted), the command excluded."""
    return set(getattr(args, "_given", set())) - {"command"}


class Once(argparse.Action):
    """An option that takes one value and makes no sense twice (``--unix A --unix B``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if _record(namespace, self.dest):
            raise argparse.ArgumentError(self, "given twice (it takes one value)")
        setattr(namespace, self.dest, values)


class OnceFlag(argparse.Action):
    """A flag (``store_true``) given at most once."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", False)
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if _record(namespace, self.dest):
            raise argparse.ArgumentError(self, "given twice")
        setattr(namespace, self.dest, True)


class OnceBool(argparse.BooleanOptionalAction):
    """``--x``/``--no-x``, one of them at most once."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if _record(namespace, self.dest):
            raise argparse.ArgumentError(self, "given twice")
        super().__call__(parser, namespace, values, option_string)


class Repeat(argparse.Action):
    """A repeatable option (``--listen``, ``--stream``): each value appended."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        _record(namespace, self.dest)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), values])


class RaisingParser(argparse.ArgumentParser):
    """A parser whose errors are ConfigErrors (config file tables), not usage and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def parse_geometry(text: str) -> tuple[int, int]:
    cols, sep, rows = text.lower().partition("x")
    if not sep or not cols.isdigit() or not rows.isdigit():
        raise ConfigError(f"bad geometry {text!r}: use COLSxROWS, e.g. 80x25")
    return int(cols), int(rows)


def parse_port_range(text: str) -> tuple[int, int]:
    """``LOW-HIGH`` (``--port-range``)."""
    low, sep, high = text.partition("-")
    if not sep or not low.isdigit() or not high.isdigit():
        raise ConfigError(f"bad port range {text!r}: use LOW-HIGH, e.g. 5900-6199")
    return int(low), int(high)


def long_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each ``--long-option`` of ``parser`` by its name without the dashes (a config file key)."""
    return {
        o[2:]: action
        for action in parser._actions
        for o in action.option_strings
        if o.startswith("--") and not o.startswith("--no-")
    }


def build_parser(raising: bool = False) -> argparse.ArgumentParser:
    """The ``vncterm`` options; ``raising``: errors raise ConfigError instead of exiting."""
    p = (RaisingParser if raising else argparse.ArgumentParser)(
        prog="vncterm",
        description="A VNC server whose screen is a terminal: runs CMD (default: your shell) "
        "on a new pty and serves it to any VNC viewer.",
        epilog="Exit status: the command's own (128+N when signal N killed it); 128+N when "
        "SIGTERM/SIGINT stopped vncterm; 2 for a bad configuration; 127 when CMD is "
        "not found, 126 when it is not executable (both before listening); 1 when "
        "listening failed.",
    )
    # Every single-valued option is given at most once; --listen and the like append.
    p.register("action", None, Once)
    p.register("action", "store", Once)
    p.register("action", "store_true", OnceFlag)
    p.register("action", "append", Repeat)
    p.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="HOST:PORT, [IPV6]:PORT, unix:PATH or fd:N (a listening socket "
        "inherited as file descriptor N); repeatable; default 127.0.0.1:5900 "
        "(systemd's sockets under socket activation)",
    )
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="require VNC Authentication with the password on the file's first line",
    )
    p.add_argument(
        "--view-only-password-file",
        metavar="FILE",
        help="a second password for viewers that may watch but not type, paste, "
        "resize or use streams",
    )
    p.add_argument("--name", default="", help='desktop name (default "CMD on HOSTNAME")')
    p.add_argument(
        "--geometry", default="80x25", metavar="COLSxROWS", help="terminal size (default 80x25)"
    )
    p.add_argument(
        "--font-size",
        type=int,
        default=15,
        metavar="PX",
        help="font size in pixels (default 15: cells of 9x18 pixels)",
    )
    p.add_argument(
        "--scrollback",
        type=int,
        default=10000,
        metavar="LINES",
        help="lines kept above the screen (Shift+PgUp, the wheel); default 10000",
    )
    p.add_argument(
        "--antialias",
        action="store_true",
        help="antialiased glyphs (more colours per cell: more bytes on the wire)",
    )
    p.add_argument(
        "--allow-resize",
        action="store_true",
        help="let viewers resize a serial console's terminal (the guest is not told)",
    )
    p.add_argument(
        "--window-ops",
        metavar="LIST",
        help="xterm window operations a program may use: size,title,resize,checksum, all or "
        "none; default size,resize,checksum (no title reports)",
    )
    p.add_argument(
        "--allow-lossy",
        action="store_true",
        help="JPEG for non-text areas when a viewer asks for a quality level",
    )
    p.add_argument(
        "--tight-gradient",
        action="store_true",
        help="Tight's gradient filter for photo-like areas (noVNC decodes it from 1.5)",
    )
    p.add_argument(
        "--share-policy",
        choices=SHARE_POLICIES,
        default="force-shared",
        help="force-shared (default): a viewer asking for exclusive access never drops others",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow listening beyond loopback without a password (and accepting "
        "desktops beyond loopback)",
    )
    d = p.add_argument_group(
        "a guest's own desktop, shown instead of the console while it is up "
        "(Ctrl-Alt-1 console, Ctrl-Alt-2 desktop)"
    )
    d.add_argument(
        "--reverse-listen",
        metavar="HOST:PORT",
        help="accept reverse connections from the guest's VNC server "
        "(vncconfig -connect, x11vnc -connect), one at a time; beyond "
        "loopback only with --insecure",
    )
    d.add_argument(
        "--desktop",
        metavar="HOST:PORT|unix:PATH",
        help="connect to a VNC server (e.g. QEMU's own VNC display)",
    )
    d.add_argument("--desktop-password-file", metavar="FILE", help="the desktop's VNC password")
    c = p.add_argument_group("consoles (default: a command on a new pty)")
    c.add_argument(
        "--unix", metavar="PATH", help="a QEMU serial socket: -serial unix:PATH,server=on,wait=off"
    )
    c.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="a QEMU serial socket: -serial tcp:HOST:PORT,server=on,wait=off",
    )
    c.add_argument(
        "--telnet",
        action="store_true",
        help="the --unix/--tcp chardev has telnet=on (negotiation stripped; BREAK works)",
    )
    c.add_argument("--tty", metavar="PATH[,baud=N]", help="an existing tty or serial device")
    c.add_argument(
        "--qmp",
        metavar="PATH",
        help="a QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off): its first serial "
        "chardev is rendered (unless --unix/--tcp names one), every other socket chardev "
        "is a stream, followed as devices come and go; BREAK through QMP",
    )
    c.add_argument(
        "--charset",
        choices=("utf-8", "cp437", "latin-1"),
        default="utf-8",
        help="what the console sends: UTF-8 (default), or CP437/Latin-1 (boot loaders, BIOS)",
    )
    c.add_argument(
        "--bold-bright",
        action=OnceBool,
        default=True,
        help="draw bold text in colours 0-7 in their bright versions 8-15 too, as "
        "xterm does (default: on)",
    )
    c.add_argument("--log", metavar="FILE", help="append every console byte to FILE")
    c.add_argument(
        "--record",
        metavar="FILE",
        help="record the console as an asciicast v2 file (asciinema play/cat): output, "
        "resizes, and markers for viewers and reconnections; created 0600",
    )
    c.add_argument(
        "--record-input",
        action="store_true",
        help="also record what viewers type and paste: the recording then holds "
        "PASSWORDS typed at prompts",
    )
    c.add_argument(
        "--record-max-size",
        type=float,
        default=64,
        metavar="MIB",
        help="start a new recording past this size, the old one moving to FILE.1 (default 64)",
    )
    c.add_argument(
        "--record-keep",
        type=int,
        default=4,
        metavar="N",
        help="old recordings kept (FILE.1 .. FILE.N; default 4)",
    )
    c.add_argument(
        "--paste-rate",
        type=int,
        metavar="CPS",
        help="type pastes at most CPS bytes a second (0: at once; default 1000 on --tty, "
        "at once elsewhere: a pty and QEMU's sockets take input only as it is read)",
    )
    c.add_argument(
        "--paste-line-delay",
        type=float,
        metavar="MS",
        help="pause MS milliseconds after each pasted line (default 20 on --tty, else 0)",
    )
    c.add_argument(
        "--input",
        choices=("shared", "one"),
        default="shared",
        help="shared: every viewer with control types (default); one: the first viewer to "
        "type holds the keyboard until idle --input-idle seconds (Ctrl+Shift+L takes it)",
    )
    c.add_argument(
        "--input-idle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long a typist holds the keyboard (--input one) or counts as typing (default 5)",
    )
    c.add_argument(
        "--tell-size",
        action="store_true",
        help="(with --allow-resize) after a resize of a serial console, type "
        "'stty rows R cols C' at the guest's prompt once it is quiet (the one input vncterm "
        "makes itself; in the audit log)",
    )
    c.add_argument(
        "--tell-size-prompt",
        default=r"[$#>] ?$",
        metavar="REGEX",
        help="what the text left of the cursor must end with for --tell-size to type "
        "(default '[$#>] ?$')",
    )
    c.add_argument(
        "--restore-screen",
        action=OnceBool,
        default=True,
        help="keep the screen and scrollback in the state directory and show them again "
        "when vncterm restarts (default: on)",
    )
    c.add_argument(
        "--restart",
        action="store_true",
        help="(a console of --config) start it again, with backoff, when its program ends",
    )
    c.add_argument(
        "--stream-name",
        default="console",
        metavar="NAME",
        help="the console's name as a tunnelled stream (default console)",
    )
    c.add_argument(
        "--stream",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="an extra tunnelled stream, not rendered: NAME=unix:PATH, "
        "NAME=tcp:HOST:PORT or NAME=exec:CMD (repeatable)",
    )
    s = p.add_argument_group("security (VeNCrypt TLS, users, limits, audit)")
    s.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="offer VeNCrypt with this certificate chain (X509None/X509Vnc/X509Plain)",
    )
    s.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    s.add_argument("--tls-ca", metavar="PEM", help="require client certificates issued by this CA")
    s.add_argument(
        "--tls-anon",
        action="store_true",
        help="also offer anonymous TLS (TLSNone/TLSVnc/TLSPlain; no server identity)",
    )
    s.add_argument(
        "--plain-users",
        metavar="FILE",
        help="X509Plain users: NAME:HASH[:view-only] per line (see --hash-password)",
    )
    s.add_argument(
        "--hash-password",
        metavar="USER",
        help="print a --plain-users line for USER (password from stdin) and exit",
    )
    s.add_argument(
        "--view-only", action="store_true", help="with --hash-password: mark the user view-only"
    )
    s.add_argument(
        "--audit-log",
        metavar="FILE|journal",
        help="JSON-lines audit log of connections, authentication and input",
    )
    s.add_argument(
        "--max-viewers",
        type=int,
        metavar="N",
        help="refuse connections beyond N at once (handshaking ones included)",
    )
    s.add_argument(
        "--stuck-timeout",
        type=float,
        default=20.0,
        metavar="S",
        help="drop a viewer whose send buffer stays full for S seconds (default 20)",
    )
    lim = p.add_argument_group("limits on what viewers can make vncterm hold")
    lim.add_argument(
        "--max-captures",
        type=int,
        default=16,
        metavar="N",
        help="stream captures one viewer may hold at once (default 16)",
    )
    lim.add_argument(
        "--max-framebuffer",
        default="4096x4096",
        metavar="WxH",
        help="the largest screen a viewer may resize to, in pixels "
        "(default 4096x4096, at most 8192x8192)",
    )
    lim.add_argument(
        "--scrollback-memory",
        type=float,
        default=64,
        metavar="MIB",
        help="memory the scrollback may take, in MiB (default 64); the oldest lines go first",
    )
    w = p.add_argument_group("browsers (WebSocket, RFC 6455: noVNC without websockify)")
    w.add_argument(
        "--websocket",
        action="append",
        metavar="HOST:PORT|off",
        help="a WebSocket-only listener (repeatable); the --listen addresses then "
        "speak plain RFB with no wait; 'off': no WebSocket at all (default: "
        "WebSocket also on the --listen addresses, after a short wait)",
    )
    w.add_argument(
        "--websocket-wait",
        type=float,
        default=50.0,
        metavar="MS",
        help="how long a connection to a --listen address waits for a WebSocket "
        "request before the VNC banner (default 50)",
    )
    w.add_argument(
        "--websocket-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow only this Origin (e.g. https://console.example.com; * for any; "
        "repeatable); default: any when viewers must authenticate, else "
        "loopback origins only",
    )
    w.add_argument(
        "--websocket-tls",
        action="store_true",
        help="TLS (wss) on the --websocket listeners with --tls-cert/--tls-key",
    )
    h = p.add_argument_group("many consoles in one process")
    h.add_argument(
        "--config",
        metavar="FILE",
        help="serve the consoles of this TOML file ([console.NAME] tables; SIGHUP re-reads "
        "it); no console options on the command line then",
    )
    h.add_argument(
        "--console-name",
        default="console",
        metavar="NAME",
        help="the console's name without --config (default console): in --list, and the "
        "FileDescriptorName= of systemd sockets meant for it",
    )
    h.add_argument(
        "--port-range",
        default="5900-6199",
        metavar="LOW-HIGH",
        help="ports for consoles without listen, each kept per name (default 5900-6199)",
    )
    h.add_argument(
        "--listen-host",
        default="127.0.0.1",
        metavar="HOST",
        help="where the ports of --port-range are bound (default 127.0.0.1)",
    )
    h.add_argument(
        "--state-dir",
        metavar="DIR",
        help="per-console state: ports, the control socket (default "
        "$XDG_STATE_HOME/vncterm, /var/lib/vncterm for root, systemd's STATE_DIRECTORY)",
    )
    h.add_argument(
        "--list",
        action="store_true",
        help="print the consoles of the vncterm running with this --state-dir and exit",
    )
    h.add_argument("--json", action="store_true", help="with --list: one JSON document")
    g = p.add_argument_group("guests found through libvirt (pip install vncterm[libvirt])")
    g.add_argument(
        "--libvirt",
        metavar="URI",
        help="serve every running domain of this libvirt URI (qemu:///system, qemu+ssh://...) "
        "as a console named after it, following domains and devices as they come and go",
    )
    g.add_argument(
        "--libvirt-force-console",
        action="store_true",
        help="take a pty console over from its holder (virsh console) instead of waiting",
    )
    add_publish_options(p)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    p.add_argument("--version", action="version", version=f"vncterm {__version__}")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS... to run")
    return p


def add_publish_options(p: argparse.ArgumentParser) -> None:
    """Tokens, and publishing consoles to websockify's token plugins."""
    g = p.add_argument_group("many hosts behind one browser front (websockify tokens)")
    g.add_argument(
        "--token-names",
        action="store_true",
        help="the console name is its token (default: a random token kept per console)",
    )
    g.add_argument(
        "--publish-tokens",
        metavar="DIR",
        help="one file HOSTID.CONSOLE per console holding 'TOKEN: HOST:PORT', for "
        "websockify --token-plugin TokenFile --token-source DIR",
    )
    g.add_argument(
        "--publish-redis",
        metavar="HOST[:PORT[/DB]]",
        help='key TOKEN, value {"host": "HOST:PORT"} per console with an expiry kept fresh, '
        "for websockify --token-plugin TokenRedis",
    )
    g.add_argument(
        "--publish-redis-password-file", metavar="FILE", help="Redis's password (first line)"
    )
    g.add_argument(
        "--publish-redis-namespace",
        default="",
        metavar="NS",
        help="keys NS:TOKEN (websockify 0.13's TokenRedis namespace)",
    )
    g.add_argument(
        "--publish-expiry",
        type=float,
        default=60.0,
        metavar="S",
        help="Redis keys expire S seconds after vncterm stops refreshing them (default 60)",
    )
    g.add_argument(
        "--advertise",
        metavar="HOST",
        help="the host published for the consoles (default: the address they listen on)",
    )
    g.add_argument(
        "--websocket-ping",
        type=float,
        default=30.0,
        metavar="S",
        help="a WebSocket Ping every S seconds on open WebSockets (default 30; 0: none)",
    )
    g.add_argument(
        "--web",
        metavar="DIR",
        help="serve the noVNC installation in DIR (e.g. /usr/share/novnc) over HTTP on the "
        "WebSocket listeners: http://HOST:PORT/vnc.html?path=NAME",
    )
    g.add_argument(
        "--keepalive",
        type=float,
        default=30.0,
        metavar="S",
        help="an empty FramebufferUpdate after S seconds without an update, so that proxies "
        "do not cut a quiet viewer (default 30; 0: off)",
    )
    g.add_argument(
        "--host-id",
        metavar="ID",
        help="names this host's token files (default: the host name)",
    )
