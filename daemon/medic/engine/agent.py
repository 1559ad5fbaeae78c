"""The agent: loads policies, runs one runner per policy, reloads, and shuts down cleanly.

Start-up order matters for safety: the audit log opens first, actions a previous run
left unfinished are marked interrupted, the limits ledger, the circuit breaker and
open incidents are rebuilt from the log (:mod:`medic.engine.rebuild`), silences
and pending approvals are read back from their tables, the API binds its port (a
taken port ends the start before anything is recorded or acted on), and only then do
policies start. From then on, a failed audit write stops all acting until the log is
writable again (:mod:`medic.engine.audit_alarm`).

The engine imports nothing of the API: the agent is what the API reads (it satisfies
:class:`medic.api.view.AgentView`), and whoever runs the agent hands it the way to
start the API as :attr:`Agent.serve` (``medic run`` does, in :mod:`medic.cli.run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import structlog

from medic import __version__
from medic.audit.events import AuditEvent, Kind
from medic.audit.pages import paging_events
from medic.audit.retention import Retention
from medic.audit.store import AuditStore
from medic.clock import Clock, SystemClock
from medic.config import AgentConfig
from medic.engine.audit_alarm import Outage
from medic.engine.context import EngineContext
from medic.engine.core.silences import Matchers
from medic.engine.escalation import Escalator, build_notifiers
from medic.engine.filewatch import FileWatch
from medic.engine.human_input import HumanInput, windows
from medic.engine.pager import send_due
from medic.engine.rebuild import rebuild_breaker, rebuild_ledger
from medic.engine.reload import swap_runners, take_load, warn_unknown_dependencies
from medic.engine.runner import PolicyRunner
from medic.engine.samples import SampleKeeper
from medic.engine.state_gauges import state_collector
from medic.fleet.member import FleetMember
from medic.fleet.registry import policy_set_digest
from medic.metrics import Metrics
from medic.notify.delivery import DeliveryOptions
from medic.notify.links import LinkSigner, start_links
from medic.policy.empty import warn_if_empty
from medic.policy.loader import load_paths
from medic.policy.result import LoadResult
from medic.probes import probestate

log = structlog.get_logger("medic.agent")

# How often the on-call levels are checked: a level fires at most this late.
PAGE_TICK = 1.0


class Served(Protocol):
    """A server running beside the agent (the API): where it listens, and its stop."""

    @property
    def port(self) -> int: ...

    @property
    def url(self) -> str: ...

    async def stop(self) -> None: ...


# Starts the API for the agent it is given; raises MedicError when it cannot bind.
Serve = Callable[["Agent"], Awaitable[Served]]


class Agent:
    """Implements :class:`medic.api.view.AgentView` for the API."""

    def __init__(self, config: AgentConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        self.audit = AuditStore(config.audit_path, host=config.host, options=config.audit)
        channels = build_notifiers(config.notifiers, config.api.public_url)
        delivery = DeliveryOptions(
            max_backoff=config.delivery.max_backoff, max_age=config.delivery.max_age
        )
        self.escalator = Escalator(channels, self.audit, self.clock, config.host, delivery=delivery)
        # Probes that keep a cursor or a baseline across restarts keep it here.
        probestate.set_root(config.state_dir / probestate.SUBDIR)
        self.engine = EngineContext(
            clock=self.clock,
            audit=self.audit,
            metrics=self.metrics,
            escalator=self.escalator,
            limits=config.limits,
            host=config.host,
            dry_run=config.dry_run,
            public_url=config.api.public_url or _listen_url(config),
        )
        self.engine.firing = self._firing
        self.engine.unseen = self._unseen
        self.engine.samples = SampleKeeper(self.audit, config.history)
        self.engine.alarm.on_change.append(self._audit_alarm)
        self.fleet = FleetMember(config.fleet, config.host, self.audit) if config.fleet else None
        if self.fleet is not None:
            self.engine.fleet = self.fleet.budgets
        self.runners: dict[str, PolicyRunner] = {}
        self.humans = HumanInput(self.engine, lambda: self.runners)
        self.metrics.collectors.append(
            state_collector(self.metrics, lambda: (r.states for r in self.runners.values()))
        )
        self.started_at = self.clock.wall()
        self.files = LoadResult()  # the policy files as they run now
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._background: list[asyncio.Task[Any]] = []
        # How to start the API (None: no API, whatever the config says) and the running one.
        self.serve: Serve | None = None
        self.api: Served | None = None
        self.links: LinkSigner | None = None
        # Hooks for the service manager (systemd: READY=1, RELOADING=1, ...).
        self.on_ready: list[Callable[[], None]] = []
        self.on_reload_start: list[Callable[[], None]] = []
        self.on_reload_done: list[Callable[[], None]] = []
        self.on_stopping: list[Callable[[], None]] = []

    # -- start and stop --------------------------------------------------------------

    async def start(self) -> None:
        await self.audit.start()
        self.audit.on_event(self._observe_event)
        interrupted = await self.audit.recover_interrupted()
        for event in interrupted:
            log.warning(
                "action.interrupted",
                policy=event.policy,
                target=event.target,
                incident=event.incident,
            )
        now = self.clock.wall()
        await rebuild_ledger(self.audit, self.engine.ledger, now)
        assert self.engine.breaker is not None
        await rebuild_breaker(self.audit, self.engine.breaker)
        self.engine.inherited_incidents = dict(await self.audit.open_incidents())
        self.engine.inherited_escalated = await self.audit.escalated_open_incidents()
        self.engine.pager.load(await self.audit.write(paging_events))
        await self.humans.load()
        if self.config.api.enabled and self.serve is not None:
            await self._start_api(self.serve)
        # Before the outbox sends anything: every message carries signed links.
        self.links = start_links(
            self.config, lambda: self.engine.public_url, self.escalator.channels
        )
        await self.escalator.start()
        self.audit.emit(
            AuditEvent(
                Kind.AGENT_STARTED,
                now,
                details={
                    "version": __version__,
                    "dry_run": self.config.dry_run,
                    "interrupted_actions": len(interrupted),
                    "policy_paths": [str(p) for p in self.config.policy_paths],
                },
            )
        )
        if self.config.watch:
            # Watching starts before the first load, so an edit made while the agent
            # starts is not missed (reloads take turns behind a lock).
            self._background.append(asyncio.get_running_loop().create_task(self._watch_files()))
        await self.reload("start")
        self._background.append(asyncio.get_running_loop().create_task(self._page_loop()))
        if self.config.retention.enabled:
            retention = Retention(self.audit, self.config.retention, self.clock.wall)
            self._background.append(asyncio.get_running_loop().create_task(retention.run()))
        prune = self.engine.samples.prune_forever(self.clock.wall, self._longest_window)
        self._background.append(asyncio.get_running_loop().create_task(prune))
        # Everything loaded so far lives as long as the agent: move it out of the cyclic
        # GC's way, so full collections stay short and do not show up as scheduler lag.
        gc.collect()
        gc.freeze()
        if self.fleet is not None:
            self.fleet.start(self._fleet_record)
        for callback in self.on_ready:
            callback()

    async def _start_api(self, serve: Serve) -> None:
        """Bind the API before agent.started is written and before any policy runs: a
        taken port ends the start with nothing acted on and no start half-recorded."""
        try:
            self.api = await serve(self)
        except BaseException:
            await self.audit.close()
            raise
        if not self.config.api.public_url:
            self.engine.public_url = _listen_url(self.config, self.api.port)

    async def stop(self, reason: str = "stopped") -> None:
        self.engine.stopping = True  # from here on no runner measures or acts
        for callback in self.on_stopping:
            callback()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
        for runner in self.runners.values():
            await runner.cancel_remediations()
        if self.api is not None:
            await self.api.stop()
        self.engine.samples.close_runs()
        await self.engine.samples.drain()
        await self.engine.drain_writes()
        await self.engine.alarm.stop()
        await self.escalator.stop()
        self.audit.emit(
            AuditEvent(Kind.AGENT_STOPPED, self.clock.wall(), details={"reason": reason})
        )
        if self.fleet is not None:
            await self.fleet.stop()
        await self.audit.close()

    async def run_forever(self) -> None:
        """Run until SIGINT or SIGTERM; SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.request_reload, "signal")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        await self.start()
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.stop()

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self, trigger: str = "signal") -> None:
        log.info("reload.requested", trigger=trigger)
        task = asyncio.get_running_loop().create_task(self.reload(trigger))
        self._background.append(task)

    # -- policies ----------------------------------------------------------------------

    async def reload(self, trigger: str = "api") -> dict[str, Any]:
        """Load policy files; a file with errors keeps its previous good version running
        (what changes is decided in :mod:`medic.engine.reload`).

        ``trigger`` says what asked (``start``, ``signal``, ``files``, ``api``); every
        reload after the first is logged and audited as ``agent.reloaded`` with what
        changed."""
        async with self._reload_lock:
            for callback in self.on_reload_start:
                callback()
            result = await asyncio.to_thread(
                load_paths, list(self.config.policy_paths), notifiers=set(self.config.notifiers)
            )
            warn_if_empty(result, self.config.policy_paths)  # runs, but says it heals nothing
            now = self.clock.wall()
            self.files = take_load(self.files, result, self.audit, now)
            policies = self.files.running()
            changes = await swap_runners(self.runners, policies, self.engine, now)
            self.engine.silences.set_windows(
                windows(self.config, (r.policy for r in self.runners.values()))
            )
            warn_unknown_dependencies(self.runners, self.audit, now)
            self.metrics.policies.set(len(self.runners))
            for callback in self.on_reload_done:
                callback()
            if trigger != "start":
                self._reloaded(trigger, changes, now)
            return {
                "loaded": sorted(self.runners),
                "rejected": self.rejected_files(),
            }

    def _reloaded(self, trigger: str, changes: dict[str, list[str]], now: float) -> None:
        rejected = [f["file"] for f in self.files.rejected()]
        details = {"trigger": trigger, **changes, "rejected": rejected}
        self.audit.emit(AuditEvent(Kind.AGENT_RELOADED, now, details=details))
        counts = {key: len(names) for key, names in changes.items()}
        log.info("agent.reloaded", trigger=trigger, **counts, rejected=len(rejected))

    def _longest_window(self) -> float:
        return max((r.samples.span for r in self.runners.values()), default=0.0)

    def _unseen(self, policy: str) -> bool:
        runner = self.runners.get(policy)
        return runner is not None and not runner.measured

    def _firing(self, policy: str) -> Sequence[str]:
        runner = self.runners.get(policy)
        if runner is None:
            return ()
        return sorted(t for t, s in runner.states.items() if s.firing)

    async def _watch_files(self) -> None:
        paths = [p for p in self.config.policy_paths if p.exists()]
        if not paths:
            return
        try:
            watch = FileWatch(paths)
        except OSError as exc:  # inotify's limits reached: SIGHUP and the API still reload
            log.error("reload.watch_failed", error=str(exc))
            return
        with watch, contextlib.suppress(asyncio.CancelledError):
            async for _ in watch.changes(debounce=0.3):
                log.info("reload.requested", trigger="files")
                await self.reload("files")

    def _fleet_record(self) -> dict[str, Any]:
        """What the fleet view shows of this agent besides host and version."""
        runners = self.runners.values()
        return {
            "policy_digest": policy_set_digest((r.policy.name, r.policy.digest) for r in runners),
            "policies": len(self.runners),
            "open_incidents": [
                {"policy": r.policy.name, "target": t, "incident": s.incident,
                 "state": s.label(), "since": s.since}
                for r in runners
                for t, s in sorted(r.states.items())
                if s.incident is not None
            ],
        }  # fmt: skip

    # -- AgentView ---------------------------------------------------------------------

    def policy_states(self) -> list[dict[str, Any]]:
        return [self.runners[name].snapshot() for name in sorted(self.runners)]

    def rejected_files(self) -> list[dict[str, Any]]:
        return self.files.rejected()

    def silences(self) -> list[dict[str, Any]]:
        return self.humans.silences()

    async def add_silence(self, *, matchers: dict[str, Any], **when_and_why: Any) -> dict[str, Any]:
        # The other keywords (ends, duration, author, reason, act, starts) are AgentView's.
        return await self.humans.add_silence(matchers=Matchers.from_dict(matchers), **when_and_why)

    async def expire_silence(self, silence_id: str, by: str) -> dict[str, Any]:
        return await self.humans.expire_silence(silence_id, by)

    async def answer_approval(
        self, incident: str, approve: bool, by: str, comment: str | None, via: str | None = None
    ) -> dict[str, Any]:
        return await self.humans.answer(incident, approve, by, comment, via)

    def problems(self) -> list[dict[str, Any]]:
        """What makes the agent unhealthy now (empty: healthy), each with its reason."""
        outage = self.engine.alarm.outage
        return [] if outage is None else [outage.as_dict()]

    def _audit_alarm(self, outage: Outage | None) -> None:
        """The audit became writable again: evaluate every policy now, do not wait."""
        if outage is None:
            for runner in self.runners.values():
                runner.trigger()

    async def _page_loop(self) -> None:
        """Send the on-call levels and reminders as they fall due."""
        while True:
            await asyncio.sleep(PAGE_TICK)
            self.send_due_pages(self.clock.wall())

    def send_due_pages(self, now: float) -> None:
        """Page the next on-call level of every unacknowledged incident that is due."""
        send_due(self.engine, self.runners, now)

    def _observe_event(self, event: AuditEvent) -> None:
        self.engine.pager.observe(event)
        self.metrics.audit_events.labels(event.kind.value).inc()
        fields = {
            k: v
            for k, v in (
                ("policy", event.policy),
                ("target", event.target),
                ("incident", event.incident),
                ("outcome", event.outcome),
            )
            if v is not None
        }
        level = "warning" if event.kind in _LOUD else "info"
        getattr(log, level)(event.kind.value, **fields, **dict(event.details))


def _listen_url(config: AgentConfig, port: int | None = None) -> str:
    """The API's address on this host, for links when no ``api.public_url`` is set
    (``port``: the one it listens on, when port 0 picked a free one)."""
    host = config.api.host
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 -- reading a wildcard bind, not binding one
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port or config.api.port}"


_LOUD = frozenset(
    {
        Kind.ACTION_FAILED,
        Kind.ACTION_TIMED_OUT,
        Kind.ACTION_INTERRUPTED,
        Kind.ESCALATED,
        Kind.PROBE_FAILED,
        Kind.POLICY_REJECTED,
        Kind.BREAKER_OPENED,
        Kind.NOTIFY_FAILED,
        Kind.VERIFY_NOT_HEALED,
        Kind.POLICY_WARNING,
        Kind.APPROVAL_EXPIRED,
        Kind.AUDIT_RECOVERED,
    }
)
