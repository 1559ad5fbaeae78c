"""HMAC-SHA256 signatures for webhook deliveries, for senders and receivers alike.

The signed text is ``"<timestamp>.<body>"``: the timestamp (unix seconds, also sent
as ``X-Medic-Timestamp``) is inside the signature, so a captured delivery cannot be
replayed later with a fresh timestamp, and :func:`verify` rejects old ones.
The signature header reads ``sha256=<hex digest>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from medic.bounds import ascii_int

PREFIX = "sha256="
DEFAULT_MAX_AGE = 300


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The ``X-Medic-Signature`` value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return PREFIX + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes,
    timestamp: int | str,
    body: bytes,
    header: str,
    max_age: float = DEFAULT_MAX_AGE,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` and the timestamp is fresh.

    Fresh means within ``max_age`` seconds of ``now`` (default: the current time) in
    either direction, allowing for clock skew. The comparison takes constant time.
    """
    text = str(timestamp).strip()
    stamp = ascii_int(text)
    if stamp is None:
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > max_age:
        return False
    if not header.startswith(PREFIX):
        return False
    expected = sign(secret, text, body)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8"))
