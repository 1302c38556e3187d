"""``vncterm-stream`` against a TLS-protected vncterm: VeNCrypt X509None (with and without a
client certificate), X509Vnc and X509Plain, the server's certificate checked against --tls-ca
or the system's store; and its command-line help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from certs import CertFiles, make_certs
from conftest import SHELL
from harness import RunningVncterm

from vncterm import __version__
from vncterm.rfb import vencrypt

pytestmark = pytest.mark.peer

STREAM = [sys.executable, "-m", "vncterm.stream_cli"]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


def stream(
    *args: str, stdin: bytes = b"", timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*STREAM, *args], input=stdin, capture_output=True, timeout=timeout)


#: case -> (vncterm options besides the certificate, vncterm-stream options, sub-type used)
CASES: dict[str, tuple[dict[str, Any], list[str], int]] = {
    "X509None": ({}, [], vencrypt.X509_NONE),
    "X509None-client-cert": (
        {"ca": True},
        ["--tls-cert", "client.pem", "--tls-key", "client.key"],
        vencrypt.X509_NONE,
    ),
    "X509Vnc": ({"password": b"secret"}, ["--password-file", "pw"], vencrypt.X509_VNC),
    "X509Plain": (
        {"plain": True},
        ["--user", "alice", "--password-file", "pw"],
        vencrypt.X509_PLAIN,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_vncterm_stream_over_vencrypt(case: str, certs: CertFiles, tmp_path: Path) -> None:
    server_opts, client_opts, subtype = CASES[case]
    (tmp_path / "pw").write_bytes(b"secret\n")
    audit = tmp_path / "audit.jsonl"
    config: dict[str, Any] = {
        "tls_cert": str(certs.server_cert),
        "tls_key": str(certs.server_key),
        "audit_log": str(audit),
    }
    if server_opts.get("ca"):
        config["tls_ca"] = str(certs.ca)
    if "password" in server_opts:
        config["password"] = server_opts["password"]
    if server_opts.get("plain"):
        config["plain_users"] = vencrypt.parse_users(
            f"alice:{vencrypt.hash_password(b'secret', b'0123456789abcdef')}\n"
        )
    files = {
        "client.pem": str(certs.client_cert),
        "client.key": str(certs.client_key),
        "pw": str(tmp_path / "pw"),
    }
    args = [files.get(a, a) for a in client_opts]
    with RunningVncterm(SHELL, **config) as server:
        server.wait_text("$")
        addr = f"127.0.0.1:{server.port}"
        listed = stream(addr, "--tls-ca", str(certs.ca), *args)
        assert listed.stdout.split() == [b"console"], listed.stderr
        bridged = stream(
            addr,
            "console",
            "--tls-ca",
            str(certs.ca),
            *args,
            stdin=f"echo {case}-$((6*7))\r".encode(),
        )
        assert f"{case}-42\r\n".encode() in bridged.stdout, bridged.stderr
        # the host name of the certificate (localhost) instead of the address
        named = stream(f"localhost:{server.port}", "--tls-ca", str(certs.ca), *args)
        assert named.stdout.split() == [b"console"], named.stderr
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    methods = {e["method"] for e in entries if e["event"] == "auth"}
    assert methods == {f"VeNCrypt/{vencrypt.NAMES[subtype]}"}
    assert all(e["ok"] and "TLS" in e["tls"] for e in entries if e["event"] == "auth")


def test_an_untrusted_or_misnamed_certificate_is_refused_clearly(certs: CertFiles) -> None:
    with RunningVncterm(
        SHELL, tls_cert=str(certs.server_cert), tls_key=str(certs.server_key)
    ) as server:
        addr = f"127.0.0.1:{server.port}"
        wrong_ca = stream(addr, "--tls-ca", str(certs.rogue_cert))
        assert wrong_ca.returncode == 1 and not wrong_ca.stdout
        assert (
            b"certificate was refused (unable to get local issuer certificate); the CA in "
            + str(certs.rogue_cert).encode()
            + b" did not sign it"
        ) in wrong_ca.stderr
        system_store = stream(addr)  # the test CA is not in the system's store
        assert system_store.returncode == 1
        assert b"give its CA with --tls-ca" in system_store.stderr
        misnamed = stream(addr, "--tls-ca", str(certs.ca), "--tls-server-name", "example.org")
        assert misnamed.returncode == 1
        assert b"not for 'example.org'" in misnamed.stderr
        assert b"--tls-server-name" in misnamed.stderr


def test_tls_options_never_fall_back_to_the_clear(certs: CertFiles) -> None:
    with RunningVncterm(SHELL) as server:
        got = stream(f"127.0.0.1:{server.port}", "--tls-ca", str(certs.ca))
        assert got.returncode == 1 and b"does not offer TLS" in got.stderr


def test_help_is_plain_text_and_version_is_the_package_version() -> None:
    shown = stream("--help")
    assert shown.returncode == 0
    assert b"vncterm-stream HOST:PORT NAME" in shown.stdout and b"--tls-ca" in shown.stdout
    assert b"``" not in shown.stdout
    version = stream("--version")
    assert version.stdout.decode().split() == ["vncterm-stream", __version__]


def test_the_client_picks_an_x509_subtype_it_can_complete() -> None:
    choice = vencrypt.client_choice
    assert choice((vencrypt.X509_PLAIN, vencrypt.X509_VNC), have_user=True) == vencrypt.X509_PLAIN
    assert choice((vencrypt.X509_PLAIN, vencrypt.X509_VNC), have_user=False) == vencrypt.X509_VNC
    assert choice((vencrypt.TLS_NONE, vencrypt.X509_NONE), have_user=False) == vencrypt.X509_NONE
    with pytest.raises(ValueError, match="X509Plain needs a user name"):
        choice((vencrypt.X509_PLAIN, vencrypt.TLS_PLAIN), have_user=False)
    with pytest.raises(ValueError, match="only anonymous TLS"):
        choice((vencrypt.TLS_VNC, vencrypt.TLS_NONE), have_user=True)
