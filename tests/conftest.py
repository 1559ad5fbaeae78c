"""Shared fixtures. Component-specific fixtures live next to the tests that use them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from medic.probes import probestate

# The shared helpers' asserts explain themselves as a test's do (before any imports them).
pytest.register_assert_rewrite("kit")


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """Each test starts from structlog's defaults: a CLI test that configures logging
    (as `medic` does at start) must not change what a later test captures, nor leave
    a standard-library handler writing to a stream that test closed."""
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler).__name__ == "MedicHandler":
            root.removeHandler(handler)


@pytest.fixture(autouse=True)
def _no_probe_state_between_tests() -> Iterator[None]:
    """An in-process agent names a probe-state folder for the whole process: the next
    test's probes (a scheduled job under the same policy name) must not read it."""
    probestate.set_root(None)
    yield
    probestate.set_root(None)


@pytest.fixture
def state_root(tmp_path: Path) -> Iterator[Path]:
    """Probe state kept in this test's own folder, laid out as the agent's state_dir."""
    root = tmp_path / "state" / probestate.SUBDIR
    probestate.set_root(root)
    try:
        yield root
    finally:
        probestate.set_root(None)
