"""Medic on a node, end to end: installed by install-node.sh, run by `systemctl start medic`.

Everything is real: systemd is PID 1 of the node container, Medic runs under the
hardened unit from systemd/, the units it heals are systemd units, and what it did is
read back from its audit database with `medic audit list`. The last test freezes Medic
with SIGSTOP and checks that systemd's watchdog restarts it with its limits and open
incidents intact.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kit.systemd_node import Node

CONFIG = """\
dry_run: false
state_dir: /var/lib/medic
policies: [/etc/medic/policies/e2e]
watch: false
log: {format: json, level: info}
"""
POLICIES = """\
version: 1
policies:
  - name: e2e-app-down
    description: Restart e2e-app whenever it is not running (it has no Restart= of its own).
    probe: {type: systemd.unit, unit: e2e-app, every: 2s}
    when: active_state in ["failed", "inactive"]
    remediate:
      - systemd.restart: {timeout: 30s}
    verify: {after: 1s}
    limits: {max: 10, per: 1h, cooldown: 0s}

  - name: e2e-flaky-down
    description: Restart e2e-flaky, which fails on every start, twice at most, then page.
    probe: {type: systemd.unit, unit: e2e-flaky, every: 1s}
    when: active_state in ["failed", "inactive"]
    remediate:
      - systemd.restart: {timeout: 30s}
    verify: {after: 2s}
    limits: {max: 2, per: 1h, cooldown: 0s}
    escalate: {after_failures: 2}

  - name: e2e-once-down
    description: Restart e2e-once, at most once an hour.
    probe: {type: systemd.unit, unit: e2e-once, every: 2s}
    when: active_state in ["failed", "inactive"]
    remediate:
      - systemd.restart: {timeout: 30s}
    verify: {after: 1s}
    limits: {max: 1, per: 1h, cooldown: 0s}

  - name: e2e-trigger-busy
    description: A long action, so that the watchdog finds one in flight.
    probe: {type: systemd.unit, unit: e2e-trigger, every: 1s}
    when: active
    remediate:
      - command: {argv: [/bin/sleep, "300"], timeout: 10m}
    limits: {max: 1, per: 1h, cooldown: 0s}

  - name: e2e-nobody-worker
    description: Stop nobody's worker; needs CAP_SYS_PTRACE (open_files) and CAP_KILL.
    probe: {type: process, cmdline: "^/bin/sleep 4242$", user: nobody, every: 2s}
    when: running and open_files >= 0
    remediate:
      - process.signal: {signal: TERM}
    verify: {after: 1s}
    limits: {max: 1, per: 1h, cooldown: 0s}

  - name: e2e-private-file
    description: See a file in a directory only nobody may search (CAP_DAC_READ_SEARCH).
    probe: {type: file, path: /srv/e2e-private/marker, every: 2s}
    when: exists

  - name: e2e-container-stopped
    description: Start a stopped container through the Docker socket.
    probe: {type: container, name: CONTAINER, every: 2s}
    when: not running
    remediate:
      - container.start: {timeout: 30s}
    verify: {after: 1s}
    limits: {max: 1, per: 1h, cooldown: 0s}
"""
EXTRA = """\
version: 1
policies:
  - name: e2e-extra
    description: A policy added while Medic runs, picked up by systemctl reload.
    probe: {type: systemd.unit, unit: e2e-app, every: 30s}
    when: active_state == "failed"
    remediate:
      - systemd.restart: {}
"""
SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"
UNITS = {
    "e2e-app.service": SLEEPER,
    "e2e-once.service": SLEEPER,
    "e2e-trigger.service": SLEEPER,
    "e2e-flaky.service": "[Service]\nExecStart=/bin/false\n",
    "e2e-nobody.service": "[Service]\nUser=nobody\nExecStart=/bin/sleep 4242\n",
}


def docker(*args: str) -> str:
    """The host's docker CLI (the node reaches the same engine through its socket)."""
    cli = shutil.which("docker")
    assert cli is not None, "no docker client: run scripts/provision-docker.sh"
    return subprocess.run([cli, *args], capture_output=True, text=True, check=True).stdout


def events(node: Node, policy: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in node.audit()
        if (policy is None or e["policy"] == policy) and (kind is None or e["kind"] == kind)
    ]


def main_pid(node: Node) -> int:
    return int(node.show("medic.service")["MainPID"])


@pytest.fixture(scope="module")
def container(node: Node) -> Iterator[str]:
    """A stopped busybox container on the host engine, which the node reaches by socket."""
    name = f"medic-test-e2e-{uuid.uuid4().hex[:10]}"
    docker("create", "--name", name, "--label", "medic.test=1", "--network", "none",
           "--init", "medic-test/busybox:1", "sleep", "3600")  # fmt: skip
    yield name
    docker("rm", "-f", name)


@pytest.fixture(scope="module")
def service(node: Node, container: str) -> Iterator[Node]:
    """Medic started by systemd with the e2e policies, its units up before it starts."""
    node.write("/etc/medic/medic.yaml", CONFIG, mode="0640")
    node.run("install", "-d", "/etc/medic/policies/e2e")
    node.write("/etc/medic/policies/e2e/e2e.yaml", POLICIES.replace("CONTAINER", container))
    node.sh("install -d -m 0700 -o nobody -g nogroup /srv/e2e-private")
    node.sh("touch /srv/e2e-private/marker && chown nobody:nogroup /srv/e2e-private/marker")
    node.run("medic", "validate", "/etc/medic/policies/e2e")
    for name, body in UNITS.items():
        node.add_unit(name, body)
    for name in ("e2e-app", "e2e-once", "e2e-nobody"):
        node.run("systemctl", "start", name)
    node.run("systemctl", "start", "e2e-flaky", check=False)
    node.run("systemctl", "start", "medic", timeout=120)
    yield node
    node.run("systemctl", "stop", "medic", check=False, timeout=60)
    node.run("systemctl", "stop", *UNITS, check=False)


@pytest.mark.integration
def test_medic_is_ready_once_started_and_runs_hardened(service: Node) -> None:
    """`systemctl start` returns once READY=1 came; the process runs under the sandbox."""
    props = service.show("medic.service")
    assert (props["ActiveState"], props["SubState"]) == ("active", "running")
    assert props["StatusText"] == "7 policies running"
    assert props["WatchdogUSec"] == "10s"
    assert [e["kind"] for e in events(service)][:1] == ["agent.started"]
    status = service.run("cat", f"/proc/{props['MainPID']}/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines())
    # CAP_DAC_READ_SEARCH (2), CAP_KILL (5), CAP_SYS_PTRACE (19): nothing else, ever.
    assert int(fields["CapBnd"], 16) == (1 << 2) | (1 << 5) | (1 << 19)
    assert (fields["NoNewPrivs"].strip(), fields["Seccomp"].strip()) == ("1", "2")
    assert service.sh("command -v medic").strip() == "/usr/local/bin/medic"
    journal = service.run("journalctl", "-u", "medic", "--no-pager", "-o", "cat").stdout
    assert '"event": "agent.started"' in journal  # JSON lines, into the journal


@pytest.mark.integration
def test_a_killed_unit_is_restarted_by_its_policy(service: Node) -> None:
    """SIGKILL to e2e-app (Restart=no): Medic restarts it with systemd.restart, verified."""
    old = int(service.show("e2e-app.service")["MainPID"])
    service.run("systemctl", "kill", "-s", "KILL", "e2e-app.service")
    healed = service.wait_for(
        lambda: events(service, "e2e-app-down", "verify.healed"),
        what="e2e-app-down to heal e2e-app",
    )
    incident = healed[-1]["incident"]
    kinds = [e["kind"] for e in events(service, "e2e-app-down") if e["incident"] == incident]
    assert kinds == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    succeeded = events(service, "e2e-app-down", "action.succeeded")[-1]
    assert succeeded["details"]["type"] == "systemd.restart"
    assert succeeded["details"]["before"]["active_state"] == "failed"
    props = service.show("e2e-app.service")
    assert props["ActiveState"] == "active"
    assert int(props["MainPID"]) != old
    assert props["NRestarts"] == "0"  # systemd did not restart it: Medic did


@pytest.mark.integration
def test_a_unit_that_keeps_failing_is_escalated_once_after_its_limit(service: Node) -> None:
    """e2e-flaky fails on every start: two restarts, then escalated once, then suppressed."""
    service.wait_for(
        lambda: events(service, "e2e-flaky-down", "action.suppressed"),
        what="e2e-flaky-down to run out of attempts",
    )
    flaky = events(service, "e2e-flaky-down")
    assert len({e["incident"] for e in flaky if e["incident"]}) == 1
    assert [e["kind"] for e in flaky].count("action.started") == 2
    escalated = [e for e in flaky if e["kind"] == "incident.escalated"]
    assert len(escalated) == 1
    assert escalated[0]["details"]["reason"] == "remediation_failed"
    suppressed = [e for e in flaky if e["kind"] == "action.suppressed"]
    assert suppressed[0]["details"]["reason"] == "rate_limit"
    assert service.show("e2e-flaky.service")["ActiveState"] == "failed"


@pytest.mark.integration
def test_the_sandbox_leaves_what_probes_and_actions_need(service: Node, container: str) -> None:
    """Under the hardened unit: other users' processes, private files, the Docker socket."""
    service.wait_for(
        lambda: events(service, "e2e-nobody-worker", "verify.healed"),
        what="e2e-nobody-worker to stop nobody's sleep",
    )
    fired = events(service, "e2e-nobody-worker", "incident.fired")[0]
    assert fired["values"]["open_files"] >= 1
    signalled = events(service, "e2e-nobody-worker", "action.succeeded")[0]
    assert signalled["details"]["type"] == "process.signal"
    assert service.show("e2e-nobody.service")["ActiveState"] == "inactive"

    seen = service.wait_for(
        lambda: events(service, "e2e-private-file", "incident.detected"),
        what="e2e-private-file to see the marker",
    )
    assert seen[0]["values"]["exists"] is True

    service.wait_for(
        lambda: events(service, "e2e-container-stopped", "verify.healed"),
        what="e2e-container-stopped to start the container",
    )
    assert docker("inspect", "-f", "{{.State.Running}}", container).strip() == "true"


@pytest.mark.integration
def test_systemctl_reload_reloads_the_policies(service: Node) -> None:
    """`systemctl reload medic` (SIGHUP) loads a new file and returns with Medic ready."""
    service.write("/etc/medic/policies/e2e/extra.yaml", EXTRA)
    pid = main_pid(service)
    service.run("systemctl", "reload", "medic")
    service.wait_for(
        lambda: events(service, "e2e-extra", "policy.loaded"), what="the new policy to load"
    )
    service.wait_for(
        lambda: service.show("medic.service")["StatusText"] == "8 policies running",
        what="READY=1 with the new status",
    )
    assert main_pid(service) == pid
    assert service.show("medic.service")["ActiveState"] == "active"
    service.run("rm", "/etc/medic/policies/e2e/extra.yaml")
    service.run("systemctl", "reload", "medic")
    service.wait_for(
        lambda: events(service, "e2e-extra", "policy.removed"), what="the policy to go"
    )


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_a_frozen_medic_is_restarted_by_the_watchdog_with_its_state(service: Node) -> None:
    """SIGSTOP: the watchdog restarts Medic; the action in flight is marked interrupted,
    the open incident continues under its id, and a used-up limit still holds."""
    # A limit used before the freeze: e2e-once may be restarted once an hour.
    service.run("systemctl", "kill", "-s", "KILL", "e2e-once.service")
    service.wait_for(
        lambda: events(service, "e2e-once-down", "verify.healed"), what="e2e-once to heal"
    )
    # An incident that stays open: e2e-flaky, escalated and out of attempts.
    service.wait_for(
        lambda: events(service, "e2e-flaky-down", "action.suppressed"),
        what="e2e-flaky-down to run out of attempts",
    )
    flaky_incident = events(service, "e2e-flaky-down", "incident.detected")[0]["incident"]
    # An action in flight: e2e-trigger starts a five-minute command.
    service.run("systemctl", "start", "e2e-trigger.service")
    in_flight = service.wait_for(
        lambda: events(service, "e2e-trigger-busy", "action.started"),
        what="the long action to start",
    )[0]

    frozen = main_pid(service)
    service.run("kill", "-STOP", str(frozen))
    service.wait_for(
        lambda: (
            main_pid(service) not in (0, frozen)
            and service.show("medic.service")["ActiveState"] == "active"
        ),
        what="systemd's watchdog to restart the frozen Medic",
        timeout=90,
        every=1.0,
    )
    journal = service.run("journalctl", "-u", "medic", "--no-pager", "-o", "cat").stdout
    assert "Watchdog timeout (limit 10s)!" in journal
    assert "Failed with result 'watchdog'." in journal
    assert "Fatal Python error: Aborted" in journal  # faulthandler: where the loop hung
    assert [e["kind"] for e in events(service)].count("agent.started") == 2
    restarted_at = events(service, kind="agent.started")[-1]["id"]

    interrupted = events(service, "e2e-trigger-busy", "action.interrupted")
    assert [e["incident"] for e in interrupted] == [in_flight["incident"]]

    def flaky_after() -> list[dict[str, Any]]:
        flaky = events(service, "e2e-flaky-down")
        return [e for e in flaky if e["id"] > restarted_at and e["incident"]]

    service.wait_for(
        lambda: "action.suppressed" in [e["kind"] for e in flaky_after()],
        what="e2e-flaky-down to take up its incident again",
    )
    after = flaky_after()
    assert {e["incident"] for e in after} == {flaky_incident}
    assert "action.started" not in [e["kind"] for e in after]
    flaky_kinds = [e["kind"] for e in events(service, "e2e-flaky-down")]
    assert flaky_kinds.count("incident.escalated") == 1  # paged once, not again per restart

    service.run("systemctl", "kill", "-s", "KILL", "e2e-once.service")
    suppressed = service.wait_for(
        lambda: [
            e
            for e in events(service, "e2e-once-down", "action.suppressed")
            if e["id"] > restarted_at
        ],
        what="the used-up limit of e2e-once-down to refuse a second restart",
    )
    assert suppressed[0]["details"]["reason"] == "rate_limit"
    once = [e for e in events(service, "e2e-once-down") if e["id"] > restarted_at]
    assert "action.started" not in [e["kind"] for e in once]
    assert [e["kind"] for e in events(service, "e2e-once-down")].count("action.started") == 1
