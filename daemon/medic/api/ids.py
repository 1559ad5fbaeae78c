"""Short ids: a unique prefix of an incident or silence id works wherever the full id does.

``medic audit show`` always took one; the routes that act on an incident (approve,
deny, acknowledge, its story) and the one that ends a silence take one too, so the CLI
and the web page can pass what a person typed. A prefix that fits more than one id is
a 409 listing the candidates; one that fits none is passed on as it is, so the route
answers its own 404.
"""

from __future__ import annotations

from collections.abc import Sequence

from medic.api.errors import ApiError
from medic.api.view import AgentView

SHOWN = 5  # candidates listed in the ambiguity message


def _one(kind: str, text: str, matches: Sequence[str]) -> str:
    if len(matches) <= 1:
        return matches[0] if matches else text
    listed = ", ".join(matches[:SHOWN]) + (", ..." if len(matches) > SHOWN else "")
    raise ApiError(
        409,
        f"{kind} {text!r} is ambiguous: it starts {listed}",
        code="ambiguous_id",
        hint="give more of the id",
    )


async def incident_id(view: AgentView, text: str) -> str:
    """The incident ``text`` names: itself, or the one id it is a prefix of."""
    return _one("incident", text, await view.audit.match_incidents(text, SHOWN + 1))


def silence_id(view: AgentView, text: str) -> str:
    """The ad-hoc silence ``text`` names: itself, or the one silence id it starts."""
    ids = [str(s.get("id")) for s in view.silences() if s.get("kind") == "silence"]
    if text in ids:
        return text
    return _one("silence", text, [i for i in ids if i.startswith(text)])
