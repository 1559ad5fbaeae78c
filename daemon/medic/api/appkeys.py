"""The typed keys under which the aiohttp application holds the agent view, the API
token, the API settings and the review page's source.

Route modules read ``request.app[VIEW]``; the middlewares, the introspection route
and the review routes read only ``API``, ``TOKEN`` and ``REVIEW``, which the fleet's
central review server (:mod:`medic.api.central`) sets without any agent. They live in
their own module so that ``app.py`` can import every route module without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from medic.api.review_source import ReviewSource
    from medic.api.view import AgentView
    from medic.config import ApiConfig

VIEW: web.AppKey[AgentView] = web.AppKey("view")
# The API settings (listen address, allowed hosts) as they are now.
API: web.AppKey[Callable[[], ApiConfig]] = web.AppKey("api")
# Where the review routes read: the agent's audit log, or the fleet's central database.
REVIEW: web.AppKey[ReviewSource] = web.AppKey("review")


@dataclass(frozen=True)
class ApiToken:
    """The bearer token the API accepts (None: the agent has none), and where an
    operator finds it (``$MEDIC_API_TOKEN``, ``.medic/api.token``) for messages."""

    value: str | None
    where: str


TOKEN: web.AppKey[ApiToken] = web.AppKey("token")
