"""Reading Prometheus samples over HTTP: fetch, pick the wanted lines, parse, name series.

Also turns an answer of the query API into targets (:func:`query_targets`).

Used by the ``prometheus`` probe. Parsing is ``prometheus_client``'s (text format
0.0.4, or OpenMetrics when the endpoint answers with it), never a regex; before it,
:func:`wanted_lines` drops every line that cannot belong to a wanted metric, which makes
reading one series out of a 1,000-series exporter about ten times cheaper and lets a
malformed line of some other metric pass unnoticed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medic.durations import format_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.probes.base import Measurement

if TYPE_CHECKING:
    import asyncio

    import aiohttp
    import yarl
    from prometheus_client import parser as text_parser
    from prometheus_client.openmetrics import parser as openmetrics_parser
else:
    asyncio = lazy_module("asyncio")
    aiohttp = lazy_module("aiohttp")
    yarl = lazy_module("yarl")
    text_parser = lazy_module("prometheus_client.parser")
    openmetrics_parser = lazy_module("prometheus_client.openmetrics.parser")

MAX_BODY = 16 * 1024 * 1024
# Bodies bigger than this are filtered and parsed in a thread, off the event loop.
THREAD_ABOVE = 256 * 1024
ACCEPT = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5,*/*;q=0.1"
_COUNTER_PARTS = ("_bucket", "_count", "_sum")
MAX_TARGETS = 1000
_QUERY_TARGET_CHARS = 80


@dataclass(frozen=True, slots=True)
class ExpoSample:
    """One sample of an exposition, and whether it only ever counts up."""

    name: str
    labels: Mapping[str, str]
    value: float
    counter: bool
    family_type: str


def series_id(name: str, labels: Mapping[str, str]) -> str:
    """Prometheus notation with sorted labels: ``up{instance="a",job="node"}``, or ``up``."""
    if not labels:
        return name
    inner = ",".join(f'{k}="{_escape(labels[k])}"' for k in sorted(labels))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class Selector:
    """A sample name plus exact label values, as written in a policy."""

    metric: str
    labels: Mapping[str, str]

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> Selector | None:
        if not options or "metric" not in options:
            return None
        labels = {str(k): str(v) for k, v in (options.get("labels") or {}).items()}
        return cls(str(options["metric"]), labels)

    def matches(self, sample: ExpoSample) -> bool:
        # The parser names every counter sample *_total, also when the exposition wrote
        # `jobs 3` under `# TYPE jobs counter`; the metric is matched as written.
        if sample.name != self.metric and not (
            sample.family_type == "counter" and sample.name == self.metric + "_total"
        ):
            return False
        return all(sample.labels.get(k) == v for k, v in self.labels.items())

    def names(self) -> set[str]:
        """Names the wanted lines may carry (a counter with or without _total)."""
        return {self.metric, self.metric + "_total", self.metric.removesuffix("_total")}

    def require_known(self, known: set[str], text: str, where: str) -> None:
        """Fail when the exposition has no metric of this name at all (a typo, a wrong URL)."""
        if self.metric in known or any(_related(f, [self.metric]) for f in known):
            return
        import difflib  # here: only a mistake needs a guess

        close = difflib.get_close_matches(self.metric, sorted(exposed_names(text)), n=3)
        hint = (
            "did you mean " + " or ".join(close) + "?"
            if close
            else "metric is the sample name as exposed (with _total, _bucket, ...)"
        )
        raise ProbeError(f"{where} exposes no metric named {self.metric}", hint=hint)

    def __str__(self) -> str:
        return series_id(self.metric, self.labels)


def _related(family: str, names: Iterable[str]) -> bool:
    """``family`` could hold samples named ``names`` (histogram ``x`` holds ``x_bucket``)."""
    return any(n == family or n.startswith(family + "_") for n in names)


def wanted_lines(text: str, names: set[str]) -> str:
    """The lines of ``text`` that can concern ``names``: their samples and metadata."""
    kept: list[str] = []
    for line in text.split("\n"):
        stripped = line.lstrip()
        if not stripped:
            continue
        if stripped[0] == "#":
            parts = stripped.split(None, 3)
            if parts[1:2] == ["EOF"] or (
                len(parts) >= 3
                and parts[1] in ("TYPE", "HELP", "UNIT")
                and _related(parts[2], names)
            ):
                kept.append(line)
            continue
        if stripped.split(None, 1)[0].split("{", 1)[0] in names:
            kept.append(line)
    return "\n".join(kept) + "\n"


def exposed_names(text: str) -> set[str]:
    """Every sample name in an exposition (for did-you-mean hints)."""
    names: set[str] = set()
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped and stripped[0] != "#":
            names.add(stripped.split(None, 1)[0].split("{", 1)[0])
    return names


def _parse(text: str, content_type: str, names: set[str]) -> tuple[list[ExpoSample], set[str]]:
    lines = wanted_lines(text, names)
    if content_type == "application/openmetrics-text":
        families = openmetrics_parser.text_string_to_metric_families(lines)  # type: ignore[no-untyped-call]  # the OpenMetrics parser has no annotations
    else:
        families = text_parser.text_string_to_metric_families(lines)
    samples: list[ExpoSample] = []
    known: set[str] = set()
    for family in families:
        known.add(family.name)
        for s in family.samples:
            known.add(s.name)
            counter = (family.type == "counter" and not s.name.endswith("_created")) or (
                family.type in ("histogram", "summary") and s.name.endswith(_COUNTER_PARTS)
            )
            samples.append(ExpoSample(s.name, s.labels, float(s.value), counter, family.type))
    return samples, known


async def parse_samples(
    text: str, content_type: str, names: set[str]
) -> tuple[list[ExpoSample], set[str]]:
    """Samples named ``names`` in an exposition, and every metric name seen near them.

    Raises ValueError when the wanted lines do not parse.
    """
    if len(text) > THREAD_ABOVE:
        return await asyncio.to_thread(_parse, text, content_type, names)
    return _parse(text, content_type, names)


def shown_url(url: str) -> str:
    """The URL as messages may show it: no user, password or query string."""
    try:
        return str(yarl.URL(url).with_user(None).with_query(None))
    except (ValueError, TypeError):
        return "(unparseable URL)"


async def http_text(
    session: aiohttp.ClientSession,
    url: str,
    params: Mapping[str, str] | None,
    headers: Mapping[str, str],
    *,
    limit: float,
) -> tuple[int, str, str]:
    """GET ``url``: (status, content type, body as text), cut off after ``limit`` seconds."""
    shown = shown_url(url)
    try:
        async with session.get(
            url,
            params=params,
            headers={"Accept": ACCEPT, **headers},
            timeout=aiohttp.ClientTimeout(total=limit),
        ) as resp:
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_BODY:
                    raise ProbeError(
                        f"{shown} answered with more than {MAX_BODY // (1024 * 1024)} MiB",
                        hint="point the probe at a smaller endpoint",
                    )
            return resp.status, resp.content_type, body.decode("utf-8", "replace")
    except TimeoutError:
        raise ProbeError(
            f"no answer from {shown} within {format_duration(limit)}",
            hint="the endpoint is overloaded or hung; raise the probe's timeout if it is slow",
        ) from None
    except (aiohttp.InvalidURL, ValueError):
        raise ProbeError(
            f"{shown} is not a URL the probe can read", hint="write http://host:port/path"
        ) from None
    except aiohttp.ClientError as exc:
        raise ProbeError(
            f"cannot read {shown}: {exc or type(exc).__name__}",
            hint="check that the URL is right and the endpoint is listening",
        ) from None


def query_targets(status: int, text: str, where: str, unnamed: str) -> Measurement:
    """Targets from a ``/api/v1/query`` answer; ProbeError with Prometheus's own message.

    ``unnamed`` (the probe's ``name``, else the query) names a series with no labels.
    """
    hint = "server is the Prometheus base URL, like http://prometheus:9090"
    try:
        body = json.loads(text)
    except ValueError:
        raise ProbeError(f"{where} answered HTTP {status}, not JSON", hint=hint) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        if error is None:
            raise ProbeError(f"{where} answered HTTP {status}, not the query API", hint=hint)
        raise ProbeError(f"Prometheus rejected the query: {error}", hint="check the PromQL")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return {"scalar": {"value": number(result[1]), "labels": {}}}
    if kind != "vector" or not isinstance(result, list):
        raise ProbeError(
            f"the query returns a {kind}, not an instant vector or a scalar",
            hint="drop the range ([5m]) or wrap it in a function such as rate()",
        )
    check_count(len(result), _short(unnamed))
    out: Measurement = {}
    for item in result:
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        name = labels.pop("__name__", "")
        target = series_id(name, labels) if name or labels else _short(unnamed)
        value = item.get("value")
        out[target] = {"value": number(value[1] if value else None), "labels": labels}
    return out


def check_count(count: int, what: object) -> None:
    """Refuse to turn a selection into more than MAX_TARGETS targets."""
    if count > MAX_TARGETS:
        raise ProbeError(
            f"{what} matches {count} series, more than {MAX_TARGETS} targets",
            hint="narrow it with labels (or aggregate in PromQL)",
        )


def finite(value: float) -> float | None:
    """The value, or None for NaN and infinities (JSON and the audit log cannot hold them)."""
    return float(value) if math.isfinite(value) else None


def number(text: Any) -> float | None:
    try:
        return finite(float(text))
    except (TypeError, ValueError):
        return None


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _QUERY_TARGET_CHARS else flat[: _QUERY_TARGET_CHARS - 3] + "..."
