"""The notifier contract.

A notifier type is one class registered with ``@notifiers.register("webhook")``, with
a ``schema`` for its options in the agent config and one async ``send()``. That schema
is the only check of the options: the agent config's schema embeds it, and building
a notifier applies it (:mod:`medic.notify.options`). Instances
are named in the agent config (``notifiers: {oncall: {type: webhook, ...}}``) and
policies refer to those names in ``escalate: {notify: [oncall]}``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from medic.notify.options import check_options
from medic.option_schemas import options_schema
from medic.registry import Registry

if TYPE_CHECKING:
    from medic.notify.links import LinkSigner


@dataclass(frozen=True)
class Notification:
    """One message to humans about one incident."""

    kind: Literal["escalation", "resolve"]
    incident: str
    policy: str
    target: str
    host: str
    reason: str
    summary: str
    time: str
    values: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[Mapping[str, Any], ...] = ()
    dry_run: bool = False
    # (label, url) pairs to act on the incident, e.g. approve and deny an action.
    links: tuple[tuple[str, str], ...] = ()
    # The policy's escalate.severity (info, warning, error, critical); None: not set.
    severity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["values"] = dict(self.values)
        data["history"] = [dict(h) for h in self.history]
        if self.links:
            data["links"] = [{"label": label, "url": url} for label, url in self.links]
        else:
            del data["links"]  # absent rather than empty: payloads stay as they were
        if self.severity is None:
            del data["severity"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        """The inverse of :meth:`to_dict` (an outbox row read back); ValueError or
        TypeError when ``data`` is not a notification."""
        fields = dict(data)
        fields["history"] = tuple(fields.get("history") or ())
        fields["links"] = tuple(_link(item) for item in fields.get("links") or ())
        return cls(**fields)


def _link(item: Any) -> tuple[str, str]:
    """One ``{"label": ..., "url": ...}`` of :meth:`Notification.to_dict` as a pair."""
    if isinstance(item, Mapping):
        label, url = item.get("label"), item.get("url")
    elif isinstance(item, list | tuple) and len(item) == 2:
        label, url = item
    else:
        label = url = None
    if not isinstance(label, str) or not isinstance(url, str):
        raise ValueError(f"not a link: {item!r}")
    return label, url


class Notifier(ABC):
    """A named channel. ``links``, when the agent sets it, signs approve, deny and
    acknowledge links per recipient: ``send()`` passes its notification through
    :meth:`personal` (once per e-mail address for ``email``)."""

    type_name: ClassVar[str]
    links: LinkSigner | None = None
    schema: ClassVar[dict[str, Any]] = options_schema({})

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        check_options(type(self), name, options)
        self.name = name
        self.options = options

    def personal(self, notification: Notification, recipient: str | None = None) -> Notification:
        """``notification`` with links signed for ``recipient`` (default: this channel)."""
        if self.links is None:
            return notification
        return self.links.sign(notification, recipient or self.name)

    @abstractmethod
    async def send(self, notification: Notification) -> None:
        """Deliver once; raise NotifyError on failure (the caller retries)."""


notifiers: Registry[type[Notifier]] = Registry("notifier", "medic.notifiers")
