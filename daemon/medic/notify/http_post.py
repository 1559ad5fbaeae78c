"""One POST to a receiver's HTTP endpoint, its failures turned into NotifyErrors.

The PagerDuty, Slack and Alertmanager notifiers send the same way: a fresh session
bounded by the notifier's timeout, redirects not followed, at most ``read`` bytes of
the answer kept. No answer in time, or no connection at all, is a NotifyError marked
retryable that names the notifier and the receiver (``where``: a URL without its
password, or a name such as ``Slack`` when the URL itself is the secret). What the
answer means is each notifier's own business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medic.bounds import ascii_int
from medic.durations import format_duration
from medic.errors import NotifyError
from medic.lazy import lazy_module
from medic.notify.base import Notifier

if TYPE_CHECKING:
    import aiohttp
    import yarl
else:
    aiohttp = lazy_module("aiohttp")
    yarl = lazy_module("yarl")


@dataclass(frozen=True)
class Answer:
    """The receiver's status, the start of its body, and its ``Retry-After`` header."""

    status: int
    body: bytes
    retry_after: str | None

    @property
    def retry_seconds(self) -> float | None:
        """``Retry-After`` in seconds when it is the delta-seconds form, else None."""
        seconds = ascii_int((self.retry_after or "").strip(), max_digits=9)
        return None if seconds is None else float(seconds)


def shown_url(url: str) -> str:
    """``url`` with any password in it masked, for error messages."""
    try:
        parsed = yarl.URL(url)
    except ValueError:
        return url
    return str(parsed.with_password("***")) if parsed.password else url


async def post(
    notifier: Notifier,
    url: str,
    *,
    where: str,
    headers: Mapping[str, str],
    total: float,
    read: int,
    data: bytes | None = None,
    json: Any = None,
    detail: Callable[[BaseException], str] = str,
) -> Answer:
    """POST ``data`` (or ``json``) to ``url`` within ``total`` seconds, all told;
    ``detail`` says what went wrong in an error message (default: the exception's text)."""
    prefix = f"{notifier.type_name} {notifier.name}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=total)) as s,
            s.post(url, data=data, json=json, headers=headers, allow_redirects=False) as response,
        ):
            body = await response.content.read(read)
            return Answer(response.status, body, response.headers.get("Retry-After"))
    except TimeoutError as exc:
        raise NotifyError(
            f"{prefix}: {where} did not answer within {format_duration(total)}",
            notifier=notifier.name,
            retryable=True,
        ) from exc
    except (aiohttp.ClientError, ValueError) as exc:
        raise NotifyError(
            f"{prefix}: cannot reach {where}: {detail(exc)}",
            notifier=notifier.name,
            retryable=True,
        ) from exc
