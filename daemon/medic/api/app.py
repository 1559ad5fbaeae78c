"""The aiohttp application: middlewares in order, then every route module.

``create_app`` is all the agent and the tests need; ``server.start_api`` runs it.
Middlewares run outside-in: the error envelope wraps everything (so Host and auth
failures and router 404/405s are rendered the same way), then the Host header check
(before the token, so a rebinding page learns nothing), then the token check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from medic.api import (
    routes_alertmanager,
    routes_approvals,
    routes_audit,
    routes_control,
    routes_health,
    routes_index,
    routes_links,
    routes_policies,
    routes_review,
    routes_silences,
)
from medic.api.appkeys import API, REVIEW, TOKEN, VIEW, ApiToken
from medic.api.auth import auth_middleware, configured_token
from medic.api.errors import error_middleware
from medic.api.hosts import host_middleware
from medic.api.review_source import LocalReview

if TYPE_CHECKING:
    from medic.api.view import AgentView

ROUTE_MODULES = (
    routes_health,
    routes_index,
    routes_policies,
    routes_audit,
    routes_control,
    routes_alertmanager,
    routes_silences,
    routes_approvals,
    routes_links,
    routes_review,
)

# Request bodies are small JSON documents at most; refuse anything bigger early.
MAX_BODY = 64 * 1024


def create_app(view: AgentView, token: ApiToken | None = None) -> web.Application:
    """The API application serving ``view`` (the running agent, or a fake in tests);
    ``token``: the one it accepts, by default the config's."""
    app = web.Application(
        middlewares=[error_middleware, host_middleware, auth_middleware], client_max_size=MAX_BODY
    )
    app[VIEW] = view
    app[API] = lambda: view.config.api
    app[REVIEW] = LocalReview(view)
    app[TOKEN] = token or configured_token(view.config.api)
    for module in ROUTE_MODULES:
        app.add_routes(module.routes())
    return app
