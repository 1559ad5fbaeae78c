"""The typed keys under which the aiohttp application holds the agent view and the
API token.

Route modules and middlewares read ``request.app[VIEW]``; it lives in its own module
so that ``app.py`` can import every route module without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from medic.api.view import AgentView

VIEW: web.AppKey[AgentView] = web.AppKey("view")


@dataclass(frozen=True)
class ApiToken:
    """The bearer token the API accepts (None: the agent has none), and where an
    operator finds it (``$MEDIC_API_TOKEN``, ``.medic/api.token``) for messages."""

    value: str | None
    where: str


TOKEN: web.AppKey[ApiToken] = web.AppKey("token")
