"""A real 3-member etcd cluster for the fleet tests: local processes on free loopback
ports with their data in the test's tmp dir, stopped (and killed if need be) after.

``scripts/provision-etcd.sh`` installs etcd (Debian's etcd-server 3.4); a missing
binary fails the test with a message naming it, nothing is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kit.ports import free_port

HINT = "run scripts/provision-etcd.sh as root (installs etcd-server and etcd-client)"


@dataclass
class EtcdCluster:
    root: Path
    size: int = 3
    token: str = field(default_factory=lambda: f"medic-{uuid.uuid4().hex[:8]}")
    client_ports: list[int] = field(default_factory=list)
    peer_ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)

    @property
    def endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.client_ports]

    def start(self) -> None:
        binary = shutil.which("etcd")
        if binary is None:
            pytest.fail(f"etcd is not installed: {HINT}")
        self.client_ports = [free_port() for _ in range(self.size)]
        self.peer_ports = [free_port() for _ in range(self.size)]
        initial = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(self.peer_ports))
        for i in range(self.size):
            argv = [
                binary,
                f"--name=m{i}",
                f"--data-dir={self.root / f'm{i}'}",
                f"--listen-client-urls={self.endpoints[i]}",
                f"--advertise-client-urls={self.endpoints[i]}",
                f"--listen-peer-urls=http://127.0.0.1:{self.peer_ports[i]}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{self.peer_ports[i]}",
                f"--initial-cluster={initial}",
                f"--initial-cluster-token={self.token}",
                "--initial-cluster-state=new",
                "--heartbeat-interval=50",
                "--election-timeout=500",
            ]
            with (self.root / f"m{i}.log").open("wb") as log:
                self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
        self.wait_healthy()

    def healthy(self, index: int) -> bool:
        try:
            url = self.endpoints[index] + "/health"  # http://127.0.0.1:<port>, made above
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
                return bool(json.loads(resp.read()).get("health") == "true")
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [i for i, p in enumerate(self.procs) if p is not None]
            if all(self.healthy(i) for i in alive):
                return
            time.sleep(0.1)
        logs = "\n".join((self.root / f"m{i}.log").read_text()[-1500:] for i in range(self.size))
        pytest.fail(f"the etcd cluster did not become healthy:\n{logs}")

    def kill(self, index: int) -> None:
        proc = self.procs[index]
        assert proc is not None
        proc.kill()
        proc.wait(10)
        self.procs[index] = None

    def stop(self) -> None:
        """Kill every member: the data is this test's scratch, nothing to flush."""
        for index, proc in enumerate(self.procs):
            if proc is not None:
                self.kill(index)
