"""``--web DIR``: a noVNC installation (Debian's ``novnc`` package: ``/usr/share/novnc``) served
over plain HTTP/1.1 on the WebSocket listeners, so that ``http://HOST:PORT/vnc.html?path=NAME``
opens a console with nothing else running.

Static files only (RFC 9110 GET and HEAD), one request per connection (``Connection:
close``); no directory listing (a folder is 404); the path, percent-decoded, must stay inside
DIR (``..``, NUL, backslashes and hidden names are 404; links installed inside DIR by its
package are followed); a request with an ``Origin`` obeys the same rules as the WebSocket
(``websocket_origin.OriginPolicy``). Files over :data:`MAX_FILE` are not served.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import posixpath
import urllib.parse

from .websocket_origin import OriginPolicy

log = logging.getLogger(__name__)

#: The largest file served (noVNC's largest is a few hundred KiB).
MAX_FILE = 16 << 20
#: Types a browser needs right (ES modules must be JavaScript); others from ``mimetypes``.
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
}
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
REASONS |= {405: "Method Not Allowed"}


def is_upgrade(head: bytes) -> bool:
    """True when the request header asks for a WebSocket (``Upgrade: websocket``)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


def answer(head: bytes, root: str, policy: OriginPolicy, label: str) -> bytes:
    """The whole HTTP response to the request header ``head`` (ending ``\\r\\n\\r\\n``)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return _status(400, "not an HTTP/1 request")
    method, target = parts[0], parts[1].decode("latin-1")
    if method not in (b"GET", b"HEAD"):
        return _status(405, "static files only: GET or HEAD", allow=True)
    origin = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"origin":
            origin = value.strip().decode("latin-1")
    refusal = policy.refusal(origin)
    if refusal is not None:
        log.info("%s: web request refused: %s", label, refusal)
        return _status(403, "origin refused")
    path = _inside(root, target)
    if path is None:
        return _status(404, "not found")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE:
                return _status(404, "not found")
            body = f.read(MAX_FILE) if method == b"GET" else b""
    except OSError:
        return _status(404, "not found")
    ext = os.path.splitext(path)[1].lower()
    kind = TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return _response(200, kind, body, size)


def _inside(root: str, target: str) -> str | None:
    """The regular file under ``root`` that ``target`` names, or None (404)."""
    try:
        raw = urllib.parse.urlsplit(target).path
        path = urllib.parse.unquote(raw, errors="strict") if raw.isascii() else None
    except ValueError:  # "//[x" (no host in brackets), bytes that are not UTF-8
        return None
    if not path or not path.startswith("/") or "\0" in path or "\\" in path:
        return None
    names = [n for n in path.split("/") if n]
    if any(n.startswith(".") for n in names):  # "..", ".", hidden files
        return None
    normal = posixpath.normpath("/" + "/".join(names))
    full = os.path.join(root, normal.lstrip("/"))
    return full if os.path.isfile(full) else None  # a folder: no listing


def _status(code: int, text: str, allow: bool = False) -> bytes:
    body = f"{code} {REASONS[code]}: {text}\n".encode()
    extra = [("Allow", "GET, HEAD")] if allow else []
    return _response(code, "text/plain; charset=utf-8", body, len(body), extra)


def _response(
    code: int, kind: str, body: bytes, size: int, extra: list[tuple[str, str]] | None = None
) -> bytes:
    headers = [
        ("Content-Type", kind),
        ("Content-Length", str(size)),
        ("Connection", "close"),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        *(extra or []),
    ]
    head = f"HTTP/1.1 {code} {REASONS[code]}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body
