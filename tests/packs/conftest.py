"""Fixtures of the pack end-to-end tests: a webhook receiver, and the real Docker and
systemd fixtures tests/docker and tests/systemd use (from tests/kit/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kit.containers import (  # noqa: F401  (fixtures, found by pytest by name)
    busybox_image,
    container_state,
    docker_client,
    run_container,
    unique,
    wait_until,
)
from kit.packs import Receiver
from kit.systemd_node import node  # noqa: F401  (a fixture, found by pytest by name)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver that lives for one test."""
    r = Receiver()
    yield r
    r.close()
