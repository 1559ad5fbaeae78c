"""The ``prometheus`` probe: read metrics from an exposition endpoint or a Prometheus server.

Three forms, chosen by the options:

- ``scrape`` + ``metric``: read the text exposition (``/metrics``) directly, one target
  per series; with ``window`` the probe keeps its own samples
  (:mod:`medic.probes.monitoring.promwindow`) to say how much a counter grew, so
  "block height not increasing for 30 m" needs no Prometheus server at all;
- ``scrape`` + ``numerator`` + ``denominator`` + ``window``: one target, the ratio of two
  rates (an error rate);
- ``query`` + ``server``: an instant PromQL query, one target per series of the result.

The exposition is parsed by ``prometheus_client``'s parser, never by regexes; only the
lines of the wanted metrics are handed to it, so a 1,000-series exporter costs little.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic import secrets
from medic.clock import Clock, SystemClock
from medic.durations import parse_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import duration, options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.monitoring.promoptions import option_problems

if TYPE_CHECKING:
    import aiohttp

    from medic.probes.monitoring import promsamples
    from medic.probes.monitoring.promsamples import ExpoSample, Selector
else:
    aiohttp = lazy_module("aiohttp")
    promsamples = lazy_module("medic.probes.monitoring.promsamples")

FIELDS = (
    Field("value", "number", "The series' value (null for NaN or infinity); in ratio form, ratio."),
    Field("labels", "mapping", "The series' labels, e.g. labels.instance (empty in ratio form)."),
    Field("increase", "number", "With window: growth over the window, counter resets handled."),
    Field("rate", "number", "With window: increase per second over the window.", "per second"),
    Field("changed", "boolean", "With window: the value changed within the window."),
    Field("window_full", "boolean", "With window: the probe has watched for the whole window."),
    Field("ratio", "number", "Ratio form: rate(numerator) / rate(denominator); null at rate 0."),
    Field("numerator_rate", "number", "Ratio form: summed per-second rate of numerator."),
    Field("denominator_rate", "number", "Ratio form: summed per-second rate of denominator."),
)
_WINDOWED = ["increase", "rate", "changed", "window_full"]
_RATIO = ["ratio", "numerator_rate", "denominator_rate", "window_full"]

_LABELS = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "Only series whose labels have exactly these values.",
}
_SELECTOR = options_schema(
    {
        "metric": {"type": "string", "minLength": 1, "description": "Sample name."},
        "labels": _LABELS,
    },
    required=["metric"],
)
_URL = {"type": "string", "pattern": "^https?://"}


@probes.register("prometheus")
class PrometheusProbe(Probe):
    """Read Prometheus metrics: scrape an exposition endpoint or run an instant PromQL query.

    With ``scrape: URL`` and ``metric`` (a sample name as exposed, like
    ``node_load1`` or ``http_requests_total``; ``labels`` narrows by exact values)
    each matching series is a target named in Prometheus notation
    (``node_load1{instance="a"}``). Adding ``window`` makes the probe keep its own
    samples and yield ``increase``, ``rate``, ``changed`` and ``window_full``; write
    ``window_full and increase == 0`` for "has not grown for the whole window" so it
    cannot fire just after the agent starts. ``numerator`` and ``denominator`` (each
    ``{metric, labels}``) with ``window`` give one target with the ``ratio`` of their
    rates. With ``query: PROMQL`` and ``server`` (the Prometheus base URL) each series
    of the instant result is a target (a scalar result is the target ``scalar``, a
    series without labels is named ``name`` or the query); an empty result selects
    nothing, so compare in ``when:``, not in PromQL. ``token`` (sent as a Bearer
    token) and ``headers`` values may be secret references.

    ```yaml
    version: 1
    policies:
      - name: block-height-stalled
        description: Restart the node when its block height has not grown for 30 minutes.
        probe:
          type: prometheus
          scrape: http://127.0.0.1:9100/metrics
          metric: xai_block_height
          window: 30m
          every: 1m
        when: window_full and increase == 0
        remediate:
          - command: {argv: [systemctl, restart, xai-node], timeout: 2m}
        verify: {after: 10m}
        limits: {max: 2, per: 6h, cooldown: 30m}
      - name: node-exporter-down
        description: Say so when Prometheus cannot scrape a node exporter.
        probe:
          type: prometheus
          server: http://127.0.0.1:9090
          query: up{job="node"}
          every: 1m
        when: value == 0
        for: 5m
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "scrape": {**_URL, "description": "Exposition URL to read (e.g. .../metrics)."},
            "metric": {"type": "string", "minLength": 1, "description": "Sample name to read."},
            "labels": _LABELS,
            "window": duration("Keep samples this long for increase, rate and ratio."),
            "numerator": {**_SELECTOR, "description": "Ratio form: the counter on top."},
            "denominator": {**_SELECTOR, "description": "Ratio form: the counter below."},
            "query": {"type": "string", "minLength": 1, "description": "Instant PromQL query."},
            "server": {**_URL, "description": "Prometheus base URL, for query."},
            "name": {
                "type": "string",
                "minLength": 1,
                "description": "Target id of a ratio, or of a query result without labels.",
            },
            "token": secrets.schema("Sent as `Authorization: Bearer`."),
            "headers": {
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "string"}, secrets.SCHEMA]},
                "description": "Extra request headers; a value may be a secret reference.",
            },
        },
    )
    fields = FIELDS
    default_every = 30.0
    default_timeout = 10.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.clock: Clock = SystemClock()
        self.query: str | None = options.get("query")
        self.url = str(options.get("scrape") or options.get("server", ""))
        self.name: str | None = options.get("name")
        self.selector = promsamples.Selector.from_options(options) if "metric" in options else None
        self.numerator = promsamples.Selector.from_options(options.get("numerator"))
        self.denominator = promsamples.Selector.from_options(options.get("denominator"))
        # Here, not at the top: `medic validate` loads the class, never runs it.
        from medic.probes.monitoring.promwindow import WindowStore

        window = options.get("window")
        self.store = WindowStore(parse_duration(window)) if window is not None else None
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        return option_problems(options)

    @classmethod
    def field_names(cls) -> list[str]:
        """Fields every form yields; the windowed and ratio ones come from the options."""
        return ["value", "labels"]

    @classmethod
    def option_fields(cls, options: Mapping[str, Any]) -> list[str]:
        if "query" in options or options.get("window") is None:
            return []
        return _RATIO if "numerator" in options else _WINDOWED

    async def measure(self) -> Measurement:
        if self.query is not None:
            return await self._instant_query(self.query)
        if self.selector is not None:
            return await self._scrape_series(self.selector)
        return await self._scrape_ratio()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- scrape ---------------------------------------------------------------

    async def _read_samples(self, selectors: list[Selector]) -> list[ExpoSample]:
        status, content_type, text = await self._get(self.url, None)
        if status != 200:
            raise ProbeError(
                f"{promsamples.shown_url(self.url)} answered HTTP {status}",
                hint="scrape is the exporter's metrics URL, like http://host:9100/metrics",
            )
        try:
            names = set().union(*(s.names() for s in selectors))
            samples, known = await promsamples.parse_samples(text, content_type, names)
        except ValueError as exc:
            raise ProbeError(
                f"{promsamples.shown_url(self.url)} is not a Prometheus exposition: {exc}",
                hint="scrape is the exporter's metrics URL, like http://host:9100/metrics",
            ) from exc
        for selector in selectors:
            selector.require_known(known, text, promsamples.shown_url(self.url))
        return samples

    async def _scrape_series(self, selector: Selector) -> Measurement:
        samples = await self._read_samples([selector])
        now = self.clock.monotonic()
        matched = [s for s in samples if selector.matches(s)]
        promsamples.check_count(len(matched), selector)
        out: Measurement = {}
        for sample in matched:
            key = promsamples.series_id(selector.metric, sample.labels)
            fields: dict[str, Any] = {
                "value": promsamples.finite(sample.value),
                "labels": dict(sample.labels),
            }
            if self.store is not None:
                self.store.add(key, now, float(sample.value), counts_from_zero=sample.counter)
                stats = self.store.stats(key, now)
                fields["increase"] = stats.increase
                fields["rate"] = stats.rate
                fields["changed"] = stats.changed
                fields["window_full"] = stats.full
            out[key] = fields
        if self.store is not None:
            self.store.finish_run(now)
        return out

    async def _scrape_ratio(self) -> Measurement:
        assert self.numerator is not None and self.denominator is not None  # validate() saw to it
        assert self.store is not None
        samples = await self._read_samples([self.numerator, self.denominator])
        now = self.clock.monotonic()
        rates: list[float | None] = []
        for tag, selector in (("n", self.numerator), ("d", self.denominator)):
            matched = [s for s in samples if selector.matches(s)]
            promsamples.check_count(len(matched), selector)
            total: float | None = None
            for sample in matched:
                key = f"{tag}:{promsamples.series_id(selector.metric, sample.labels)}"
                self.store.add(key, now, float(sample.value), counts_from_zero=sample.counter)
                rate = self.store.stats(key, now).rate
                if rate is not None:
                    total = (total or 0.0) + rate
            rates.append(total)
        full = self.store.running_for_window(now)
        self.store.finish_run(now)
        numerator, denominator = rates
        if numerator is None and denominator is not None:
            numerator = 0.0  # no numerator series yet: nothing counted
        ratio = numerator / denominator if numerator is not None and denominator else None
        target = self.name or f"{self.numerator} / {self.denominator}"
        fields: dict[str, Any] = {
            "value": ratio,
            "labels": {},
            "ratio": ratio,
            "numerator_rate": numerator,
            "denominator_rate": denominator,
            "window_full": full,
        }
        return {target: fields}

    # --- query ----------------------------------------------------------------

    async def _instant_query(self, query: str) -> Measurement:
        url = self.url.rstrip("/") + "/api/v1/query"
        timeout = self.timeout
        # Prometheus takes plain seconds here; "2.5s" would be rejected.
        params = {"query": query, "timeout": f"{max(timeout, 0.001):g}"}
        status, _, text = await self._get(url, params)
        return promsamples.query_targets(
            status, text, promsamples.shown_url(url), self.name or query
        )

    # --- HTTP -----------------------------------------------------------------

    async def _get(self, url: str, params: Mapping[str, str] | None) -> tuple[int, str, str]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = self.timeout
        return await promsamples.http_text(
            self._session, url, params, self._headers(), limit=timeout
        )

    def _headers(self) -> dict[str, str]:
        """Request headers with secrets resolved now (so a rotated token is picked up)."""
        headers: dict[str, str] = {}
        try:
            for name, value in (self.options.get("headers") or {}).items():
                headers[str(name)] = value if isinstance(value, str) else secrets.resolve(value)
            token = self.options.get("token")
            if token is not None:
                headers["Authorization"] = f"Bearer {secrets.resolve(token)}"
        except secrets.SecretError as exc:
            raise ProbeError(exc.message, hint=exc.hint) from None
        return headers
