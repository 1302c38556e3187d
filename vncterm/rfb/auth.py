"""VNC Authentication (RFB spec section 7.2.2, security type 2).

The server sends a 16-byte random challenge; the viewer encrypts it with DES in ECB mode, keyed
by the password truncated or zero-padded to 8 bytes, with the bits of each key byte mirrored
(a quirk of the original implementation that every viewer reproduces).
"""

from __future__ import annotations

import hmac

try:  # cryptography >= 43 keeps single-key DES (as 3DES with one key) in "decrepit"
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

CHALLENGE_SIZE = 16


def _mirror_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


def vnc_key(password: bytes) -> bytes:
    """The DES key a viewer derives from ``password``."""
    return bytes(_mirror_bits(b) for b in password[:8].ljust(8, b"\0"))


def vnc_response(password: bytes, challenge: bytes) -> bytes:
    """What a viewer that knows ``password`` answers to ``challenge``."""
    key = vnc_key(password)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def check_response(password: bytes, challenge: bytes, response: bytes) -> bool:
    """True when ``response`` proves knowledge of ``password`` (constant-time compare)."""
    return hmac.compare_digest(vnc_response(password, challenge), response)
