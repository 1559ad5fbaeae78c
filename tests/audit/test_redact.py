"""Secret redaction: keys that look secret, passwords in URLs and DSNs, bearer tokens."""

from __future__ import annotations

import time
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from medic.redact import (
    REDACTED,
    is_secret_key,
    redact,
    redact_processor,
    redact_text,
    without_url_password,
)

KEY_CASES = [
    ("token", True),
    ("api_token", True),
    ("Password", True),
    ("db_passwd", True),
    ("client_secret", True),
    ("Authorization", True),
    ("api_key", True),
    ("apiKey", True),
    ("X-Api-Key", True),
    ("Cookie", True),
    ("set-cookie", True),
    ("private_key", True),
    ("private-key", True),
    ("dsn", False),
    ("url", False),
    ("user", False),
    ("memory_percent", False),
    ("keyboard", False),
]


@pytest.mark.parametrize(("key", "secret"), KEY_CASES)
def test_secret_keys_are_recognised(key: str, secret: bool) -> None:
    """Keys naming secrets are matched case-insensitively, anywhere in the key."""
    assert is_secret_key(key) is secret


TEXT_CASES = [
    (
        "postgres://app:s3cret@db:5432/app",
        f"postgres://app:{REDACTED}@db:5432/app",
    ),
    ("redis://:hunter2@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
    (
        "failed to connect to postgresql://u:p%40ss@10.0.0.5/x: timeout",
        f"failed to connect to postgresql://u:{REDACTED}@10.0.0.5/x: timeout",
    ),
    ("https://example.com:8443/health", "https://example.com:8443/health"),
    ("https://user@example.com/", "https://user@example.com/"),
    ("Authorization: Bearer abc.def-123_xyz", f"Authorization: Bearer {REDACTED}"),
    ("bearer eyJhbGciOi.J9==", f"bearer {REDACTED}"),
    ("host=db user=app password=pw1 dbname=x", f"host=db user=app password={REDACTED} dbname=x"),
    ("GET /hook?token=abc123&x=1", f"GET /hook?token={REDACTED}&x=1"),
    ("access_token=zz; path=/", f"access_token={REDACTED}; path=/"),
    ("memory_percent=93.1 rss=512", "memory_percent=93.1 rss=512"),
    ("nothing to see", "nothing to see"),
]


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_secrets_inside_text_are_masked(text: str, expected: str) -> None:
    """URL passwords, bearer tokens and password= pairs are masked, the rest kept."""
    assert redact_text(text) == expected


VALUE_CASES: list[tuple[Any, Any]] = [
    ({"password": "pw", "user": "app"}, {"password": REDACTED, "user": "app"}),
    ({"headers": {"Authorization": "Basic eA=="}}, {"headers": {"Authorization": REDACTED}}),
    ({"api_key": None}, {"api_key": None}),
    ({"token": 12345}, {"token": REDACTED}),
    ({"secret": {"nested": "x"}}, {"secret": REDACTED}),
    (
        {"dsn": "postgres://a:b@h/d", "n": 3},
        {"dsn": f"postgres://a:{REDACTED}@h/d", "n": 3},
    ),
    (["postgres://a:b@h/d", 1, None], [f"postgres://a:{REDACTED}@h/d", 1, None]),
    (("Bearer t0k", 2.5), (f"Bearer {REDACTED}", 2.5)),
    (42, 42),
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), VALUE_CASES)
def test_values_are_redacted_recursively(value: Any, expected: Any) -> None:
    """Mappings, lists and tuples are walked; values under secret keys are replaced."""
    assert redact(value) == expected


def test_redact_returns_a_copy() -> None:
    """The input is never modified."""
    original = {"password": "pw", "nested": {"token": "t"}}
    redact(original)
    assert original == {"password": "pw", "nested": {"token": "t"}}


def test_deep_structures_are_cut_not_crashed() -> None:
    """A structure deeper than MAX_DEPTH (or a cycle) is cut instead of recursing forever."""
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    result = redact(cyclic)
    depth = 0
    while isinstance(result, list):
        result = result[0]
        depth += 1
    assert result == "[too deep]"
    assert depth == 32


def test_processor_masks_log_lines() -> None:
    """The structlog processor masks secret keys and secrets inside the message."""
    with capture_logs(processors=[redact_processor]) as logs:
        structlog.get_logger().info("connecting to postgres://u:pw@db/x", password="pw", user="u")
    assert logs == [
        {
            "event": f"connecting to postgres://u:{REDACTED}@db/x",
            "password": REDACTED,
            "user": "u",
            "log_level": "info",
        }
    ]


def test_processor_signature_is_structlog_compatible() -> None:
    """Called directly as structlog would, it returns a new, redacted event dict."""
    event = {"event": "hi", "token": "t"}
    assert redact_processor(None, "info", event) == {"event": "hi", "token": REDACTED}
    assert event == {"event": "hi", "token": "t"}


def test_flags_under_secret_sounding_keys_are_kept() -> None:
    """`token_configured: true` tells nothing secret and stays readable; values are masked."""
    out = redact({"token_configured": True, "token": "abc", "pin_secret": 1234})
    assert out == {"token_configured": True, "token": "[redacted]", "pin_secret": "[redacted]"}


@pytest.mark.parametrize(
    "hostile",
    ["token" * 20_000 + "=x", "a://" * 20_000 + "@", "x-api-key" * 10_000 + "=" * 5],
    ids=["secret-pair", "url-userinfo", "dashed-key"],
)
def test_hostile_text_is_masked_in_linear_time(hostile: str) -> None:
    """Text built to make a backtracking engine crawl (minutes on the old patterns) takes
    well under a second: redaction runs on every probe output and log line."""
    started = time.perf_counter()
    redact_text(hostile)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "dsn",
    [
        "mysql://app:p%40ss%21@db:3306/shop",
        "postgresql://app@db/shop?password=p%40ss%21",
        "redis://:p%40ss%21@cache:6379/0",
    ],
)
def test_a_client_error_loses_the_dsn_password_as_written_and_decoded(dsn: str) -> None:
    """A driver's error never shows the DSN's password as the driver was given it (decoded)."""
    assert without_url_password("login p@ss! failed", dsn) == f"login {REDACTED} failed"


def test_a_client_error_loses_the_dsn_password_as_written() -> None:
    """The password as written in the DSN (URL-quoted) is masked too."""
    text = "bad DSN app:p%40ss%21@db"
    assert REDACTED in without_url_password(text, "mysql://app:p%40ss%21@db/shop")
    assert "p%40ss" not in without_url_password(text, "mysql://app:p%40ss%21@db/shop")
