"""Why a connection failed, in a few secret-free words: the ``error`` field of net probes.

The ``tcp``, ``http`` and ``tls.cert`` probes report an unreachable service as a
reading, not a probe failure; these turn the exceptions of sockets, TLS and aiohttp
into the short reasons their ``error`` field holds (``connection refused``, ``TLS:
certificate has expired``, ``cannot resolve db.internal``). None of them ever includes
a URL, a header or a body.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from medic.lazy import lazy_module

if TYPE_CHECKING:
    import ssl

    import aiohttp
else:
    ssl = lazy_module("ssl")
    aiohttp = lazy_module("aiohttp")


_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


def os_error_text(exc: OSError) -> str:
    """A short, secret-free reason for a failed connection ("connection refused")."""
    if exc.errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[exc.errno]
    text = str(exc)
    # Several addresses failed (localhost -> ::1 and 127.0.0.1): asyncio joins them.
    if f"[Errno {errno.ECONNREFUSED}]" in text:
        return "connection refused"
    return (exc.strerror or text or type(exc).__name__).lower()


def tls_error_text(exc: BaseException) -> str:
    """``WRONG_VERSION_NUMBER`` -> ``handshake failed (wrong version number)``."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return exc.verify_message
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return f"handshake failed ({reason.lower().replace('_', ' ')})"
    return "handshake failed"


def client_error_text(exc: aiohttp.ClientError) -> str:
    """A short reason for a failed request; never the URL, headers or body."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        message = getattr(cert_error, "verify_message", None) or str(cert_error)
        return "TLS: " + message[:1].lower() + message[1:].rstrip(".")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {exc.host}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS: " + tls_error_text(exc.os_error)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return os_error_text(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "bad response body"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "bad HTTP response"
    if isinstance(exc, aiohttp.ClientOSError):
        if isinstance(exc.__cause__, ssl.SSLError):
            return "TLS: " + tls_error_text(exc.__cause__)
        return os_error_text(exc)
    return f"request failed ({type(exc).__name__})"
