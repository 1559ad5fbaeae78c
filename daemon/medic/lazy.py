"""Modules imported on first use, so that loading a plugin costs nothing until it runs.

A probe module is imported for its class (the schema, `medic validate`, `medic probe
--list`) long before, or without ever, running; its client library (aiohttp, asyncpg,
the Docker SDK...) is what costs the milliseconds and the megabytes. Such a module
writes::

    if TYPE_CHECKING:
        import aiohttp
    else:
        aiohttp = lazy_module("aiohttp")

and uses ``aiohttp.ClientSession`` as before: the library is imported the first time an
attribute is read, which is inside the function that needs it. Type checkers see the
real module. Reading an attribute at module level would import it at once: keep such
uses (tuples of exception classes, for instance) inside functions.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name`` and imports it when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self._lazy_name = name
        self._lazy_module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._lazy_module
        if module is None:
            module = self._lazy_module = importlib.import_module(self._lazy_name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._lazy_module is not None else "not imported yet"
        return f"<lazy module {self._lazy_name!r} ({state})>"


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it on first attribute access."""
    return LazyModule(name)
