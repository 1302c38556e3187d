"""TigerVNC's viewer (Debian 12: 1.12, GnuTLS) over every VeNCrypt sub-type vncterm offers.

TigerVNC before 1.13 stalled right after the TLS 1.3 handshake when the session tickets and the
first VNC bytes came in one flight (see ``vencrypt.without_session_tickets``); each case here
shows vncterm's screen exactly through the viewer and types a command into it. The viewer runs
on an Xvnc display, as in ``test_viewers_desktop``. It checks the server certificate against
``-X509CA`` (its IP address SAN), reads a VNC password from ``-passwd`` (``vncpasswd -f``
format) and Plain credentials from VNC_USERNAME / VNC_PASSWORD.

Needs: apt tigervnc-viewer tigervnc-standalone-server tigervnc-tools xdotool x11-apps.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certs import CertFiles, make_certs
from conftest import SHELL
from harness import RunningVncterm
from peers.xvnc import XvncServer
from test_viewers_desktop import free_display_port, wait_line, wait_shown

from vncterm.config import ListenAddress
from vncterm.rfb import vencrypt

pytestmark = pytest.mark.peer

USERS = {"alice": "wonderland"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def display() -> Iterator[XvncServer]:
    """One Xvnc display hosting every viewer of this module, one at a time."""
    with XvncServer(geometry=(1024, 640)) as x:
        yield x


#: sub-type -> (vncterm options besides the certificate, how the viewer authenticates)
CASES: dict[int, tuple[dict[str, Any], str]] = {
    vencrypt.X509_NONE: ({}, "none"),
    vencrypt.X509_VNC: ({"password": b"secret"}, "vnc"),
    vencrypt.X509_PLAIN: ({"plain": True}, "plain"),
    vencrypt.TLS_NONE: ({"anon": True}, "none"),
    vencrypt.TLS_VNC: ({"anon": True, "password": b"secret"}, "vnc"),
    vencrypt.TLS_PLAIN: ({"anon": True, "plain": True}, "plain"),
}


@pytest.mark.parametrize("subtype", list(CASES), ids=[vencrypt.NAMES[t] for t in CASES])
def test_tigervnc_over_vencrypt(
    subtype: int, certs: CertFiles, display: XvncServer, tmp_path: Path
) -> None:
    options, how = CASES[subtype]
    config: dict[str, Any] = {
        "listen": [ListenAddress("127.0.0.1", free_display_port())],
        "name": "tls viewer test",
    }
    if options.get("anon"):
        config["tls_anon"] = True
    else:
        config.update(tls_cert=str(certs.server_cert), tls_key=str(certs.server_key))
    if "password" in options:
        config["password"] = options["password"]
    if options.get("plain"):
        config["plain_users"] = vencrypt.parse_users(
            "".join(
                f"{u}:{vencrypt.hash_password(p.encode(), b'0123456789abcdef')}\n"
                for u, p in USERS.items()
            )
        )
    name = vencrypt.NAMES[subtype]
    argv = [
        "xtigervncviewer",
        "-SecurityTypes",
        name,
        "-X509CA",
        str(certs.ca),
        "-AlertOnFatalError=0",
        "-ReconnectOnError=0",
    ]
    env: dict[str, str] = {}
    if how == "vnc":
        passwd = tmp_path / "passwd"
        passwd.write_bytes(
            subprocess.run(
                ["vncpasswd", "-f"], input=b"secret\n", capture_output=True, check=True
            ).stdout
        )
        argv += ["-passwd", str(passwd)]
    elif how == "plain":
        env = {"VNC_USERNAME": "alice", "VNC_PASSWORD": USERS["alice"]}
    with RunningVncterm(SHELL, **config) as vt:
        vt.wait_text("$")
        port = vt.port
        viewer = subprocess.Popen(
            [*argv, f"127.0.0.1::{port}"],
            env={**display.env(), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            x0, y0 = wait_shown(display, vt, f"TigerVNC over {name}")
            assert vt.server is not None
            session = vt.server.session
            used = vt.call(lambda: [(v.conn.subtype, v.conn.tls_info) for v in session.viewers])
            assert len(used) == 1 and used[0][0] == subtype, used
            assert used[0][1] is not None and "TLS" in used[0][1]
            display.run("xdotool", "search", "--name", "tls viewer test", "windowfocus", "--sync")
            display.run("xdotool", "mousemove", str(x0 + 200), str(y0 + 200))
            display.run("xdotool", "type", "--delay", "15", f"echo {name}-$((6*7))")
            display.run("xdotool", "key", "Return")
            wait_line(vt, f"{name}-42", f"{name}: a command typed into TigerVNC")
        finally:
            viewer.terminate()
            viewer.wait(10)
