"""What the API and `medic status` may see of a running agent.

The engine's Agent implements this protocol; the API depends on nothing else of it,
so routes are tested against a small fake.
"""

from __future__ import annotations

from typing import Any, Protocol

from medic.audit.store import AuditStore
from medic.config import AgentConfig
from medic.metrics import Metrics
from medic.notify.links import LinkSigner


class AgentView(Protocol):
    config: AgentConfig
    metrics: Metrics
    audit: AuditStore
    started_at: float  # wall-clock seconds
    # Signs and checks the approve/deny/acknowledge links in messages (None: no links).
    links: LinkSigner | None

    def policy_states(self) -> list[dict[str, Any]]:
        """Every loaded policy with its live per-target state.

        Each item: ``{"name", "description", "probe", "every", "dry_run", "source",
        "targets": [{"target", "state", "incident", "since", "attempts", "values"}]}``
        where state is one of ok, pending, firing, remediating, verifying, escalated.
        """
        ...

    def problems(self) -> list[dict[str, Any]]:
        """What makes the agent unhealthy now: ``{"check", "reason", "since"}``; empty
        when healthy."""
        ...

    def rejected_files(self) -> list[dict[str, Any]]:
        """Policy files whose last load failed: ``{"file", "errors": [str, ...]}``."""
        ...

    async def reload(self) -> dict[str, Any]:
        """Reload policy files now: ``{"loaded": [names], "rejected": [{"file", "errors"}]}``."""
        ...

    def silences(self) -> list[dict[str, Any]]:
        """Ad-hoc silences not yet ended, then every maintenance window (with ``next``)."""
        ...

    async def add_silence(
        self,
        *,
        matchers: dict[str, Any],
        ends: float | None = None,
        duration: float | None = None,
        author: str,
        reason: str,
        act: bool = False,
        starts: float | None = None,
    ) -> dict[str, Any]:
        """Create an ad-hoc silence ending at ``ends`` or ``duration`` after it starts;
        raises :class:`medic.errors.BadSilence` when it cannot be created."""
        ...

    async def expire_silence(self, silence_id: str, by: str) -> dict[str, Any]:
        """End a silence now; raises ``SilenceNotFound`` or ``SilenceEnded``
        (:mod:`medic.errors`)."""
        ...

    async def answer_approval(
        self, incident: str, approve: bool, by: str, comment: str | None, via: str | None = None
    ) -> dict[str, Any]:
        """Grant or deny an incident's approval request; raises ``ApprovalNotFound`` or
        ``NotWaiting``. Answers the request as it now stands. ``via``: how (``link``)."""
        ...
