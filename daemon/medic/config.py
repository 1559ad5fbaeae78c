"""The agent's own configuration: where state lives, the API, global limits, notifiers.

A YAML file (``/etc/medic/medic.yaml`` on nodes, ``medic.yaml`` next to the policies
in a repo); every key has a safe default, so an empty file is a valid configuration.
``maintenance:`` lists recurring windows (cron, duration, time zone) with the matchers
that say which policies and targets they cover.
Secrets are never written in it: ``{env: NAME}`` / ``{file: /path}`` references
(:mod:`medic.secrets`) name where they are; the old ``api.token_env`` / ``token_file``
still work, and :attr:`AgentConfig.notices` says what to write instead.
The file's JSON Schema is :mod:`medic.config_schema`.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medic.audit.history_options import HistoryOptions, parse_history_options
from medic.audit.options import AuditOptions, parse_audit_options
from medic.audit.retention_options import RetentionOptions, parse_retention
from medic.config_api import DEFAULT_PORT, ApiConfig, load_api, parse_listen, with_api_token
from medic.config_schema import schema as config_schema
from medic.durations import parse_duration
from medic.errors import ConfigError, PolicyWarning
from medic.fleet.settings import FleetConfig, load_fleet
from medic.notify.options import error_message
from medic.policy.quickcheck import SchemaCheck
from medic.policy.windows import (
    CRON_HINT,
    ZONE_HINT,
    CronError,
    CronSchedule,
    MaintenanceWindow,
    zone,
)
from medic.policy.yamlpos import Document, parse_yaml
from medic.regular_file import read_regular
from medic.secret_notices import notices

__all__ = [  # ApiConfig, parse_listen and with_api_token live in config_api
    "DEFAULT_PORT",
    "AgentConfig",
    "ApiConfig",
    "BreakerConfig",
    "DeliveryConfig",
    "GlobalLimits",
    "MaintenanceConfig",
    "NotifierConfig",
    "load_config",
    "parse_listen",
    "read_config_yaml",
    "with_api_token",
]

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # read whole, as a regular file of at most this


@dataclass(frozen=True)
class BreakerConfig:
    max_actions: int = 20
    per: float = 60.0
    reset_after: float = 600.0


@dataclass(frozen=True)
class GlobalLimits:
    max_concurrent_actions: int = 4
    breaker: BreakerConfig = field(default_factory=BreakerConfig)


@dataclass(frozen=True)
class DeliveryConfig:
    """Outbox retries: the longest wait between two attempts, and when to give up."""

    max_backoff: float = 300.0
    max_age: float = 86400.0


@dataclass(frozen=True)
class NotifierConfig:
    name: str
    type: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class MaintenanceConfig:
    """A window from the agent config: when, and which policies and targets it covers."""

    window: MaintenanceWindow
    reason: str
    policy: str | None = None
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentConfig:
    host: str = field(default_factory=socket.gethostname)
    state_dir: Path = Path(".medic")
    policy_paths: tuple[Path, ...] = (Path("policies"),)
    dry_run: bool = False
    log_format: str = "auto"
    log_level: str = "info"
    api: ApiConfig = field(default_factory=ApiConfig)
    limits: GlobalLimits = field(default_factory=GlobalLimits)
    notifiers: Mapping[str, NotifierConfig] = field(default_factory=dict)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    watch: bool = True
    maintenance: tuple[MaintenanceConfig, ...] = ()
    audit: AuditOptions = field(default_factory=AuditOptions)
    retention: RetentionOptions = field(default_factory=RetentionOptions)
    history: HistoryOptions = field(default_factory=HistoryOptions)
    # Fleet budgets, view and central audit (docs/fleet.md); None: a lone agent.
    fleet: FleetConfig | None = None
    source: Path | None = None
    # What the file should say differently (old spellings of secrets), with file:line.
    notices: tuple[PolicyWarning, ...] = ()

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.db"


def _check_notifier(cfg: NotifierConfig, doc: Document, file: str) -> None:
    """Build the notifier once, so what its schema cannot say (durations, credentials
    sent in clear, reserved labels) is refused now, with the entry's line."""
    from medic.notify.base import notifiers

    cls = notifiers.get(cfg.type)
    if cls is None:  # the schema lists the registered types; this is a plugin gone
        raise ConfigError(f"notifiers.{cfg.name}: unknown notifier type {cfg.type!r}", file=file)
    try:
        cls(cfg.name, cfg.options)
    except ConfigError as exc:
        line = doc.locate(("notifiers", cfg.name)).line
        raise ConfigError(exc.message, file=file, line=line, hint=exc.hint) from exc


def _maintenance(items: list[dict[str, Any]], file: str) -> tuple[MaintenanceConfig, ...]:
    """The config's windows, their cron expressions, time zones and durations checked."""
    out = []
    for index, item in enumerate(items):
        at = f"maintenance[{index}]"
        try:
            schedule = CronSchedule.parse(item["cron"])
        except CronError as exc:
            raise ConfigError(
                f"{at}.cron: bad cron expression {item['cron']!r}: {exc}", file=file, hint=CRON_HINT
            ) from exc
        name = item.get("timezone", "UTC")
        try:
            zone(name)
        except CronError as exc:
            raise ConfigError(f"{at}.timezone: {exc}", file=file, hint=ZONE_HINT) from exc
        duration = parse_duration(item["duration"])
        if duration <= 0:
            raise ConfigError(f"{at}.duration: must be more than 0", file=file, hint="like 2h")
        matchers = item["matchers"]
        out.append(
            MaintenanceConfig(
                window=MaintenanceWindow(schedule, duration, name, item.get("act", False)),
                reason=item.get("reason", "maintenance window"),
                policy=matchers.get("policy"),
                target=matchers.get("target"),
                labels=dict(matchers.get("labels", {})),
            )
        )
    return tuple(out)


def read_config_yaml(data: bytes, file: str) -> Any:
    """The config file's data, checked against :func:`~medic.config_schema.schema`;
    errors carry their line.

    The file is read like a policy file (:mod:`medic.policy.yamlpos`): finite numbers
    only, no self-merging aliases, a clean error for any byte or structure.
    """
    return _read_config_doc(data, file)[0]


def _read_config_doc(data: bytes, file: str) -> tuple[Any, Document]:
    """:func:`read_config_yaml`, with the document (for the line of any key)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            "not UTF-8 text", file=file, line=bad_line, hint="save it as UTF-8"
        ) from exc
    doc, problems = parse_yaml(text, file)
    if doc is None or problems:
        first = problems[0]
        at = first.location.line if first.location else None
        raise ConfigError(first.message, file=file, line=at, hint=first.hint)
    raw = {} if doc.data is None else doc.data
    errors = list(_validator().iter_errors(raw))
    if errors:
        err = min(errors, key=lambda e: (doc.locate(tuple(e.absolute_path)).line, str(e)))
        path = tuple(err.absolute_path)
        where = ".".join(str(p) for p in path) or "(top level)"
        line = doc.locate(path).line
        raise ConfigError(
            f"{where}: {error_message(err)}", file=file, line=line, hint=_hint(raw, path)
        )
    return raw, doc


def _hint(raw: Any, path: tuple[Any, ...]) -> str | None:
    """Where a notifier's options are described, for an error inside one."""
    if len(path) < 2 or path[0] != "notifiers":
        return None
    from medic.notify.base import notifiers

    entries = raw.get("notifiers")
    entry = entries.get(path[1]) if isinstance(entries, dict) else None
    kind = entry.get("type") if isinstance(entry, dict) else None  # `ops: slack` is not one
    known = isinstance(kind, str) and notifiers.get(kind) is not None
    return f"see docs/notifiers.md#{kind}" if known else None


@functools.cache
def _validator() -> SchemaCheck:
    """The config schema's quick test, jsonschema (imported then) only to word an error."""
    return SchemaCheck(config_schema())


def load_config(path: Path | None) -> AgentConfig:
    """Read the agent config; ``None`` gives the defaults (relative to the cwd)."""
    if path is None:
        return AgentConfig()
    file = str(path)
    try:
        data = read_regular(file, MAX_CONFIG_BYTES)  # never a FIFO or a device: no hang
    except OSError as exc:
        raise ConfigError(
            f"cannot read: {exc.strerror}",
            file=file,
            hint="point --config at the agent's YAML config file",
        ) from exc
    raw, doc = _read_config_doc(data, file)
    base = path.parent
    api = load_api(raw.get("api", {}), doc, file)
    lim = raw.get("limits", {})
    br = lim.get("circuit_breaker", {})
    limits = GlobalLimits(
        max_concurrent_actions=lim.get("max_concurrent_actions", 4),
        breaker=BreakerConfig(
            max_actions=br.get("max_actions", 20),
            per=parse_duration(br.get("per", 60)),
            reset_after=parse_duration(br.get("reset_after", 600)),
        ),
    )
    notifiers = {
        name: NotifierConfig(
            name=name, type=spec["type"], options={k: v for k, v in spec.items() if k != "type"}
        )
        for name, spec in raw.get("notifiers", {}).items()
    }
    for cfg in notifiers.values():
        _check_notifier(cfg, doc, file)
    dl = raw.get("delivery", {})
    delivery = DeliveryConfig(
        max_backoff=parse_duration(dl.get("max_backoff", 300)),
        max_age=parse_duration(dl.get("max_age", 86400)),
    )
    if delivery.max_backoff <= 0 or delivery.max_age <= 0:
        raise ConfigError(
            "delivery.max_backoff and delivery.max_age must be more than 0",
            file=file,
            hint="e.g. max_backoff: 5m, max_age: 24h",
        )
    log = raw.get("log", {})
    return AgentConfig(
        host=raw.get("host") or socket.gethostname(),
        state_dir=(base / raw.get("state_dir", ".medic")),
        policy_paths=tuple(base / p for p in raw.get("policies", ["policies"])),
        dry_run=raw.get("dry_run", False),
        log_format=log.get("format", "auto"),
        log_level=log.get("level", "info"),
        api=api,
        limits=limits,
        notifiers=notifiers,
        delivery=delivery,
        watch=raw.get("watch", True),
        maintenance=_maintenance(raw.get("maintenance", []), file),
        audit=parse_audit_options(raw.get("audit", {}), file),
        retention=parse_retention(raw.get("retention"), file),
        history=parse_history_options(raw.get("history", {}), file),
        fleet=load_fleet(raw.get("fleet"), file),
        source=path,
        notices=tuple(notices(config_schema(), doc, file)),
    )
