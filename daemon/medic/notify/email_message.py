"""The e-mail a notification becomes: subject, threading and de-duplication headers, body.

Each notification has a ``Message-ID`` derived from the incident and its reason, so a
retried delivery is the same message; every message of an incident names the
incident's thread root in ``References``, and a resolve replies to it
(``In-Reply-To``), so mail clients show them as one thread.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from medic import __version__
from medic.notify import message
from medic.notify.base import Notification

SUBJECT_LIMIT = 200
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def message_id(n: Notification, kind: str | None, sender: str) -> str:
    """The same on every retry: ``<medic.<incident>.<reason>@<sender's domain>>`` for an
    escalation (a second page about the incident for another reason is another message),
    ``<medic.<incident>.resolve@...>`` for the resolve. With ``kind=None``: the incident's
    thread root ``<medic.<incident>@...>``, which every message of the incident names in
    ``References`` so mail clients keep them together."""
    ident = n.incident or hashlib.sha256(f"{n.host}/{n.policy}/{n.target}".encode()).hexdigest()
    domain = _UNSAFE_ID.sub("-", parseaddr(sender)[1].rpartition("@")[2]) or "medic.invalid"
    local = f"medic.{_UNSAFE_ID.sub('-', ident)}"
    if kind == "resolve":
        local += ".resolve"
    elif kind is not None:
        local += f".{_UNSAFE_ID.sub('-', n.reason)}"
    return f"<{local}@{domain}>"


def subject(n: Notification, prefix: str = "[medic]") -> str:
    """``[medic] ESCALATED web-down on web (node-1)`` or ``[medic] RESOLVED ...``; a
    policy's severity tags escalations: ``[medic] [CRITICAL] ESCALATED ...``."""
    tag = f" [{n.severity.upper()}]" if n.severity and n.kind == "escalation" else ""
    text = f"{prefix}{tag} {message.verb(n).upper()} {message.headline(n)}".strip()
    return message.truncate(_one_line(text), SUBJECT_LIMIT)


def build(
    n: Notification,
    *,
    sender: str,
    recipients: Sequence[str],
    prefix: str = "[medic]",
    link_base: str | None = None,
) -> EmailMessage:
    """The e-mail for ``n``: headers for threading and de-duplication, a text body."""
    msg = EmailMessage()
    msg["Subject"] = subject(n, prefix)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(message.sent_at(n))
    msg["Message-ID"] = message_id(n, n.kind, sender)
    root = message_id(n, None, sender)
    msg["References"] = root
    if n.kind == "resolve":
        msg["In-Reply-To"] = root
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    msg["X-Medic-Event"] = n.kind
    if n.incident:
        msg["X-Medic-Incident"] = _one_line(n.incident)
    msg["User-Agent"] = f"medic/{__version__}"
    msg.set_content(message.text(n, link_base))
    return msg
