"""systemd/medic.service and the protocol it relies on.

In the node: ``systemd-analyze verify`` and ``security`` on the unit as installed, what
systemd reads from it, and the installer's idempotence. On the host: the sd_notify
client (READY, RELOADING, STOPPING, WATCHDOG) against a real datagram socket.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from medic.systemd_notify import SystemdNotifier, watchdog_usec

if TYPE_CHECKING:
    from kit.systemd_node import Node

UNIT = "/etc/systemd/system/medic.service"
# What `systemd-analyze security` scores the unit at (lower is safer); see the
# hardening notes in docs/deployment.md before raising it.
MAX_EXPOSURE = 2.5
MUST_PASS = (
    "NoNewPrivileges=",
    "ProtectSystem=",
    "PrivateTmp=",
    "ProtectHome=",
    "PrivateDevices=",
    "ProtectKernelTunables=",
    "ProtectKernelModules=",
    "ProtectControlGroups=",
    "RestrictNamespaces=~user",
    "RestrictSUIDSGID=",
    "MemoryDenyWriteExecute=",
    "SystemCallArchitectures=",
    "SystemCallFilter=~@privileged",
    "CapabilityBoundingSet=~CAP_SYS_ADMIN",
    "CapabilityBoundingSet=~CAP_NET_ADMIN",
    "CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)",
    "AmbientCapabilities=",
    "NotifyAccess=",
)


# -- the unit, in the node ---------------------------------------------------------------


@pytest.mark.integration
def test_systemd_analyze_verify_finds_nothing_to_say(node: Node) -> None:
    """The installed unit passes `systemd-analyze verify` without a single warning."""
    done = node.run("systemd-analyze", "verify", UNIT, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.integration
def test_systemd_analyze_security_scores_the_unit_low(node: Node) -> None:
    """The exposure score stays at or below MAX_EXPOSURE and the key settings all pass."""
    done = node.run("systemd-analyze", "security", "--no-pager", "medic.service")
    score = re.search(r"Overall exposure level for medic\.service: ([0-9.]+)", done.stdout)
    assert score is not None, done.stdout
    assert float(score.group(1)) <= MAX_EXPOSURE, done.stdout
    passed = {line[2:].split()[0] for line in done.stdout.splitlines() if line.startswith("✓")}
    assert [name for name in MUST_PASS if name not in passed] == []


@pytest.mark.integration
def test_systemd_reads_notify_watchdog_and_a_narrow_capability_set(node: Node) -> None:
    """Type=notify, reload by SIGHUP, only three capabilities (the watchdog: see e2e)."""
    props = node.show("medic.service")
    assert (props["Type"], props["NotifyAccess"]) == ("notify", "main")
    assert props["CapabilityBoundingSet"] == "cap_dac_read_search cap_kill cap_sys_ptrace"
    assert (props["NoNewPrivileges"], props["ProtectSystem"], props["ProtectHome"]) == (
        "yes",
        "strict",
        "yes",
    )
    assert (props["PrivateTmp"], props["StateDirectory"], props["Restart"]) == (
        "yes",
        "medic",
        "on-failure",
    )
    assert "/bin/kill -HUP $MAINPID" in props["ExecReload"]
    assert (
        "argv[]=/opt/medic/venv/bin/medic run --config /etc/medic/medic.yaml"
        in (props["ExecStart"])
    )


@pytest.mark.integration
def test_install_again_keeps_the_config_and_puts_medic_on_the_path(node: Node) -> None:
    """A second install-node.sh run succeeds, leaves /etc/medic alone, links medic."""
    node.sh("echo '# kept by the test' >> /etc/medic/medic.yaml")
    before = node.run("sha256sum", "/etc/medic/medic.yaml").stdout
    wheel = node.sh("ls /var/tmp/medic-install/wheelhouse/medic_agent-*.whl").strip()
    done = node.run(
        "bash", "/var/tmp/medic-install/install-node.sh",
        "--wheel", wheel, "--wheelhouse", "/var/tmp/medic-install/wheelhouse",
        timeout=300,
    )  # fmt: skip
    assert done.stdout.strip().endswith("done: medic, version 0.1.0, unit unchanged")
    assert node.run("sha256sum", "/etc/medic/medic.yaml").stdout == before
    assert node.sh("command -v medic").strip() == "/usr/local/bin/medic"
    assert node.sh("readlink /usr/local/bin/medic").strip() == "/opt/medic/venv/bin/medic"
    assert node.sh("stat -c %a /etc/default/medic").strip() == "600"
    assert node.run("medic", "--version").stdout.strip() == "medic, version 0.1.0"


@pytest.mark.integration
def test_install_without_a_checkout_writes_a_starter_config_from_the_wheel(node: Node) -> None:
    """Script and wheel alone: /etc/medic from `medic init` (dry-run, host pack), unit,
    secrets file and docs from the package, and the config validates as installed."""
    assert node.run("test", "-e", "/var/tmp/medic-install/src", check=False).returncode == 1
    config = node.run("cat", "/var/tmp/etc-medic-as-installed/medic.yaml").stdout
    assert "dry_run: true" in config
    assert 'state_dir: "/var/lib/medic"' in config
    assert '  - "policies/host"' in config
    assert node.sh("stat -c %a /var/tmp/etc-medic-as-installed/medic.yaml").strip() == "640"
    done = node.run("medic", "validate", "--config", "/var/tmp/etc-medic-as-installed/medic.yaml")
    assert done.stdout.strip() == "ok: 4 policies in 2 files"
    shipped = "/opt/medic/venv/lib/python3*/site-packages/medic/share"
    node.sh(f"cmp {shipped}/systemd/medic.service /etc/systemd/system/medic.service")
    node.sh(f"cmp {shipped}/docs/deployment.md /opt/medic/docs/deployment.md")
    node.sh(f"diff -r {shipped}/policies /opt/medic/examples/policies")


@pytest.mark.integration
def test_the_systemd_example_pack_validates_and_probes_on_the_node(node: Node) -> None:
    """The installed example pack validates on the node; its probe runs on a real unit."""
    node.write(
        "/var/tmp/validate.yaml",
        "notifiers:\n  oncall: {type: webhook, url: 'http://127.0.0.1:9/x'}\n",
    )
    done = node.run(
        "medic", "validate", "--config", "/var/tmp/validate.yaml",
        "/opt/medic/examples/policies/systemd",
    )  # fmt: skip
    assert done.stdout.strip() == "ok: 1 policy in 1 file"
    fields = json.loads(
        node.run("medic", "probe", "systemd.unit", "unit=xai-node", "--json").stdout
    )
    assert fields["xai-node.service"]["load_state"] == "not-found"


# -- the sd_notify client, on the host ------------------------------------------------------


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A datagram socket standing in for systemd's notify socket."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_reload_and_stop_send_the_documented_messages(
    listener: tuple[str, socket.socket],
) -> None:
    """READY=1 with STATUS; RELOADING=1 with MONOTONIC_USEC, then READY=1; STOPPING=1."""
    path, sock = listener
    notifier = SystemdNotifier(path)
    notifier.ready("3 policies running")
    assert received(sock) == ["READY=1", "STATUS=3 policies running"]
    notifier.reloading()
    reloading = received(sock)
    assert reloading[0] == "RELOADING=1"
    assert re.fullmatch(r"MONOTONIC_USEC=\d+", reloading[1])
    notifier.reloaded("4 policies running")
    assert received(sock) == ["READY=1", "STATUS=4 policies running"]
    notifier.stopping()
    assert received(sock) == ["STOPPING=1", "STATUS=stopping"]
    notifier.close()


def test_the_reload_during_start_up_is_not_announced(listener: tuple[str, socket.socket]) -> None:
    """Before READY=1 a reload is part of start-up: nothing is sent for it."""
    path, sock = listener
    notifier = SystemdNotifier(path)
    notifier.reloading()
    notifier.reloaded()
    notifier.status("first")
    assert received(sock) == ["STATUS=first"]
    notifier.close()


def test_an_abstract_socket_name_is_reached(tmp_path: Path) -> None:
    """``@name`` in NOTIFY_SOCKET is the abstract namespace, as systemd writes it."""
    name = f"medic-test-{tmp_path.name}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        notifier = SystemdNotifier("@" + name)
        assert notifier.send("STATUS=hello") is True
        assert sock.recv(100) == b"STATUS=hello"
        notifier.close()


def test_from_env_reads_and_removes_the_variables() -> None:
    """Children of Medic never see NOTIFY_SOCKET or the watchdog variables."""
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "", "A": "b"}
    notifier = SystemdNotifier.from_env(env)
    assert (notifier.address, notifier.watchdog_interval) == ("/run/x", 5.0)
    assert env == {"A": "b"}


def test_a_watchdog_meant_for_another_process_is_ignored() -> None:
    """WATCHDOG_PID names the process to ping from; another pid means no pings."""
    assert watchdog_usec({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}, 4242) is None
    assert watchdog_usec({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "4242"}, 4242) == 4000000
    assert watchdog_usec({"WATCHDOG_USEC": "0"}, 4242) is None
    assert SystemdNotifier(None, 4000000).watchdog_interval is None


@pytest.mark.asyncio
async def test_the_watchdog_pings_from_the_event_loop_until_stopped(
    listener: tuple[str, socket.socket],
) -> None:
    """start_watchdog() sends WATCHDOG=1 repeatedly from a loop task; stopping ends it."""
    path, sock = listener
    notifier = SystemdNotifier(path, watchdog_usec=100_000)
    task = notifier.start_watchdog()
    assert task is not None
    assert notifier.start_watchdog() is task  # one pinger, however often it is asked
    for _ in range(3):
        assert await asyncio.to_thread(received, sock) == ["WATCHDOG=1"]
    notifier.stop_watchdog()
    await asyncio.gather(task, return_exceptions=True)
    assert task.done()
    notifier.close()


def test_a_lost_notification_is_logged_once_and_never_raised(tmp_path: Path) -> None:
    """No listener at the socket path: send() returns False, one warning for a streak."""
    notifier = SystemdNotifier(str(tmp_path / "nobody-listens.sock"))
    with capture_logs() as logs:
        assert notifier.send("WATCHDOG=1") is False
        assert notifier.send("WATCHDOG=1") is False
    assert [entry["event"] for entry in logs] == ["systemd.notify_failed"]
    notifier.close()


def test_outside_systemd_everything_is_a_no_op() -> None:
    """Without NOTIFY_SOCKET nothing is sent and no watchdog runs."""
    notifier = SystemdNotifier.from_env({})
    assert notifier.enabled is False
    assert notifier.send("READY=1") is False
    assert notifier.watchdog_interval is None
