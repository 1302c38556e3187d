"""Console tokens: the names by which websockify's token plugins (and the shared WebSocket
listener's ``?token=TOKEN``) reach a console without knowing its name or port.

A token is random (``secrets``, 128 bits, URL-safe) and kept per console name in the state
directory (``tokens.json``, 0600 in the 0700 folder), so a console keeps its token across
restarts of vncterm; with ``--token-names`` the console name is the token (for sites that put
their own authentication in front). A token only routes: RFB authentication still happens
end to end.
"""

from __future__ import annotations

import os
import secrets

from .state_dir import read_per_name, save_per_name

TOKENS_FILE = "tokens.json"
#: Random bytes per token (128 bits), URL-safe base64 without padding: 22 characters.
TOKEN_BYTES = 16


def valid_token(token: object) -> bool:
    """A token as vncterm makes them (or a console name): safe in a URL, a websockify token
    file line (no ``": "``) and a Redis key."""
    return (
        isinstance(token, str)
        and 0 < len(token) <= 64
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in token)
    )


class TokenBook:
    """Each console name's token, saved on every new one (``state_dir`` None: kept in memory
    only, for the embedded one-console server)."""

    def __init__(self, state_dir: str | None, names: bool = False) -> None:
        self.path = os.path.join(state_dir, TOKENS_FILE) if state_dir else None
        self.names = names
        self.tokens: dict[str, str] = read_per_name(self.path, valid_token)

    def token_for(self, name: str) -> str:
        """``name``'s token: the console name under ``--token-names``, else the one kept for it
        (made and saved the first time)."""
        if self.names:
            return name
        token = self.tokens.get(name)
        if token is None:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            self.tokens[name] = token
            self._save()
        return token

    def name_for(self, token: str, live: set[str]) -> str | None:
        """The console of ``live`` whose token is ``token``, if any (constant time per
        comparison)."""
        for name in live:
            if secrets.compare_digest(self.token_for(name).encode(), token.encode()):
                return name
        return None

    def _save(self) -> None:
        save_per_name(self.path, self.tokens, " (tokens change when vncterm restarts)")
