"""The agent's own configuration: where state lives, the API, global limits, notifiers.

A YAML file (``/etc/medic/medic.yaml`` on nodes, ``medic.yaml`` next to the policies
in a repo); every key has a safe default, so an empty file is a valid configuration.
``maintenance:`` lists recurring windows (cron, duration, time zone) with the matchers
that say which policies and targets they cover.
Secrets are never written in it: ``token_env`` / ``token_file`` name where they are.
The file's JSON Schema is :mod:`medic.config_schema`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema

from medic.audit.history_options import HistoryOptions, parse_history_options
from medic.audit.options import AuditOptions, parse_audit_options
from medic.audit.retention_options import RetentionOptions, parse_retention
from medic.config_schema import SCHEMA
from medic.durations import parse_duration
from medic.errors import ConfigError
from medic.fleet.settings import FleetConfig, load_fleet
from medic.policy import bounds
from medic.policy.windows import (
    CRON_HINT,
    ZONE_HINT,
    CronError,
    CronSchedule,
    MaintenanceWindow,
    zone,
)
from medic.policy.yamlpos import parse_yaml

DEFAULT_PORT = 9325


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    enabled: bool = True
    # The bearer token's value once resolved (see with_api_token), or given directly.
    token: str | None = None
    # The base of links in messages (``api.link_base``; ``api.public_url`` is its old name).
    public_url: str | None = None
    # Host header names the API answers to besides loopback ones (medic.api.hosts).
    allowed_hosts: frozenset[str] = frozenset()
    # Where the token comes from: read only by commands that talk to the API.
    token_env: str | None = None
    token_file: str | None = None

    @property
    def token_named(self) -> bool:
        """A token is set or named (``token_env``, ``token_file``, ``$MEDIC_API_TOKEN``),
        whether or not it can be read yet."""
        return bool(
            self.token or self.token_env or self.token_file or os.environ.get("MEDIC_API_TOKEN")
        )

    @property
    def loopback(self) -> bool:
        return self.host in {"127.0.0.1", "::1", "localhost"} or self.host.startswith("127.")


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

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.db"


def with_api_token(config: AgentConfig) -> AgentConfig:
    """``config`` with its API token read from where ``api.token_env`` / ``token_file``
    (else ``$MEDIC_API_TOKEN``) say: only the agent and the commands that talk to its
    API call this, so ``medic validate`` and ``medic audit`` never need the secret.
    ConfigError when the named variable or file cannot be read."""
    api = config.api
    if api.token:
        return config
    file = str(config.source) if config.source else "the agent config"
    token = _secret({"token_env": api.token_env, "token_file": api.token_file}, file)
    return replace(config, api=replace(api, token=token))


def _secret(spec: Mapping[str, Any], file: str) -> str | None:
    """A secret named by ``token_env`` or ``token_file``, never written inline."""
    if env := spec.get("token_env"):
        value = os.environ.get(env)
        if not value:
            raise ConfigError(
                f"api.token_env names {env!r} but it is not set",
                file=file,
                hint=f"export {env}=... before starting medic, or remove token_env",
            )
        return value
    if path := spec.get("token_file"):
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"api.token_file {path!r}: {exc.strerror}", file=file) from exc
    return os.environ.get("MEDIC_API_TOKEN") or None


def _check_notifier(cfg: NotifierConfig, file: str) -> None:
    """A notifier's options checked against its type's own schema, at load time."""
    from medic.notify.base import notifiers

    cls = notifiers.get(cfg.type)
    if cls is None:
        raise ConfigError(
            f"notifiers.{cfg.name}: unknown notifier type {cfg.type!r}",
            file=file,
            hint=f"valid types: {', '.join(notifiers.names())}",
        )
    validator = bounds.Validator(bounds.harden(cls.schema))
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(cfg.options)))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        at = f"notifiers.{cfg.name}" + (f".{where}" if where else "")
        raise ConfigError(f"{at}: {error.message}", file=file)


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


def parse_listen(text: str, file: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) < 65536):
        raise ConfigError(
            f"api.listen {text!r} is not host:port (port 0 to 65535)",
            file=file,
            hint="e.g. 127.0.0.1:9325",
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def read_config_yaml(data: bytes, file: str) -> Any:
    """The config file's data, checked against :data:`SCHEMA`; errors carry their line.

    The file is read like a policy file (:mod:`medic.policy.yamlpos`): finite numbers
    only, no self-merging aliases, a clean error for any byte or structure.
    """
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
    errors = list(bounds.Validator(SCHEMA).iter_errors(raw))
    if errors:
        err = min(errors, key=lambda e: (doc.locate(tuple(e.absolute_path)).line, str(e)))
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        line = doc.locate(tuple(err.absolute_path)).line
        raise ConfigError(f"{where}: {err.message}", file=file, line=line)
    return raw


def load_config(path: Path | None) -> AgentConfig:
    """Read the agent config; ``None`` gives the defaults (relative to the cwd)."""
    if path is None:
        return AgentConfig()
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from exc
    raw = read_config_yaml(data, file)
    base = path.parent
    api_raw = raw.get("api", {})
    host, port = parse_listen(api_raw.get("listen", f"127.0.0.1:{DEFAULT_PORT}"), file)
    api = ApiConfig(
        host=host,
        port=port,
        enabled=api_raw.get("enabled", True),
        public_url=api_raw.get("link_base") or api_raw.get("public_url"),
        token_env=api_raw.get("token_env"),
        token_file=api_raw.get("token_file"),
        allowed_hosts=frozenset(
            name.lower().strip("[]") for name in api_raw.get("allowed_hosts", [])
        ),
    )
    if not api.loopback and not api.token_named:
        raise ConfigError(
            f"the API listens on {host}, beyond loopback, without a token",
            file=file,
            hint="set api.token_env or api.token_file, or listen on 127.0.0.1",
        )
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
        _check_notifier(cfg, file)
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
    )
