"""Registries map a type name (``host.memory``, ``command``) to the class that implements it.

The registry is the only list of probes, actions and notifiers: the JSON Schema, the
CLI, the API and the generated docs all read it. Built-ins and third-party plugins load
the same way, through entry-point groups (``medic.probes``, ``medic.actions``,
``medic.notifiers``) whose entries name modules; importing a module registers the
classes it decorates.

Looking one name up imports only the module that holds it: a built-in's is named by the
generated index :mod:`medic.builtin_types` (no entry points read), another's is guessed
from the entry-point names (:func:`entry_names_for`). So ``medic validate`` and an agent
whose policies use one probe type import one probe module (issue 14); every module is
imported when both miss, and for :meth:`Registry.names` and :meth:`Registry.items`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from medic.logsetup import get_logger

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

log = get_logger(__name__)

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Name -> class, filled by the :meth:`register` decorator."""

    def __init__(
        self, kind: str, entry_point_group: str, index: Mapping[str, str] | None = None
    ) -> None:
        self.kind = kind
        self.group = entry_point_group
        # Type name -> the module that registers it (None: the built-ins' generated index).
        self._index = index
        self._items: dict[str, T] = {}
        self._loaded = False
        self._entries: dict[str, EntryPoint] | None = None
        self._imported: set[str] = set()  # entry-point names
        self._indexed: set[str] = set()  # modules imported through the index
        # Policies load in a worker thread while the API may list types: a lookup waits
        # for an import under way rather than answering before its module registered.
        self._lock = threading.RLock()

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(cls: T) -> T:
            existing = self._items.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            cls.type_name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return decorate

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._entries is None:
            from importlib.metadata import entry_points  # here: `medic validate` may never ask

            self._entries = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entries

    def _import(self, ep: EntryPoint) -> None:
        if ep.name in self._imported:
            return
        self._imported.add(ep.name)
        try:
            importlib.import_module(ep.value.split(":")[0])
        except Exception as exc:  # a broken plugin must not stop the agent
            log.error("plugin.load_failed", group=self.group, entry=ep.name, error=str(exc))

    def load(self) -> None:
        """Import every module named in the entry-point group (once)."""
        with self._lock:
            if self._loaded:
                return
            for ep in self._entry_points().values():
                self._import(ep)
            self._loaded = True

    def index(self) -> Mapping[str, str]:
        """Type name -> module for the built-in types (:mod:`medic.builtin_types`)."""
        if self._index is None:
            from medic.builtin_types import MODULES  # a generated table, no imports

            self._index = MODULES.get(self.kind, {})
        return self._index

    def get(self, name: str) -> T | None:
        """The class registered as ``name``. A built-in's module is imported by the
        index, without reading the entry points; else the likely entry point first, and
        every one only when it does not register ``name``."""
        found = self._items.get(name)
        if found is not None or self._loaded:
            return found
        with self._lock:
            module = self.index().get(name)
            if module is not None and module not in self._indexed:
                self._indexed.add(module)
                try:
                    importlib.import_module(module)
                except Exception as exc:  # stale index: the entry points decide below
                    log.debug("plugin.index_stale", module=module, error=str(exc))
                if name in self._items:
                    return self._items[name]
            entries = self._entry_points()
            for guess in entry_names_for(name):
                ep = entries.get(guess)
                if ep is not None:
                    self._import(ep)
                    if name in self._items:
                        return self._items[name]
            self.load()
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


def entry_names_for(name: str) -> tuple[str, ...]:
    """The entry-point names that may hold type ``name``, in the order tried: the name,
    with dots as underscores, its first and its last dotted part (``container.logs``:
    ``container.logs``, ``container_logs``, ``container``, ``logs``)."""
    parts = name.split(".")
    return tuple(dict.fromkeys((name, name.replace(".", "_"), parts[0], parts[-1])))
