"""What one run of the prometheus and log probes costs: median and p99 wall time, and CPU.

Run: ``.venv/bin/python bench/bench_probe_cost_metrics.py`` (needs
scripts/provision-prometheus.sh to have installed Prometheus and the node exporter).

- scrape: a local exporter (an aiohttp app in its own process) serving 500 series, and
  the real Debian node exporter;
- query: a real Prometheus scraping that node exporter every second;
- log: a file that grows by 1,000 lines between two runs (the writing is not timed).

Each probe's ``measure()`` runs back to back after one warm-up run. The figures are
wall time per run and how many runs one core could do per second, counting the CPU of
the probe's own process only: the exporters and Prometheus run in processes of their
own, and their work is what they would do for Prometheus anyway.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchkit import report, time_runs
from medic.probes.base import Probe
from medic.probes.logs.logfile import LogProbe
from medic.probes.monitoring.prometheus import PrometheusProbe

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from kit.promstack import (
    Service,
    free_port,
    http_get,
    start_node_exporter,
    start_prometheus,
    wait_for_series,
)

# 500 series: 5 counters x 100 label sets, each with HELP and TYPE, like a busy exporter.
EXPORTER = """
import sys
from aiohttp import web
lines = []
for m in range(5):
    lines += [f"# HELP app_metric_{m}_total A counter.", f"# TYPE app_metric_{m}_total counter"]
    lines += [f'app_metric_{m}_total{{shard="{s}",zone="z{s % 3}"}} {m * 1000 + s}'
              for s in range(100)]
body = "\\n".join(lines) + "\\n"
async def metrics(request):
    return web.Response(text=body, content_type="text/plain")
app = web.Application()
app.router.add_get("/metrics", metrics)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


async def bench(
    label: str, make: Callable[[], Probe], runs: int, between: Callable[[], None] | None = None
) -> None:
    probe = make()
    probe.timeout = 10.0
    await probe.measure()  # warm-up: connection, imports, first samples
    walls, cpu, targets = await time_runs(probe, runs, between)
    await probe.close()
    report(f"{label} ({targets} targets)", runs, walls, cpu, width=44)


def start_exporter(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", EXPORTER, str(port)], cwd=work)
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 30
    while True:
        try:
            http_get(url)
            return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)


class GrowingLog:
    """A log file that gains 1,000 lines (1 in 50 an error) before every run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.write_text("")
        self.n = 0

    def grow(self) -> None:
        with self.path.open("a") as f:
            for _ in range(1000):
                self.n += 1
                level = "ERROR" if self.n % 50 == 0 else "INFO"
                f.write(f"2026-01-01T00:00:00Z {level} request {self.n} served in 12ms\n")


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="medic-bench-metrics-"))
    exporter, local = start_exporter(work)
    services: list[Service] = []
    try:
        node = start_node_exporter(work)
        services.append(node)
        prom = start_prometheus(work, {"node": [node.url.removeprefix("http://")]})
        services.append(prom)
        wait_for_series(prom, 'up{job="node"}')
        node_url = node.url + "/metrics"
        log = GrowingLog(work / "app.log")
        cases: list[tuple[str, Callable[[], Probe], int, Callable[[], None] | None]] = [
            (
                "scrape local 500 series: 1 series",
                lambda: PrometheusProbe(
                    {"scrape": local, "metric": "app_metric_2_total", "labels": {"shard": "7"}}
                ),
                300,
                None,
            ),
            (
                "scrape local 500 series: 100 series, window",
                lambda: PrometheusProbe(
                    {"scrape": local, "metric": "app_metric_2_total", "window": "30m"}
                ),
                300,
                None,
            ),
            (
                "scrape local 500 series: ratio, window",
                lambda: PrometheusProbe(
                    {
                        "scrape": local,
                        "numerator": {"metric": "app_metric_1_total", "labels": {"zone": "z1"}},
                        "denominator": {"metric": "app_metric_1_total"},
                        "window": "5m",
                    }
                ),
                300,
                None,
            ),
            (
                "scrape node exporter: node_load1",
                lambda: PrometheusProbe({"scrape": node_url, "metric": "node_load1"}),
                100,
                None,
            ),
            (
                "query prometheus: up{job=node}",
                lambda: PrometheusProbe({"server": prom.url, "query": 'up{job="node"}'}),
                300,
                None,
            ),
            (
                "query prometheus: sum(rate(cpu[1m])) by mode",
                lambda: PrometheusProbe(
                    {
                        "server": prom.url,
                        "query": "sum by (mode) (rate(node_cpu_seconds_total[1m]))",
                    }
                ),
                300,
                None,
            ),
            (
                "log: +1,000 lines per run",
                lambda: LogProbe({"path": str(log.path), "pattern": r"\bERROR\b"}),
                300,
                log.grow,
            ),
        ]
        print(f"host: {os.cpu_count()} CPUs; wall time and CPU (this process) per run")
        for label, make, runs, between in cases:
            await bench(label, make, runs, between)
    finally:
        for service in reversed(services):
            service.stop()
        exporter.terminate()
        exporter.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
