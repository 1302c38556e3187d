"""The options of the ``vncterm`` command (its argparse parser): one place for their names,
defaults and help, read by :mod:`vncterm.cli`."""

from __future__ import annotations

import argparse

from . import __version__
from .config import SHARE_POLICIES
from .errors import ConfigError


def parse_geometry(text: str) -> tuple[int, int]:
    cols, sep, rows = text.lower().partition("x")
    if not sep or not cols.isdigit() or not rows.isdigit():
        raise ConfigError(f"bad geometry {text!r}: use COLSxROWS, e.g. 80x25")
    return int(cols), int(rows)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vncterm",
        description="A VNC server whose screen is a terminal: runs CMD (default: your shell) "
        "on a new pty and serves it to any VNC viewer.",
        epilog="Exit status: the command's own (128+N when signal N killed it); 128+N when "
        "SIGTERM/SIGINT stopped vncterm; 2 for a bad configuration; 127 when CMD is "
        "not found, 126 when it is not executable (both before listening); 1 when "
        "listening failed.",
    )
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
        "--charset",
        choices=("utf-8", "cp437", "latin-1"),
        default="utf-8",
        help="what the console sends: UTF-8 (default), or CP437/Latin-1 (boot loaders, BIOS)",
    )
    c.add_argument(
        "--bold-bright",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw bold text in colours 0-7 in their bright versions 8-15 too, as "
        "xterm does (default: on)",
    )
    c.add_argument("--log", metavar="FILE", help="append every console byte to FILE")
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
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    p.add_argument("--version", action="version", version=f"vncterm {__version__}")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS... to run")
    return p
