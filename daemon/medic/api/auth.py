"""Bearer-token checks for the API.

The rules, in one place (the introspection route and the docs report the same):

- a request that changes state (any method but GET, HEAD, OPTIONS) always needs the
  token; when the agent has no token, such requests get 403. The token is the one the
  config names (``api.token: {env: NAME}`` or ``{file: /path}``, ``$MEDIC_API_TOKEN``), else the
  one the agent made in its state directory (``api.token``, mode 0600), which the CLI
  on the same host reads through ``--config``;
- when the API listens beyond loopback, every request needs the token, except the
  web page's own static files (``/`` and ``/static/...``), which hold no agent data:
  a browser must be able to load the page before it can send the token the page asks
  for;
- the signed links in messages (``/links/<token>``, GET and POST) need no bearer
  token: their signed, expiring, single-use token is the credential;
- a wrong or missing token gets 401 with ``WWW-Authenticate: Bearer``.

The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from medic import secrets
from medic.api.appkeys import API, TOKEN, ApiToken
from medic.api.errors import ApiError, Handler
from medic.config import ApiConfig

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/"})
SIGNED_PREFIX = "/links/"
NO_TOKEN_HINT = (
    "the agent is missing the token, not you: set api.token: {env: NAME} in the agent"  # noqa: S105 -- a hint, not a secret
    " config, or let it make one in a writable state_dir (api.token), then restart it"
)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="medic"'}


def is_public(method: str, path: str) -> bool:
    """The web page's shell: readable without a token wherever the API listens."""
    return method in SAFE_METHODS and (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))


def token_required(method: str, path: str, api: ApiConfig) -> bool:
    """Whether a request with this method and path must carry the bearer token."""
    if path.startswith(SIGNED_PREFIX):
        return False
    if method not in SAFE_METHODS:
        return True
    return not api.loopback and not is_public(method, path)


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def configured_token(api: ApiConfig) -> ApiToken:
    """The token the agent config gives (resolved by the caller), and where it is kept."""
    where = secrets.describe(api.token_ref) if api.token_ref else "$MEDIC_API_TOKEN"
    return ApiToken(api.token, where)


def check_token(request: web.Request, api: ApiConfig) -> None:
    """Raise the envelope error unless the request carries the agent's token."""
    token = request.app[TOKEN]
    if not token.value:
        raise ApiError(
            403,
            f"{request.method} {request.path} needs an API token and the agent has none",
            hint=NO_TOKEN_HINT,
        )
    # Where the token is kept is told on loopback only: beyond it, strangers may ask.
    where = f"; on the agent's host it is in {token.where}" if api.loopback else ""
    presented = _presented_token(request)
    if presented is None:
        raise ApiError(
            401,
            "this request needs a bearer token and sent none",
            hint="send the header 'Authorization: Bearer <token>' with the agent's API token"
            + where,
            headers=CHALLENGE,
        )
    if not hmac.compare_digest(presented.encode(), token.value.encode()):
        raise ApiError(
            401,
            "the bearer token is not the agent's API token",
            hint="send the agent's API token" + where,
            headers={"WWW-Authenticate": 'Bearer realm="medic", error="invalid_token"'},
        )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce the token rules before any handler runs."""
    api = request.app[API]()
    unmatched = request.match_info.http_exception is not None
    # On loopback an unknown route or wrong method answers 404/405 as it is: it tells
    # the caller more than 401 would and reveals nothing. Beyond loopback, the token
    # comes first so that strangers cannot map the routes.
    if token_required(request.method, request.path, api) and not (unmatched and api.loopback):
        check_token(request, api)
    return await handler(request)
