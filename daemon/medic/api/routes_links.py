"""The signed links in messages: a confirmation page, and its one button.

``GET /links/{token}`` shows what the link would do (approve, deny or acknowledge
which incident, for whom, until when) and changes nothing, so a mail scanner or a
chat preview that opens it does no harm. Its button POSTs the same URL: the token is
checked again, spent (once, durably: :func:`medic.notify.links.spend`), and the
answer goes through the same path as ``medic approve`` / ``medic ack``, audited with
the link's recipient as who and ``via: link`` as how. The signed token is the
credential: no API token is needed. A forged token gets 403, an expired or used one
410, each a short page saying so; the pages are plain HTML without scripts, readable
at phone width.
"""

from __future__ import annotations

import time
from functools import partial
from html import escape

from aiohttp import web

from medic.api.acknowledge import NoSuchIncident, acknowledge
from medic.api.appkeys import VIEW
from medic.api.view import AgentView
from medic.clock import iso
from medic.errors import ApprovalNotFound, NotWaiting
from medic.notify.links import PATH, Claim, LinkRefused, spend, unspend, used_at

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
STYLE = (
    "body{font:17px/1.5 system-ui,sans-serif;margin:0;padding:1.2em;max-width:34em;"
    "color:#1d232a;background:#f6f7f9}h1{font-size:1.35em;margin:.2em 0 .6em}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25em .8em;margin:0 0 1.2em}"
    "dt{color:#5b6570}dd{margin:0;overflow-wrap:anywhere}"
    "button{font:inherit;font-weight:600;width:100%;padding:.8em;border:0;border-radius:.4em;"
    "color:#fff;background:#1f6f43}button.deny{background:#a52a2a}button.ack{background:#285a9c}"
    "p.note{color:#5b6570;font-size:.9em}"
)
DONE = {
    "approve": "Approved. Medic acts now, within its limits.",
    "deny": "Denied. Medic does nothing more for this incident.",
    "ack": "Acknowledged. The audit log shows you have seen this incident.",
}


def page(title: str, body: str, status: int = 200) -> web.Response:
    """A small, script-free HTML page."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · Medic</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=HEADERS)


def refused(exc: LinkRefused) -> web.Response:
    return page(exc.title, f"<p>{escape(exc.message)}</p>", exc.status)


async def _claim(request: web.Request) -> tuple[AgentView, str, Claim]:
    """The view, the token and what it claims; LinkRefused for a link that cannot be used."""
    view = request.app[VIEW]
    token = request.match_info["token"]
    if view.links is None:
        raise LinkRefused(403, "Links are off", "This agent does not sign links. Nothing was done.")
    return view, token, view.links.verify(token, time.time())


async def _facts(view: AgentView, claim: Claim) -> str:
    events = await view.audit.incident_events(claim.incident)
    first = events[0] if events else {}
    rows = [
        ("Incident", claim.incident),
        ("Policy", str(first.get("policy") or "?")),
        ("Target", str(first.get("target") or "?")),
        ("For", claim.recipient),
        ("Link expires", iso(claim.expires)),
    ]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"


async def confirm(request: web.Request) -> web.Response:
    """The confirmation page of a signed link; opening it changes nothing."""
    try:
        view, token, claim = await _claim(request)
    except LinkRefused as exc:
        return refused(exc)
    if when := await view.audit.write(partial(used_at, token=token)):
        return refused(_used(claim, when))
    form = (
        f'<form method="post"><button type="submit" class="{claim.action}">'
        f"{escape(claim.verb)}</button></form>"
        '<p class="note">The button works once; this page alone changes nothing.</p>'
    )
    return page(f"{claim.verb} incident {claim.incident}?", await _facts(view, claim) + form)


def _used(claim: Claim, when: str) -> LinkRefused:
    return LinkRefused(
        410,
        "This link was already used",
        f"The {claim.verb.lower()} link for incident {claim.incident} was used at {when}. "
        "Each link works once; nothing more was done.",
    )


async def act(request: web.Request) -> web.Response:
    """The button: spend the token, then approve, deny or acknowledge as its recipient."""
    try:
        view, token, claim = await _claim(request)
    except LinkRefused as exc:
        return refused(exc)
    now = time.time()
    if not await view.audit.write(partial(spend, token=token, claim=claim, now=now)):
        when = await view.audit.write(partial(used_at, token=token))
        return refused(_used(claim, when or "an earlier time"))
    try:
        if claim.action == "ack":
            await acknowledge(view.audit, claim.incident, claim.recipient, now, via="link")
        else:
            await view.answer_approval(
                claim.incident, claim.action == "approve", claim.recipient, None, via="link"
            )
    except (ApprovalNotFound, NoSuchIncident):
        return page("Nothing to answer", f"<p>Medic has no request for incident "
                    f"{escape(claim.incident)}. Nothing was done.</p>", 404)  # fmt: skip
    except NotWaiting as exc:
        return page("Too late", f"<p>{escape(str(exc))}. Nothing was done.</p>", 409)
    except BaseException:
        await view.audit.write(partial(unspend, token=token))  # not the human's fault
        raise
    return page(DONE[claim.action], await _facts(view, claim))


def routes() -> list[web.RouteDef]:
    return [web.get(PATH + "{token}", confirm), web.post(PATH + "{token}", act)]
