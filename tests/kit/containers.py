"""Fixtures for tests against the real Docker Engine that scripts/provision-docker.sh starts
(tests/docker and the pack end-to-end tests take them through their conftest.py).

Nothing here is mocked: containers are real, made from ``medic-test/busybox:1`` (built
by scripts/build-test-images.sh), uniquely named, labelled ``medic.test=1`` (and
``medic.test.suite=docker``) and removed after each test. When the engine or the image
is missing the tests fail and say which script to run; they are never skipped.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from docker.client import DockerClient
from docker.errors import DockerException, ImageNotFound, NotFound

from medic.clock import parse_iso

IMAGE = "medic-test/busybox:1"
TEST_LABEL = "medic.test"
# Marks the containers these fixtures make, so the sweep below touches no others.
SUITE_LABEL = "medic.test.suite"
SUITE = "docker"
# Leftovers of a crashed run are removed; younger ones may belong to a parallel run.
STALE_AFTER = 15 * 60

RunContainer = Callable[..., Any]
WaitUntil = Callable[..., Any]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client of the real engine (DOCKER_HOST or /var/run/docker.sock)."""
    try:
        client = DockerClient.from_env(version="auto", timeout=60)
        client.ping()
    except DockerException as exc:
        pytest.fail(
            f"the Docker engine is not reachable ({exc}); run scripts/provision-docker.sh "
            "as root (or `make provision`) to install and start it",
            pytrace=False,
        )
    now = time.time()
    mine = {"label": [f"{TEST_LABEL}=1", f"{SUITE_LABEL}={SUITE}"]}
    for old in client.containers.list(all=True, filters=mine):
        created = old.attrs.get("Created", "")
        with contextlib.suppress(DockerException, ValueError):
            if now - parse_iso(created) > STALE_AFTER:
                old.remove(force=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any) -> str:
    """The test image, present in the engine."""
    try:
        docker_client.images.get(IMAGE)
    except ImageNotFound:
        pytest.fail(
            f"image {IMAGE} is missing; run scripts/build-test-images.sh (or `make provision`)",
            pytrace=False,
        )
    return IMAGE


@pytest.fixture
def unique() -> str:
    """A short random token, to keep names and label values apart from parallel runs."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def run_container(docker_client: Any, busybox_image: str) -> Iterator[RunContainer]:
    """Factory: ``run_container("sleep", "3600", labels={...}, **sdk_kwargs)`` -> Container.

    Defaults: a unique ``medic-test-...`` name, no network, ``--init`` (fast stops),
    ``sleep 3600`` when no command is given. Every container is removed afterwards.
    """
    made: list[Any] = []

    def run(*command: str, labels: dict[str, str] | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("name", f"medic-test-{uuid.uuid4().hex[:10]}")
        kwargs.setdefault("network_mode", "none")
        kwargs.setdefault("init", True)
        container = docker_client.containers.run(
            busybox_image,
            list(command) or ["sleep", "3600"],
            detach=True,
            labels={TEST_LABEL: "1", SUITE_LABEL: SUITE, **(labels or {})},
            **kwargs,
        )
        made.append(container)
        return container

    yield run
    for container in made:
        with contextlib.suppress(NotFound):
            container.remove(force=True)


@pytest.fixture
def wait_until() -> WaitUntil:
    """``wait_until(predicate, timeout=10, what="...")``: poll until true, else fail."""

    def wait(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.05)

    return wait


@pytest.fixture
def container_state(docker_client: Any) -> Callable[[Any], dict[str, Any]]:
    """The engine's current State of a container (fresh inspect)."""

    def state(container: Any) -> dict[str, Any]:
        result: dict[str, Any] = docker_client.api.inspect_container(container.id)["State"]
        return result

    return state


def memory_usage(docker_client: Any, container: Any) -> int:
    """Bytes in use as the engine's statistics say, 0 when it reports none."""
    stats = docker_client.api.stats(container.id, stream=False, one_shot=True)
    return int((stats.get("memory_stats") or {}).get("usage") or 0)


def oom_events(docker_client: Any, container: Any, since: int) -> list[dict[str, Any]]:
    """The engine's ``oom`` events for the container from ``since`` until now."""
    found = docker_client.api.events(
        since=since,
        until=int(time.time()) + 1,
        filters={"container": container.id, "event": "oom"},
        decode=True,
    )
    return list(found)
