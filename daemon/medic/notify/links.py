"""Signed links: approve, deny or acknowledge an incident from a phone, with no API token.

Each link carries a token that binds the incident, the action (``approve``, ``deny``,
``ack``), the recipient it was sent to (a notifier's name, or one e-mail address) and
when it expires, signed with HMAC-SHA256 under a key the agent keeps in its state
directory (``links.key``, mode 0600, made on first start). Opening the link shows a
confirmation page that changes nothing; its button POSTs the same token, which is
then spent: each token is used once, recorded in the ``link_uses`` table so that a
restart does not make it good again (see :mod:`medic.api.routes_links`).

A notifier personalises a notification with :meth:`LinkSigner.sign` just before it
sends it, so every channel and every e-mail recipient gets links of its own, and the
audit says who answered. The token of a given notification, recipient and action is
the same on every retry (its expiry counts from the notification's time).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import structlog

from medic.clock import iso
from medic.errors import ConfigError, MedicError
from medic.notify.base import Notification, Notifier
from medic.notify.message import sent_at
from medic.statefiles import LINKS_KEY_FILE, ensure_secret

if TYPE_CHECKING:  # the config embeds the notifiers' schemas: no import back at run time
    from medic.config import AgentConfig

log = structlog.get_logger("medic.links")

ACTIONS = {"approve": "Approve", "deny": "Deny", "ack": "Acknowledge"}
DEFAULT_TTL = 24 * 3600.0
PATH = "/links/"
MAX_TOKEN = 2048  # longer than any token Medic makes; refused before any decoding
_DOMAIN = b"medic-link-v1."
# The engine's own approve and deny links (POST, bearer token): signed ones replace them.
_ENGINE_LINK = re.compile(r"/api/v1/incidents/[^/]+/(approve|deny)$")


class LinkRefused(MedicError):
    """A link that cannot be used: ``status`` 403 (not Medic's) or 410 (expired, used)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title


@dataclass(frozen=True)
class Claim:
    """What a link's token says: who may do what to which incident, until when."""

    incident: str
    action: str
    recipient: str
    expires: int

    @property
    def verb(self) -> str:
        return ACTIONS[self.action]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_id(token: str) -> str:
    """The key under which a used token is remembered (its signed part, hashed)."""
    return hashlib.sha256(token.partition(".")[0].encode()).hexdigest()


class LinkSigner:
    """Makes and checks link tokens under one key; ``base()`` is where people reach
    the API (``api.link_base``, else the address it listens on)."""

    def __init__(self, key: bytes, base: Callable[[], str], ttl: float = DEFAULT_TTL) -> None:
        if len(key) < 16:
            raise ValueError("a link key needs at least 16 bytes")
        self._key = key
        self.base = base
        self.ttl = ttl

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, _DOMAIN + body.encode(), hashlib.sha256).digest())

    def token(self, claim: Claim) -> str:
        fields = [claim.incident, claim.action, claim.recipient, claim.expires]
        body = _b64(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self._mac(body)}"

    def url(self, claim: Claim) -> str:
        return f"{self.base().rstrip('/')}{PATH}{self.token(claim)}"

    def verify(self, token: str, now: float) -> Claim:
        """The claim a genuine, unexpired token makes; LinkRefused otherwise."""
        forged = LinkRefused(
            403,
            "Not a Medic link",
            "This link was not made by this Medic agent, or it was changed on the way. "
            "Nothing was done.",
        )
        body, dot, mac = token.partition(".")
        if len(token) > MAX_TOKEN or not dot or not hmac.compare_digest(mac, self._mac(body)):
            raise forged
        try:
            incident, action, recipient, expires = json.loads(_unb64(body))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise forged from exc
        if action not in ACTIONS or not all(isinstance(v, str) for v in (incident, recipient)):
            raise forged
        if not isinstance(expires, int):
            raise forged
        claim = Claim(incident, action, recipient, expires)
        if now >= expires:
            raise LinkRefused(
                410,
                "This link has expired",
                f"The {claim.verb.lower()} link for incident {incident} expired at "
                f"{iso(expires)}. Nothing was done; use `medic {action} {incident}` "
                "on the agent's host, or the link of a newer message.",
            )
        return claim

    def sign(self, n: Notification, recipient: str) -> Notification:
        """``n`` with signed links for ``recipient``: acknowledge on every escalation,
        approve and deny when it asks for approval (replacing the engine's POST links)."""
        if n.kind != "escalation" or not n.incident:
            return n
        actions = ["ack"]
        if n.reason == "approval_required":
            actions = ["approve", "deny", "ack"]
        expires = int(sent_at(n).timestamp() + self.ttl)
        signed = tuple(
            (ACTIONS[a], self.url(Claim(n.incident, a, recipient, expires))) for a in actions
        )
        kept = tuple((label, url) for label, url in n.links if not _ENGINE_LINK.search(url))
        return replace(n, links=signed + kept)


def start_links(
    config: AgentConfig, base: Callable[[], str], channels: Mapping[str, Notifier]
) -> LinkSigner | None:
    """The agent's signer (its key made on first start), handed to every channel; None
    when the API is off (nobody could open a link) or the key cannot be kept."""
    if not config.api.enabled:
        return None
    try:
        key = ensure_secret(config.state_dir / LINKS_KEY_FILE)
    except ConfigError as exc:
        log.warning("links.no_key", error=exc.message, hint=exc.hint)
        return None
    signer = LinkSigner(key.encode(), base)
    for channel in channels.values():
        channel.links = signer
    return signer


# -- the ``link_uses`` table: each token is spent once, across restarts ----------------

_TABLE = (
    "CREATE TABLE IF NOT EXISTS link_uses (token TEXT PRIMARY KEY, incident TEXT NOT NULL,"
    " action TEXT NOT NULL, recipient TEXT NOT NULL, used TEXT NOT NULL)"
)


def spend(conn: sqlite3.Connection, token: str, claim: Claim, now: float) -> bool:
    """Record ``token`` as used (on the audit store's writer); False if it already was."""
    conn.execute(_TABLE)
    cursor = conn.execute(
        "INSERT OR IGNORE INTO link_uses (token, incident, action, recipient, used)"
        " VALUES (?, ?, ?, ?, ?)",
        (token_id(token), claim.incident, claim.action, claim.recipient, iso(now)),
    )
    return cursor.rowcount == 1


def unspend(conn: sqlite3.Connection, token: str) -> None:
    """Give a token back when acting on it failed for a reason of Medic's own."""
    conn.execute(_TABLE)
    conn.execute("DELETE FROM link_uses WHERE token = ?", (token_id(token),))


def used_at(conn: sqlite3.Connection, token: str) -> str | None:
    """When ``token`` was used, or None."""
    conn.execute(_TABLE)
    row = conn.execute("SELECT used FROM link_uses WHERE token = ?", (token_id(token),)).fetchone()
    return str(row[0]) if row else None
