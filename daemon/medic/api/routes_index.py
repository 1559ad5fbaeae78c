"""What the API offers: the route list (introspection) and the audit web page.

The route list is built from the router itself and each handler's docstring, so it
cannot drift from what is served; a test checks that docs/api.md names every route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from medic import __version__
from medic.api.appkeys import API, TOKEN
from medic.api.auth import token_required
from medic.api.errors import ApiError, dumps

STATIC_DIR = Path(__file__).parent / "static"
# The only files /static serves: what ships in the package, nothing found at request time.
STATIC_FILES = frozenset(
    p.name for p in STATIC_DIR.iterdir() if p.suffix in {".js", ".css", ".svg"}
)
PAGE_HEADERS = {
    # The page loads nothing but its own files and talks to nothing but this API.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _describe(route: web.AbstractRoute) -> tuple[str, str]:
    """The path template and one-line description of a route."""
    resource = route.resource
    path = resource.canonical if resource is not None else ""
    doc = (route.handler.__doc__ or "").strip().splitlines()
    return path, doc[0] if doc else ""


def describe_routes(app: web.Application) -> list[dict[str, Any]]:
    """Every route of ``app`` (HEAD twins left out), with its token rule for this config."""
    api = app[API]()
    out = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path, description = _describe(route)
        out.append(
            {
                "method": route.method,
                "path": path,
                "description": description,
                "token_required": token_required(route.method, path, api),
            }
        )
    return out


async def introspect(request: web.Request) -> web.Response:
    """This list: every route, its method, what it does and whether it needs the token."""
    api = request.app[API]()
    body = {
        "version": __version__,
        "auth": {"loopback": api.loopback, "token_configured": bool(request.app[TOKEN].value)},
        "routes": describe_routes(request.app),
    }
    return web.json_response(body, dumps=dumps)


async def page(request: web.Request) -> web.FileResponse:
    """The audit web page: recent incidents, each incident's story, filters."""
    return web.FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


async def static_file(request: web.Request) -> web.FileResponse:
    """The web page's script, styles and icon."""
    name = request.match_info["file"]
    if name not in STATIC_FILES:
        raise ApiError(
            404, f"no such file: /static/{name}", hint=f"files: {', '.join(sorted(STATIC_FILES))}"
        )
    return web.FileResponse(STATIC_DIR / name, headers={"X-Content-Type-Options": "nosniff"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/", page),
        web.get("/api/v1/", introspect),
        web.get("/static/{file}", static_file),
    ]
