"""The agent image: built from the Dockerfile, run as a container that heals a sibling.

The image is built on the local ``medic-test/python:1`` base by
scripts/build-medic-image.sh, which skips the build when an image of exactly this tree
exists (tagged with the tree's hash). The agent runs with the Docker socket mounted,
selects by a label its own container also carries, starts the sibling after it is
killed, never touches itself, and reports healthy through the image's HEALTHCHECK.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from docker.errors import NotFound

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build-medic-image.sh"
SOCKET = "/var/run/docker.sock"
MEDIC_UID = 10001
SECOND = 1_000_000_000  # the engine counts healthcheck intervals in nanoseconds
# Only the interval changes at run time; the test itself comes from the image.
FAST_HEALTHCHECK = {"interval": SECOND, "timeout": 5 * SECOND, "start_period": 30 * SECOND}
IMAGE_HEALTHCHECK = [
    "CMD",
    "/opt/medic/venv/bin/python",
    "-c",
    "import os, urllib.request; "
    "urllib.request.urlopen(os.environ['MEDIC_HEALTH_URL'], timeout=4).read()",
]


@pytest.fixture(scope="module")
def medic_image(docker_client: Any) -> str:
    """The agent image of this tree (built now only when this tree was never built)."""
    done = subprocess.run(
        ["/bin/bash", str(BUILD)], capture_output=True, text=True, timeout=840, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"building the agent image failed:\n{done.stderr[-3000:]}\nrun "
            "scripts/provision-docker-images.sh as root (or `make provision`) first",
            pytrace=False,
        )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def containers(docker_client: Any) -> Iterator[list[Any]]:
    """Containers a test starts from the agent image; removed afterwards."""
    made: list[Any] = []
    yield made
    for container in made:
        with contextlib.suppress(NotFound):
            container.remove(force=True)


def run_image(docker_client: Any, image: str, command: list[str], **kwargs: Any) -> str:
    """Run the image's entrypoint with ``command`` to completion; its output: standard
    error (the entrypoint's own lines) first, then standard output. Read apart, since
    the engine's merged log orders two streams by arrival, which races under load."""
    container = docker_client.containers.run(
        image, command, detach=True, network_mode="none", **kwargs
    )
    try:
        result = container.wait(timeout=60)
        output: str = (
            container.logs(stdout=False, stderr=True).decode()
            + container.logs(stdout=True, stderr=False).decode()
        )
    finally:
        container.remove(force=True)
    assert result["StatusCode"] == 0, output
    return output


def fake_socket(path: Path, gid: int) -> Path:
    """A real unix socket file owned by group ``gid``, standing in for the engine's."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    os.chown(path, 0, gid)
    return path


def audit_events(db: Path) -> list[dict[str, Any]]:
    """The agent's audit events, read from its state volume (empty until it exists)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in conn.execute("select * from events order by id")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    for row in rows:
        row["details"] = json.loads(row["details"]) if row.get("details") else {}
    return rows


def test_entrypoint_drops_root_for_the_sockets_group(
    tmp_path: Path, docker_client: Any, medic_image: str
) -> None:
    """A socket of group 4242 -> uid 10001 with gid 4242 added; no socket -> uid 10001."""
    sock = fake_socket(tmp_path / "docker.sock", 4242)
    output = run_image(
        docker_client, medic_image, ["sh", "-c", "id -u; id -G"], volumes=[f"{sock}:{SOCKET}"]
    )
    lines = output.strip().splitlines()
    assert lines[0] == (
        "medic-entrypoint: running as medic with the Docker socket's group (gid 4242)"
    )
    assert lines[1] == str(MEDIC_UID)
    assert lines[2].split() == [str(MEDIC_UID), "4242"]
    output = run_image(docker_client, medic_image, ["id", "-u"])
    assert output.strip().splitlines() == [
        "medic-entrypoint: no Docker socket at /var/run/docker.sock: running as medic "
        "(DOCKER_HOST=unset)",
        str(MEDIC_UID),
    ]


def test_entrypoint_stays_root_for_a_root_owned_socket(
    tmp_path: Path, docker_client: Any, medic_image: str
) -> None:
    """A socket of group root can only be reached as root: the agent stays root, and says so."""
    sock = fake_socket(tmp_path / "docker.sock", 0)
    output = run_image(docker_client, medic_image, ["id", "-u"], volumes=[f"{sock}:{SOCKET}"])
    assert output.strip().splitlines() == [
        "medic-entrypoint: the Docker socket /var/run/docker.sock belongs to group root "
        "(gid 0): running as root; give the socket a group of its own (dockerd --group) "
        "to run unprivileged",
        "0",
    ]


def test_sidecar_restarts_a_killed_sibling_and_never_itself(
    tmp_path: Path,
    docker_client: Any,
    medic_image: str,
    run_container: Any,
    container_state: Any,
    wait_until: Any,
    containers: list[Any],
    unique: str,
) -> None:
    """Medic in its container starts a killed sibling; it is healthy and never its own target."""
    mark = {"medic.test.sidecar": unique, "medic.enable": "true"}
    sibling = run_container("sleep", "3600", labels=mark)
    policies = tmp_path / "policies"
    policies.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    policy = {
        "name": "sibling-down",
        "description": "Start a labelled container again when it stopped.",
        # Selects the agent's own container too: Medic must leave that one out.
        "probe": {"type": "container", "labels": mark, "every": "1m"},
        "when": "not running",
        "remediate": [{"container.start": {"timeout": "30s"}}],
        "verify": {"after": "2s"},
        "limits": {"max": 3, "per": "1h", "cooldown": "0s"},
    }
    (policies / "sidecar.yaml").write_text(
        yaml.safe_dump({"version": 1, "policies": [policy]}, sort_keys=False)
    )
    medic = docker_client.containers.run(
        medic_image,
        detach=True,
        name=f"medic-test-sidecar-{unique}",
        network_mode="none",
        labels={"medic.test": "1", "medic.test.suite": "docker", **mark},
        volumes={
            SOCKET: {"bind": SOCKET, "mode": "rw"},
            str(policies): {"bind": "/etc/medic/policies", "mode": "ro"},
            str(state): {"bind": "/var/lib/medic", "mode": "rw"},
        },
        healthcheck=FAST_HEALTHCHECK,
    )
    containers.append(medic)
    db = state / "audit.db"
    wait_until(
        lambda: container_state(medic)["Health"]["Status"] == "healthy",
        timeout=90,
        what=f"the agent container to be healthy; logs:\n{medic.logs().decode()[-2000:]}",
    )
    wait_until(
        lambda: any(e["kind"] == "policy.loaded" for e in audit_events(db)),
        timeout=30,
        what="policy.loaded in the agent's audit log",
    )
    medic_started = container_state(medic)["StartedAt"]

    sibling.kill()
    wait_until(
        lambda: any(e["kind"] == "action.succeeded" for e in audit_events(db)),
        timeout=30,
        what=f"the sibling's start; agent logs:\n{medic.logs().decode()[-2000:]}",
    )
    assert container_state(sibling)["Running"] is True

    events = audit_events(db)
    started = [e for e in events if e["kind"] == "action.started"]
    assert [(e["details"]["type"], e["target"]) for e in started] == [
        ("container.start", sibling.name)
    ]
    assert {e["target"] for e in events if e["target"]} == {sibling.name}
    assert all(e["kind"] != "action.failed" for e in events)
    medic_state = container_state(medic)
    assert (medic_state["Running"], medic_state["StartedAt"]) == (True, medic_started)
    assert medic.attrs["RestartCount"] == 0
    info = docker_client.api.inspect_container(medic.id)
    assert info["Config"]["Healthcheck"]["Test"] == IMAGE_HEALTHCHECK
    assert info["State"]["Health"]["Status"] == "healthy"
    socket_gid = Path(SOCKET).stat().st_gid
    status = Path(f"/proc/{medic_state['Pid']}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    logs = medic.logs().decode()
    if socket_gid == 0:
        assert uid_line.split()[1] == "0"
        assert "belongs to group root (gid 0): running as root" in logs
    else:
        assert uid_line.split()[1] == str(MEDIC_UID)
        assert f"running as medic with the Docker socket's group (gid {socket_gid})" in logs


def test_the_image_refuses_to_validate_its_empty_policy_dir(
    docker_client: Any, medic_image: str
) -> None:
    """Nothing mounted on /etc/medic/policies: `medic validate` fails and says what to do."""
    container = docker_client.containers.run(
        medic_image,
        ["medic", "validate", "--config", "/etc/medic/medic.yaml"],
        detach=True,
        network_mode="none",
    )
    try:
        status = container.wait(timeout=60)["StatusCode"]
        output = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status == 1, output
    assert (
        "/etc/medic/policies: no policies found in /etc/medic/policies (0 policy files read)"
        in (output)
    )


def test_the_image_ships_the_example_packs_for_medic_init(
    docker_client: Any, medic_image: str
) -> None:
    """`medic init` in the image writes the packaged packs and a config that validates."""
    output = run_image(
        docker_client,
        medic_image,
        ["sh", "-c", "medic init /tmp/n >/dev/null && medic validate --config /tmp/n/medic.yaml"],
    )
    assert output.strip().splitlines()[-1] == "ok: 4 policies in 2 files"
