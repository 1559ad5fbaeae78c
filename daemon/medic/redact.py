"""Secret redaction for the audit log and for log lines.

Secrets reach Medic in probe values, action details and error messages: a DSN with a
password, an ``Authorization`` header, a token in a query string. Nothing that is
written down (the audit database, a log line) may carry them, so both the audit writer
and the structlog pipeline pass what they write through :func:`redact`.

Two rules, both conservative (a false positive hides a harmless value; a miss leaks):

- a value under a key that looks secret (``token``, ``password``, ``passwd``,
  ``secret``, ``authorization``, ``api_key``/``apikey``, ``cookie``, ``private_key``;
  case-insensitive, anywhere in the key) becomes ``"[redacted]"``;
- inside any string, the password of a URL's userinfo (``postgres://u:pw@db``), a
  ``Bearer`` token and a ``password=...``-style pair (libpq DSNs, query strings) are
  masked, the rest of the string is kept so it stays useful.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import re2

REDACTED = "[redacted]"
_SCALARS = frozenset({int, float, bool, type(None)})

# Deeper structures than this are cut rather than walked (and a cycle cannot hang us).
MAX_DEPTH = 32

_SECRET_KEY = re.compile(
    r"token|password|passwd|secret|authorization|api_?key|cookie|private_?key",
    re.IGNORECASE,
)
# The patterns below meet outside text (probe output, log lines): RE2 scans it in linear
# time, where a backtracking engine takes minutes on a long run of `token` before an `=`.
# scheme://user:password@  -> keep scheme and user, mask the password.
_URL_USERINFO = re2.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/:@]*):([^\s/@]+)@")
_BEARER = re2.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
# key=value where the key looks secret: libpq DSNs and query strings.
_SECRET_PAIR = re2.compile(
    r"(?i)\b([\w\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|private[_\-]?key)"
    r"[\w\-]*)=([^\s&;,'\"]+)"
)


@functools.lru_cache(maxsize=4096)  # the same few keys come by on every event
def _secret_name(key: str) -> bool:
    return _SECRET_KEY.search(key.replace("-", "_")) is not None


def is_secret_key(key: object) -> bool:
    """True when a mapping key names something that must not be written down."""
    return isinstance(key, str) and _secret_name(key)


def redact_text(text: str) -> str:
    """``text`` with URL passwords, bearer tokens and ``password=`` values masked."""
    if "@" in text and "://" in text:
        text = _URL_USERINFO.sub(rf"\1:{REDACTED}@", text)
    if "=" in text:
        text = _SECRET_PAIR.sub(rf"\1={REDACTED}", text)
    if "earer" in text:
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
    return text


def without_url_password(text: str, url: str) -> str:
    """``text`` without ``url``'s password (its userinfo or a ``password=`` query value,
    as written and URL-decoded, whichever way a client library quoted it), then through
    :func:`redact_text`: for a database client's error about a DSN Medic was given."""
    parts = urlsplit(url)
    found = [parts.password or "", *parse_qs(parts.query).get("password", [])]
    for password in filter(None, found):
        for form in {password, unquote(password)}:
            text = text.replace(form, REDACTED)
    return redact_text(text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with secrets masked; the input is never modified.

    Mappings become dicts, lists and tuples keep their type, strings are masked,
    anything else (numbers, booleans, None, objects) is returned as it is.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is str:
        return redact_text(value)
    if _depth >= MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, Mapping):
        return {
            # A flag under a secret-sounding key (`token_configured: true`)
            # says nothing secret; only values that could hold one are masked.
            key: (
                REDACTED
                if is_secret_key(key) and item is not None and not isinstance(item, bool)
                else redact(item, _depth + 1)
            )
            for key, item in value.items()
        }
    if isinstance(value, str):  # a str subclass
        return redact_text(value)
    if isinstance(value, list):
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item, _depth + 1) for item in value)
    return value


def redact_processor(
    logger: object, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every key and value of a log line."""
    redacted: dict[str, Any] = redact(event_dict)
    return redacted
