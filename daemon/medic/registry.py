"""Registries map a type name (``host.memory``, ``command``) to the class that implements it.

The registry is the only list of probes, actions and notifiers: the JSON Schema, the
CLI, the API and the generated docs all read it. Built-ins and third-party plugins load
the same way, through entry-point groups (``medic.probes``, ``medic.actions``,
``medic.notifiers``) whose entries name modules; importing a module registers the
classes it decorates.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from medic.logsetup import get_logger

log = get_logger(__name__)

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Name -> class, filled by the :meth:`register` decorator."""

    def __init__(self, kind: str, entry_point_group: str) -> None:
        self.kind = kind
        self.group = entry_point_group
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(cls: T) -> T:
            existing = self._items.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            cls.type_name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return decorate

    def load(self) -> None:
        """Import every module named in the entry-point group (once)."""
        if self._loaded:
            return
        self._loaded = True
        from importlib.metadata import entry_points  # here: `medic validate` may never ask

        for ep in entry_points(group=self.group):
            try:
                importlib.import_module(ep.value.split(":")[0])
            except Exception as exc:  # a broken plugin must not stop the agent
                log.error("plugin.load_failed", group=self.group, entry=ep.name, error=str(exc))

    def get(self, name: str) -> T | None:
        self.load()
        return self._items.get(name)

    def registered(self, name: str) -> T | None:
        """The class registered as ``name`` so far, loading no entry point."""
        return self._items.get(name)

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self.load()
        for name in sorted(self._items):
            yield name, self._items[name]

    def suggest(self, name: str) -> str | None:
        """The closest registered name, for did-you-mean hints."""
        import difflib

        close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        return close[0] if close else None
