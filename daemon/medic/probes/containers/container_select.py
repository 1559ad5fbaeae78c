"""Which containers a container policy is about: one selection, shared by every probe.

A policy names its containers with exactly one of ``name``, ``id``, ``labels``,
``compose`` or ``opt_in_label``. Whatever the selection says, a container labelled
``medic.ignore=true`` is never a target, nor is the container Medic itself runs in.
``all`` (default true) keeps stopped containers in, so "not running -> start" works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medic.drivers.docker import IGNORE_LABEL, is_own_container, is_true
from medic.lazy import lazy_module
from medic.option_schemas import options_schema

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

OPT_IN_LABEL = "medic.enable"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
SELECTORS = ("name", "id", "labels", "compose", "opt_in_label")
_CHOICES = "name, id, labels, compose or opt_in_label"

SELECTION_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "description": "Exact container name."},
    "id": {
        "type": "string",
        "pattern": "^[0-9a-f]{12,64}$",
        "description": "Container id, full or its first 12 characters or more.",
    },
    "labels": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"type": ["string", "boolean", "number"]},
        "description": "Label -> value; a container must carry all of them.",
    },
    "compose": options_schema(
        {
            "project": {"type": "string", "minLength": 1},
            "service": {"type": "string", "minLength": 1},
        },
        required=["project"],
        description="Containers of a Compose project (and service).",
    ),
    "opt_in_label": {
        "type": "boolean",
        "description": "Every container labelled medic.enable=true.",
    },
    "all": {
        "type": "boolean",
        "default": True,
        "description": "Include stopped containers (default true).",
    },
}


def label_value(value: object) -> str:
    """A YAML label value as Docker stores it: ``true`` -> ``"true"``, ``8080`` -> ``"8080"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def validate_selection(options: Mapping[str, Any]) -> list[str]:
    """Problems with how ``options`` choose containers (each says the fix)."""
    given = [key for key in SELECTORS if key in options]
    if not given:
        return [f"choose the containers with exactly one of {_CHOICES}"]
    if len(given) > 1:
        both = " and ".join(given)
        return [f"{both} both choose containers; keep exactly one of {_CHOICES}"]
    if given == ["opt_in_label"] and options["opt_in_label"] is not True:
        return [
            "opt_in_label: false selects no containers; write opt_in_label: true to "
            f"select those labelled {OPT_IN_LABEL}=true"
        ]
    return []


@dataclass(frozen=True)
class Selection:
    """A validated selection, able to filter both container lists and events."""

    name: str | None = None
    id: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    opt_in: bool = False
    include_stopped: bool = True

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Selection:
        labels = {k: label_value(v) for k, v in (options.get("labels") or {}).items()}
        compose = options.get("compose") or {}
        if compose:
            labels[COMPOSE_PROJECT] = str(compose["project"])
            if compose.get("service"):
                labels[COMPOSE_SERVICE] = str(compose["service"])
        return cls(
            name=options.get("name"),
            id=options.get("id"),
            labels=tuple(sorted(labels.items())),
            opt_in=bool(options.get("opt_in_label", False)),
            include_stopped=bool(options.get("all", True)),
        )

    def server_filters(self) -> dict[str, Any]:
        """Filters the engine applies before answering (narrowing only; see matches)."""
        filters: dict[str, Any] = {}
        if self.name is not None:
            filters["name"] = f"^/?{re.escape(self.name)}$"
        if self.id is not None:
            filters["id"] = self.id
        label_filters = [f"{key}={value}" for key, value in self.labels]
        if self.opt_in:
            label_filters.append(OPT_IN_LABEL)
        if label_filters:
            filters["label"] = label_filters
        return filters

    def matches(self, name: str, container_id: str, labels: Mapping[str, str]) -> bool:
        """True when the container is a target of this selection (state aside)."""
        if is_true(labels.get(IGNORE_LABEL)) or is_own_container(container_id):
            return False
        if self.name is not None and name != self.name:
            return False
        if self.id is not None and not container_id.startswith(self.id):
            return False
        if any(labels.get(key) != value for key, value in self.labels):
            return False
        return not self.opt_in or is_true(labels.get(OPT_IN_LABEL))


def primary_name(summary: Mapping[str, Any]) -> str:
    """The container's own name from a list entry (``/web``; not link aliases)."""
    names = [str(n).lstrip("/") for n in summary.get("Names") or []]
    plain = [n for n in names if "/" not in n]
    return (plain or names or [str(summary.get("Id", ""))[:12]])[0]


async def select_containers(client: Any, selection: Selection) -> list[dict[str, Any]]:
    """List entries (``Id``, ``Names``, ``Labels``, ``State``) of the selected containers."""
    summaries = await asyncio.to_thread(
        client.api.containers,
        all=selection.include_stopped,
        filters=selection.server_filters(),
    )
    return [
        s
        for s in summaries
        if selection.matches(primary_name(s), str(s.get("Id", "")), s.get("Labels") or {})
    ]
