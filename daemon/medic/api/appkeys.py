"""The typed key under which the aiohttp application holds the agent view.

Route modules and middlewares read ``request.app[VIEW]``; it lives in its own module
so that ``app.py`` can import every route module without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from medic.api.view import AgentView

VIEW: web.AppKey[AgentView] = web.AppKey("view")
