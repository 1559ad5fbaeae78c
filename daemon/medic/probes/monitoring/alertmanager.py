"""The ``alertmanager`` probe: Prometheus alerts, as Alertmanager posts them, become targets.

Alertmanager's webhook (``POST /api/v1/alertmanager``) fills the agent's
:data:`medic.alerts.BOOK`; this probe only reads it, so ``measure()`` costs a walk
over the book and no I/O. ``watch()`` subscribes to the book, so a policy is
evaluated the moment a matching alert fires or resolves, not at its next interval.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.alerts import BOOK, Alert, AlertBook
from medic.durations import DurationError, parse_duration
from medic.errors import PatternError
from medic.lazy import lazy_module
from medic.option_schemas import duration, options_schema
from medic.patterns import MAX_SUBJECT, compile_pattern
from medic.probes.base import Field, Measurement, Probe, probes

if TYPE_CHECKING:
    import asyncio

    from medic.probes.monitoring import promsamples
else:
    asyncio = lazy_module("asyncio")
    promsamples = lazy_module("medic.probes.monitoring.promsamples")

DEFAULT_KEEP_RESOLVED = "10m"
REGEX_PREFIX = "~"

FIELDS = (
    Field("firing", "boolean", "The alert is firing (false once Alertmanager said resolved)."),
    Field("status", "string", "firing or resolved, as Alertmanager says."),
    Field("fingerprint", "string", "Alertmanager's fingerprint of the alert's labels."),
    Field("labels", "mapping", "The alert's labels, e.g. labels.severity."),
    Field("annotations", "mapping", "The alert's annotations, e.g. annotations.runbook_url."),
    Field("summary", "string", "annotations.summary, or null."),
    Field("starts_at", "number", "When the alert started firing (unix time).", "seconds"),
    Field("ends_at", "number", "When it resolved (unix time), or null while firing.", "seconds"),
    Field("age", "number", "Seconds since the alert started firing.", "seconds"),
    Field("generator_url", "string", "Link to the rule's expression in Prometheus."),
)


class Matcher:
    """One label's wanted value: exact, or ``~regex`` (RE2) matched against the whole value.

    A value longer than ``MAX_SUBJECT`` characters never matches a regex.
    """

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted
        regex = wanted.startswith(REGEX_PREFIX)
        self.regex = compile_pattern(wanted[1:]) if regex else None

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.regex is not None:
            return self.regex.fullmatch(value, limit=MAX_SUBJECT)
        return value == self.wanted


def _regex_problem(where: str, wanted: object) -> str | None:
    if not isinstance(wanted, str) or not wanted.startswith(REGEX_PREFIX):
        return None
    try:
        compile_pattern(wanted[1:])
    except PatternError as exc:
        return (
            f"{where}: {wanted!r}: {exc}; after `~` write an RE2 regular expression that "
            "must match the whole value, like ~web-.*"
        )
    return None


@probes.register("alertmanager")
class AlertmanagerProbe(Probe):
    """Alerts that Alertmanager posts to Medic: one target per matching alert.

    Point an Alertmanager ``webhook_configs`` receiver at the agent's
    ``/api/v1/alertmanager`` with the API token (docs/alertmanager.md has the
    config). ``alertname`` picks the alert; ``labels`` narrows by label values, each
    exact, or a regular expression matching the whole value when it starts with
    ``~`` (``alertname`` may be one too). A target is named after the alert's labels in
    Prometheus notation (``NodeServiceDown{instance="web-1",unit="nginx.service"}``),
    or by the value of ``target_label`` (``nginx.service``, then usable as
    ``{target}`` in actions) when that value is unique among the matched alerts.
    When Alertmanager says resolved, the target stays for ``keep_resolved`` with
    ``firing`` false, so the policy's verify sees the alert healed; with
    ``keep_resolved: 0s`` it vanishes at once and the incident is closed as cleared.
    Every field, the ``fingerprint`` among them, is kept in the incident's audit events.

    ```yaml
    version: 1
    policies:
      - name: service-down-alert
        description: Restart the unit Prometheus says is down, on this host's alert.
        probe:
          type: alertmanager
          alertname: NodeServiceDown
          labels: {instance: "~web-1(:9100)?"}
          target_label: unit
          every: 1m
        when: firing
        remediate:
          - command: {argv: [systemctl, restart, "--", "{target}"], timeout: 1m}
        verify: {after: 2m}
        limits: {max: 3, per: 1h, cooldown: 5m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "alertname": {
                "type": "string",
                "minLength": 1,
                "description": "The alert's alertname label (or ~regex, RE2).",
            },
            "labels": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Only alerts whose labels have these values (each exact or ~regex).",
            },
            "target_label": {
                "type": "string",
                "minLength": 1,
                "description": "Name each target by this label's value instead of all labels.",
            },
            "keep_resolved": duration(
                "How long a resolved alert stays a target with firing false (at most 1h).",
                DEFAULT_KEEP_RESOLVED,
            ),
        },
        required=["alertname"],
    )
    fields = FIELDS
    default_every = 30.0
    default_timeout = 5.0
    watches = True

    def __init__(
        self,
        options: Mapping[str, Any],
        *,
        timeout: float | None = None,
        book: AlertBook | None = None,
    ) -> None:
        super().__init__(options, timeout=timeout)
        self.book = book if book is not None else BOOK
        self.matchers = {"alertname": Matcher(str(options["alertname"]))}
        self.matchers.update({k: Matcher(v) for k, v in (options.get("labels") or {}).items()})
        self.target_label: str | None = options.get("target_label")
        self.keep_resolved = parse_duration(options.get("keep_resolved", DEFAULT_KEEP_RESOLVED))

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems = [_regex_problem("alertname", options.get("alertname"))]
        labels = options.get("labels") or {}
        problems += [_regex_problem(f"labels.{k}", v) for k, v in labels.items()]
        if "alertname" in labels:
            problems.append("labels.alertname: write the alert's name as alertname: instead.")
        try:
            keep = parse_duration(options.get("keep_resolved", DEFAULT_KEEP_RESOLVED))
        except DurationError as exc:
            problems.append(f"keep_resolved: {exc}")
        else:
            if keep > BOOK.resolved_retention:
                problems.append(
                    "keep_resolved: the agent keeps resolved alerts for 1h at most; "
                    "write 1h or less."
                )
        return [p for p in problems if p is not None]

    def matches(self, alert: Alert) -> bool:
        """Whether the alert is one this policy is about (its status aside)."""
        return all(m(alert.labels.get(name)) for name, m in self.matchers.items())

    def _selected(self, now: float) -> list[Alert]:
        horizon = now - self.keep_resolved
        return [
            a
            for a in self.book.alerts()
            if self.matches(a)
            and (a.firing or (self.keep_resolved > 0 and a.resolved_at >= horizon))
        ]

    async def measure(self) -> Measurement:
        now = self.book.clock()
        selected = self._selected(now)
        return {self._names(selected)[a.fingerprint]: fields_of(a, now) for a in selected}

    def _names(self, alerts: list[Alert]) -> dict[str, str]:
        """Target id per fingerprint: the ``target_label`` value where unique, else all labels.

        When two alerts share a ``target_label`` value, the firing one that started
        first keeps the short name, so a target's id does not change under it.
        """
        names = {}
        taken: set[str] = set()
        order = sorted(alerts, key=lambda a: (not a.firing, a.starts_at or 0.0, a.fingerprint))
        for alert in order:
            full = promsamples.series_id(
                alert.name, {k: v for k, v in alert.labels.items() if k != "alertname"}
            )
            short = alert.labels.get(self.target_label) if self.target_label else None
            names[alert.fingerprint] = short if short and short not in taken else full
            taken.add(names[alert.fingerprint])
        return names

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield (None: re-measure) each time a matching alert is added, changed or dropped."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def on_change(alert: Alert) -> None:
            if self.matches(alert):
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    loop.call_soon_threadsafe(changed.set)

        unsubscribe = self.book.subscribe(on_change)
        try:
            while True:
                await changed.wait()
                changed.clear()
                yield None
        finally:
            unsubscribe()


def fields_of(alert: Alert, now: float) -> dict[str, Any]:
    """What the probe yields for one alert (plain JSON values: they go to the audit log)."""
    return {
        "firing": alert.firing,
        "status": alert.status,
        "fingerprint": alert.fingerprint,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "summary": alert.annotations.get("summary"),
        "starts_at": alert.starts_at,
        "ends_at": None if alert.firing else alert.ends_at,
        "age": None if alert.starts_at is None else max(0.0, now - alert.starts_at),
        "generator_url": alert.generator_url or None,
    }
