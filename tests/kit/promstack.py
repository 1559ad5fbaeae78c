"""Real Prometheus and node exporter processes for tests: free ports, config in tmp, ready waits.

scripts/provision-prometheus.sh installs both from Debian; nothing here starts the
system services. Each helper starts its own instance in its own session (so stopping
it kills nothing else), waits until it answers and says, when it does not, what its
log says. Used by tests/metrics, tests/integration and the eventchain pack test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from kit.ports import free_port

PROVISION = "scripts/provision-prometheus.sh"
PROMETHEUS = "prometheus"
NODE_EXPORTER = "prometheus-node-exporter"


@dataclass
class Exposition:
    """What a test's own exposition endpoint serves; tests change it between runs."""

    url: str
    body: str = ""
    status: int = 200
    content_type: str = "text/plain"
    requests: int = 0
    last_headers: dict[str, str] | None = None


class StackError(RuntimeError):
    """A component is missing or did not come up; the message says what to run."""


@dataclass
class Service:
    """One started program: its process, base URL and log file."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(f"{self.name} exited ({self.proc.returncode}):\n{self._tail()}")
            try:
                if check():
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.1)
        self.stop()
        raise StackError(f"{self.name} not {what} within {timeout:g}s:\n{self._tail()}")

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} is not installed; run {PROVISION} as root (or `make provision`)")
    return found


def _start(name: str, argv: list[str], url: str, workdir: Path) -> Service:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, cwd=workdir, start_new_session=True)
    return Service(name, proc, url, log)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URLs we built
        return int(resp.status), resp.read()


def start_node_exporter(workdir: Path) -> Service:
    """A node exporter on a free loopback port; returns once /metrics answers."""
    port = free_port()
    argv = [_binary(NODE_EXPORTER), f"--web.listen-address=127.0.0.1:{port}"]
    service = _start("node-exporter", argv, f"http://127.0.0.1:{port}", workdir)
    service.wait_until(lambda: http_get(service.url + "/metrics")[0] == 200, "serving /metrics")
    return service


def start_prometheus(workdir: Path, jobs: dict[str, list[str]]) -> Service:
    """A Prometheus scraping ``jobs`` (job name -> host:port list) every second.

    Returns once ``/-/ready`` answers; use :func:`wait_for_series` to wait for data.
    """
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": targets}]}
            for job, targets in jobs.items()
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    argv = [
        _binary(PROMETHEUS),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
    ]
    service = _start("prometheus", argv, f"http://127.0.0.1:{port}", workdir)
    service.wait_until(lambda: http_get(service.url + "/-/ready")[0] == 200, "ready")
    return service


def instant_query(server: Service, query: str) -> list[dict[str, object]]:
    url = server.url + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    body = json.loads(http_get(url)[1])
    return list(body["data"]["result"])


def wait_for_series(server: Service, query: str, timeout: float = 60.0) -> None:
    """Wait until ``query`` returns a series (the first scrape lands ~5 s after start)."""
    server.wait_until(lambda: bool(instant_query(server, query)), f"returning {query}", timeout)
