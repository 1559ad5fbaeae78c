"""The Host header check: a DNS-rebinding page cannot read the API.

A web page on any site can make the visitor's browser resolve the page's own name to
127.0.0.1 (DNS rebinding) and then read what the API answers: the browser believes
it talks to the page's site, and says so in the ``Host`` header. So the API answers
only requests whose ``Host`` names it, with or without a port:

- a loopback name: ``localhost``, any ``127.x.y.z``, ``[::1]``;
- a name listed in ``api.allowed_hosts`` (the name a reverse proxy forwards, say);
- when the API listens beyond loopback, the address it listens on; on a wildcard
  address (``0.0.0.0``, ``::``), any IP address: a page cannot rebind an address
  literal, since its origin would then be that address, i.e. this API itself.

Any other ``Host``, or none, is a 421 in the error envelope whose hint names
``api.allowed_hosts``. The check runs before the token check and for every route,
the web page and ``/metrics`` included.
"""

from __future__ import annotations

import ipaddress
import re

from aiohttp import hdrs, web

from medic.api.appkeys import API
from medic.api.errors import ApiError, Handler
from medic.config import ApiConfig

WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 -- names of wildcard binds, not a bind
LOOPBACK_NAMES = frozenset({"localhost"})
HINT = (
    "open the API as http://127.0.0.1:<port> or http://localhost:<port>, or add this "
    "name to api.allowed_hosts in the agent config (docs/api.md, 'Host names')"
)
# host, or [v6], each optionally followed by :port.
_HOST = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\[\]:]+))(?::(?P<port>\d{1,5}))?$")


def host_name(header: str) -> str | None:
    """The name or address in a ``Host`` header, port removed, lower case; None if malformed."""
    match = _HOST.fullmatch(header.strip())
    if match is None:
        return None
    return (match.group("v6") or match.group("name")).lower()


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def allowed(header: str | None, api: ApiConfig) -> bool:
    """Whether a request with this ``Host`` header may be answered under ``api``."""
    name = host_name(header) if header else None
    if name is None:
        return False
    address = _ip(name)
    if name in LOOPBACK_NAMES or (address is not None and address.is_loopback):
        return True
    if name in api.allowed_hosts:
        return True
    if api.loopback:
        return False
    listen = api.host.lower().strip("[]")
    if listen in WILDCARDS:
        return address is not None
    return name == listen or (address is not None and address == _ip(listen))


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (421) a request whose Host header does not name this API."""
    header = request.headers.get(hdrs.HOST)
    if not allowed(header, request.app[API]()):
        if header is None:
            message = "the request has no Host header"
        else:
            message = f"this API does not answer to the host {header[:100]!r}"
        raise ApiError(421, message, code="unknown_host", hint=HINT)
    return await handler(request)
