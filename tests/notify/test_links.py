"""Signed links: what a token binds, who gets which links, and spending a token once."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from medic.clock import parse_iso
from medic.notify.base import Notification
from medic.notify.links import Claim, LinkRefused, LinkSigner, spend, used_at

KEY = b"k" * 32
ASK = Notification(
    kind="escalation",
    incident="9f2c4e1a7b3d5c6e",
    policy="db-failover",
    target="db-1",
    host="node1",
    reason="approval_required",
    summary="db-failover wants to act",
    time="2024-05-01T03:00:00.000000Z",
    links=(
        ("Approve (POST)", "http://127.0.0.1:9325/api/v1/incidents/9f2c4e1a7b3d5c6e/approve"),
        ("Deny (POST)", "http://127.0.0.1:9325/api/v1/incidents/9f2c4e1a7b3d5c6e/deny"),
    ),
)
NOW = parse_iso(ASK.time)


def signer(key: bytes = KEY) -> LinkSigner:
    return LinkSigner(key, lambda: "https://medic.example.com/", ttl=3600)


def test_an_approval_request_gets_signed_links_per_recipient() -> None:
    """Approve, deny and acknowledge replace the engine's POST links; each recipient's
    tokens name that recipient, and a retry signs the same tokens."""
    alice = signer().sign(ASK, "alice@example.com")
    assert [label for label, _ in alice.links] == ["Approve", "Deny", "Acknowledge"]
    assert all(url.startswith("https://medic.example.com/links/") for _, url in alice.links)
    token = alice.links[0][1].rsplit("/", 1)[1]
    assert signer().verify(token, NOW) == Claim(
        ASK.incident, "approve", "alice@example.com", int(NOW) + 3600
    )
    assert signer().sign(ASK, "alice@example.com") == alice
    assert signer().sign(ASK, "bob@example.com").links != alice.links


def test_other_escalations_get_only_acknowledge_and_resolves_nothing() -> None:
    """A page that asks nothing can be acknowledged; a resolve carries no links."""
    failed = replace(ASK, reason="remediation_failed", links=())
    assert [label for label, _ in signer().sign(failed, "oncall").links] == ["Acknowledge"]
    resolved = replace(ASK, kind="resolve")
    assert signer().sign(resolved, "oncall") == resolved


def test_forged_expired_and_foreign_tokens_are_refused() -> None:
    """A changed token or another key's is 403; past its expiry it is 410."""
    url = signer().sign(ASK, "alice@example.com").links[0][1]
    token = url.rsplit("/", 1)[1]
    body, _, mac = token.partition(".")
    changed = signer().sign(ASK, "mallory@example.com").links[0][1].rsplit("/", 1)[1]
    for bad in (changed.partition(".")[0] + "." + mac, body, "x" * 5000, "a.b"):
        with pytest.raises(LinkRefused) as err:
            signer().verify(bad, NOW)
        assert err.value.status == 403
    with pytest.raises(LinkRefused) as err:
        signer(b"z" * 32).verify(token, NOW)
    assert err.value.status == 403
    with pytest.raises(LinkRefused) as err:
        signer().verify(token, NOW + 3600)
    assert (err.value.status, err.value.title) == (410, "This link has expired")


def test_a_token_is_spent_once() -> None:
    """The second spend of a token fails and the first use is remembered."""
    conn = sqlite3.connect(":memory:")
    claim = Claim(ASK.incident, "ack", "oncall", int(NOW) + 60)
    token = signer().token(claim)
    assert used_at(conn, token) is None
    assert spend(conn, token, claim, NOW) is True
    assert spend(conn, token, claim, NOW + 1) is False
    assert used_at(conn, token) == "2024-05-01T03:00:00.000000Z"
