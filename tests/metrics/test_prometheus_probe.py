"""The prometheus probe against real HTTP: a local exposition, a real exporter and Prometheus."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kit.promstack import Exposition, Service
from medic.clock import FakeClock
from medic.errors import ProbeError
from medic.policy.loader import load_text
from medic.probes.base import probes
from medic.probes.monitoring.prometheus import PrometheusProbe

EXPOSITION = textwrap.dedent(
    """\
    # HELP http_requests_total Requests served.
    # TYPE http_requests_total counter
    http_requests_total{status="200",path="/"} 90
    http_requests_total{status="500",path="/"} 3
    http_requests_total{status="200",path="/a\\"b"} 7
    # HELP temperature Degrees.
    # TYPE temperature gauge
    temperature 21.5
    # TYPE broken gauge
    broken NaN
    # TYPE lat histogram
    lat_bucket{le="0.1"} 3
    lat_bucket{le="+Inf"} 4
    lat_sum 1.5
    lat_count 4
    """
)

Make = Callable[..., PrometheusProbe]


@pytest_asyncio.fixture
async def make() -> AsyncIterator[Make]:
    """Factory for probes on a fake clock; every probe is closed afterwards."""
    made: list[PrometheusProbe] = []

    def build(timeout: float = 5.0, **options: Any) -> PrometheusProbe:
        assert PrometheusProbe.validate(options) == []
        probe = PrometheusProbe(options)
        probe.clock = FakeClock()
        probe.timeout = timeout
        made.append(probe)
        return probe

    yield build
    for probe in made:
        await probe.close()


def advance(probe: PrometheusProbe, seconds: float) -> None:
    clock = probe.clock
    assert isinstance(clock, FakeClock)
    clock.advance(seconds)


def counter(values: dict[str, float]) -> str:
    lines = ["# TYPE jobs_total counter"]
    lines += [f'jobs_total{{status="{k}"}} {v}' for k, v in values.items()]
    return "\n".join(lines) + "\n"


# --- reading the exposition -----------------------------------------------------


@pytest.mark.asyncio
async def test_unlabelled_gauge_is_one_target_named_after_the_metric(
    exposition: Exposition, make: Make
) -> None:
    """A single unlabelled series is the target named just like the metric."""
    exposition.body = EXPOSITION
    assert await make(scrape=exposition.url, metric="temperature").measure() == {
        "temperature": {"value": 21.5, "labels": {}}
    }


@pytest.mark.asyncio
async def test_counter_series_are_targets_in_prometheus_notation(
    exposition: Exposition, make: Make
) -> None:
    """Each series is a target with sorted labels; escaped quotes survive both ways."""
    exposition.body = EXPOSITION
    found = await make(scrape=exposition.url, metric="http_requests_total").measure()
    assert found == {
        'http_requests_total{path="/",status="200"}': {
            "value": 90.0,
            "labels": {"status": "200", "path": "/"},
        },
        'http_requests_total{path="/",status="500"}': {
            "value": 3.0,
            "labels": {"status": "500", "path": "/"},
        },
        'http_requests_total{path="/a\\"b",status="200"}': {
            "value": 7.0,
            "labels": {"status": "200", "path": '/a"b'},
        },
    }


@pytest.mark.asyncio
async def test_counter_written_without_total_is_found_by_its_exposed_name(
    exposition: Exposition, make: Make
) -> None:
    """`block_height 5` under `# TYPE block_height counter` is read as block_height."""
    exposition.body = "# TYPE block_height counter\nblock_height 5\n"
    assert await make(scrape=exposition.url, metric="block_height").measure() == {
        "block_height": {"value": 5.0, "labels": {}}
    }


@pytest.mark.asyncio
async def test_labels_match_exactly(exposition: Exposition, make: Make) -> None:
    """labels keeps only series whose labels have exactly those values."""
    exposition.body = EXPOSITION
    probe = make(scrape=exposition.url, metric="http_requests_total", labels={"path": '/a"b'})
    assert list(await probe.measure()) == ['http_requests_total{path="/a\\"b",status="200"}']
    none = make(scrape=exposition.url, metric="http_requests_total", labels={"status": "50"})
    assert await none.measure() == {}


@pytest.mark.asyncio
async def test_histogram_buckets_are_series_of_their_own(
    exposition: Exposition, make: Make
) -> None:
    """A histogram's _bucket samples are read by their exposed name and the le label."""
    exposition.body = EXPOSITION
    probe = make(scrape=exposition.url, metric="lat_bucket", labels={"le": "+Inf"})
    assert await probe.measure() == {
        'lat_bucket{le="+Inf"}': {"value": 4.0, "labels": {"le": "+Inf"}}
    }
    count = make(scrape=exposition.url, metric="lat_count")
    assert await count.measure() == {"lat_count": {"value": 4.0, "labels": {}}}


@pytest.mark.asyncio
async def test_nan_reads_as_null(exposition: Exposition, make: Make) -> None:
    """NaN cannot be compared or stored as JSON: it is null."""
    exposition.body = EXPOSITION
    assert await make(scrape=exposition.url, metric="broken").measure() == {
        "broken": {"value": None, "labels": {}}
    }


@pytest.mark.asyncio
async def test_openmetrics_answer_is_parsed_too(exposition: Exposition, make: Make) -> None:
    """An endpoint answering OpenMetrics is read with the OpenMetrics parser."""
    exposition.content_type = "application/openmetrics-text"
    exposition.body = "# TYPE jobs counter\njobs_total 5\n# EOF\n"
    found = await make(scrape=exposition.url, metric="jobs_total").measure()
    assert found == {"jobs_total": {"value": 5.0, "labels": {}}}


@pytest.mark.asyncio
async def test_unknown_metric_is_an_error_with_a_suggestion(
    exposition: Exposition, make: Make
) -> None:
    """A metric name the endpoint does not expose fails and suggests the close one."""
    exposition.body = EXPOSITION
    with pytest.raises(ProbeError) as caught:
        await make(scrape=exposition.url, metric="temprature").measure()
    assert caught.value.message == f"{exposition.url} exposes no metric named temprature"
    assert caught.value.hint == "did you mean temperature?"


@pytest.mark.asyncio
async def test_malformed_wanted_line_is_an_error(exposition: Exposition, make: Make) -> None:
    """A line of the wanted metric that does not parse fails the run, naming the URL."""
    exposition.body = "temperature {oops 1\n"
    with pytest.raises(ProbeError) as caught:
        await make(scrape=exposition.url, metric="temperature").measure()
    assert caught.value.message.startswith(f"{exposition.url} is not a Prometheus exposition: ")


@pytest.mark.asyncio
async def test_malformed_line_of_another_metric_is_ignored(
    exposition: Exposition, make: Make
) -> None:
    """Only the wanted metric's lines are parsed, so a broken neighbour does not matter."""
    exposition.body = "other {oops 1\ntemperature 3\n"
    assert await make(scrape=exposition.url, metric="temperature").measure() == {
        "temperature": {"value": 3.0, "labels": {}}
    }


@pytest.mark.asyncio
async def test_http_error_status_is_an_error(exposition: Exposition, make: Make) -> None:
    """An endpoint answering 500 fails the run with the status."""
    exposition.status = 500
    with pytest.raises(ProbeError) as caught:
        await make(scrape=exposition.url, metric="temperature").measure()
    assert caught.value.message == f"{exposition.url} answered HTTP 500"


@pytest.mark.asyncio
async def test_silent_server_is_cut_off_at_the_timeout(silent_server: str, make: Make) -> None:
    """A server that accepts and never answers is given up on at the probe's timeout."""
    probe = make(timeout=0.3, scrape=silent_server, metric="temperature")
    with pytest.raises(ProbeError) as caught:
        await probe.measure()
    assert caught.value.message == f"no answer from {silent_server} within 300ms"


@pytest.mark.asyncio
async def test_nothing_listening_is_an_error(make: Make) -> None:
    """A refused connection fails the run and names the URL."""
    probe = make(scrape="http://127.0.0.1:1/metrics", metric="temperature")
    with pytest.raises(ProbeError) as caught:
        await probe.measure()
    assert caught.value.message.startswith("cannot read http://127.0.0.1:1/metrics: ")


@pytest.mark.asyncio
async def test_token_and_secret_headers_are_sent_and_never_shown(
    exposition: Exposition, make: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """token becomes a Bearer header and header secrets are resolved at use time."""
    monkeypatch.setenv("METRICS_TOKEN", "s3cret-token")
    key_file = tmp_path / "key"
    key_file.write_text("k3y\n")
    exposition.body = EXPOSITION
    probe = make(
        scrape=exposition.url,
        metric="temperature",
        token={"env": "METRICS_TOKEN"},
        headers={"X-Api-Key": {"file": str(key_file)}, "X-Team": "ops"},
    )
    found = await probe.measure()
    assert exposition.last_headers is not None
    assert exposition.last_headers["Authorization"] == "Bearer s3cret-token"
    assert exposition.last_headers["X-Api-Key"] == "k3y"
    assert exposition.last_headers["X-Team"] == "ops"
    assert "s3cret" not in repr(found)


@pytest.mark.asyncio
async def test_unset_token_variable_is_an_error(exposition: Exposition, make: Make) -> None:
    """A token reference to an unset variable fails the run and names the variable."""
    probe = make(scrape=exposition.url, metric="temperature", token={"env": "MEDIC_NO_SUCH_VAR"})
    with pytest.raises(ProbeError) as caught:
        await probe.measure()
    assert caught.value.message == "environment variable MEDIC_NO_SUCH_VAR is not set"
    assert exposition.requests == 0


# --- windows ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_increase_and_rate_handle_a_counter_reset(exposition: Exposition, make: Make) -> None:
    """10 -> 15 -> 3 (restart) -> 5 is an increase of 10 over the 30 s window."""
    probe = make(scrape=exposition.url, metric="jobs_total", window="30s")
    target = 'jobs_total{status="ok"}'
    seen = []
    for value in (10, 15, 3, 5):
        exposition.body = counter({"ok": value})
        seen.append((await probe.measure())[target])
        advance(probe, 10)
    assert seen[0]["increase"] is None and seen[0]["window_full"] is False
    assert seen[1]["increase"] == 5.0 and seen[1]["rate"] == 0.5
    last = seen[3]
    assert last["increase"] == 10.0
    assert last["rate"] == pytest.approx(10 / 30)
    assert last["changed"] is True
    assert last["window_full"] is True
    assert last["value"] == 5.0


@pytest.mark.asyncio
async def test_stalled_counter_fires_only_once_the_window_is_full(
    exposition: Exposition, make: Make
) -> None:
    """A counter that stops growing reads increase 0, and window_full only after 30 s."""
    probe = make(scrape=exposition.url, metric="jobs_total", window="30s")
    exposition.body = counter({"ok": 42})
    readings = []
    for _ in range(5):
        readings.append((await probe.measure())['jobs_total{status="ok"}'])
        advance(probe, 10)
    assert [(r["increase"], r["window_full"]) for r in readings] == [
        (None, False),
        (0.0, False),
        (0.0, False),
        (0.0, True),
        (0.0, True),
    ]
    assert readings[-1]["changed"] is False


@pytest.mark.asyncio
async def test_growth_expires_from_the_window(exposition: Exposition, make: Make) -> None:
    """Growth older than the window no longer counts."""
    probe = make(scrape=exposition.url, metric="jobs_total", window="30s")
    increases = []
    for value in (1, 2, 2, 2, 2, 2):  # grows between t=0 and t=10, then stalls
        exposition.body = counter({"ok": value})
        increases.append((await probe.measure())['jobs_total{status="ok"}']["increase"])
        advance(probe, 10)
    assert increases == [None, 1.0, 1.0, 1.0, 0.0, 0.0]


@pytest.mark.asyncio
async def test_counter_appearing_later_counts_from_zero(exposition: Exposition, make: Make) -> None:
    """A counter series born between runs grew from zero: its first errors count."""
    probe = make(scrape=exposition.url, metric="jobs_total", window="1m")
    exposition.body = counter({"ok": 5})
    await probe.measure()
    advance(probe, 10)
    exposition.body = counter({"ok": 6, "failed": 3})
    found = await probe.measure()
    assert found['jobs_total{status="failed"}']["increase"] == 3.0
    assert found['jobs_total{status="ok"}']["increase"] == 1.0


@pytest.mark.asyncio
async def test_ratio_of_rates(exposition: Exposition, make: Make) -> None:
    """ratio is rate(numerator) / rate(denominator); null while the denominator is still."""
    probe = make(
        scrape=exposition.url,
        window="1m",
        numerator={"metric": "jobs_total", "labels": {"status": "failed"}},
        denominator={"metric": "jobs_total"},
    )
    target = 'jobs_total{status="failed"} / jobs_total'
    exposition.body = counter({"ok": 100})
    first = (await probe.measure())[target]
    assert first["ratio"] is None and first["window_full"] is False
    advance(probe, 10)
    exposition.body = counter({"ok": 190, "failed": 10})
    second = (await probe.measure())[target]
    assert second["numerator_rate"] == 1.0
    assert second["denominator_rate"] == 10.0
    assert second["ratio"] == 0.1 and second["value"] == 0.1
    advance(probe, 60)
    probe.name = "failure-ratio"
    idle = (await probe.measure())["failure-ratio"]
    assert idle["denominator_rate"] == 0.0
    assert idle["ratio"] is None
    assert idle["window_full"] is True


# --- fields, validation ---------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "options",
    [
        {"metric": "jobs_total"},
        {"metric": "jobs_total", "window": "1m"},
        {
            "numerator": {"metric": "jobs_total"},
            "denominator": {"metric": "jobs_total"},
            "window": "1m",
        },
    ],
    ids=["plain", "window", "ratio"],
)
async def test_measured_fields_are_the_declared_ones(
    exposition: Exposition, make: Make, options: dict[str, Any]
) -> None:
    """Each form yields exactly field_names() plus option_fields(options), all documented."""
    exposition.body = counter({"ok": 1})
    probe = make(scrape=exposition.url, **options)
    expected = {*PrometheusProbe.field_names(), *PrometheusProbe.option_fields(options)}
    for fields in (await probe.measure()).values():
        assert set(fields) == expected
    assert expected <= {f.name for f in PrometheusProbe.fields}


S = "http://h/metrics"
ONE_OF = (
    "give exactly one of scrape (an exposition URL the probe reads itself) "
    "or query (PromQL answered by a Prometheus server)."
)
RATIO = {"numerator": {"metric": "y"}, "denominator": {"metric": "z"}}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"metric": "x"}, ONE_OF),
        ({"scrape": S, "query": "up", "metric": "x"}, ONE_OF),
        ({"query": "up"}, "query needs server, the Prometheus base URL (http://host:9090)."),
        (
            {"query": "up", "server": "http://h:9090", "window": "5m"},
            "window is for scrape; with query, select and compute in PromQL instead.",
        ),
        (
            {"scrape": S, "server": "http://h:9090", "metric": "x"},
            "server is for query; with scrape, the URL to read is scrape itself.",
        ),
        (
            {"scrape": S},
            "scrape needs metric, or numerator and denominator for a ratio of rates.",
        ),
        (
            {"scrape": S, "metric": "x", **RATIO},
            "give metric (one series per target) or numerator and denominator, not both.",
        ),
        (
            {"scrape": S, "numerator": {"metric": "y"}, "window": "5m"},
            "a ratio needs both numerator and denominator.",
        ),
        (
            {"scrape": S, **RATIO},
            "a ratio of rates needs window (like 5m), the span the rates are measured over.",
        ),
        (
            {"scrape": S, **RATIO, "window": "5m", "labels": {"a": "b"}},
            "with a ratio, put labels inside numerator and denominator.",
        ),
        ({"scrape": S, "metric": "x", "window": "0s"}, "window must be longer than 0s."),
        (
            {"scrape": S, "metric": "x", "name": "n"},
            "name is for a ratio or a query; series of metric are named by their labels.",
        ),
        (
            {
                "scrape": S,
                "metric": "x",
                "token": {"env": "T"},
                "headers": {"authorization": {"env": "A"}},
            },
            "give token or an Authorization header, not both.",
        ),
        (
            {"scrape": S, "metric": "x", "headers": {"X-Api-Key": "plain"}},
            "header X-Api-Key holds a secret: write it as {env: NAME} or {file: /path}, "
            "or use token: for a bearer token.",
        ),
    ],
)
def test_validate_explains_combinations_that_make_no_sense(
    options: dict[str, Any], problem: str
) -> None:
    """Each nonsensical combination of options gets one plain sentence saying the fix."""
    assert PrometheusProbe.validate(options) == [problem]


def test_windowed_field_without_window_is_rejected_at_load() -> None:
    """`when: increase == 0` without window is caught by validation, naming the fields."""
    text = textwrap.dedent(
        """\
        version: 1
        policies:
          - name: stalled
            probe: {type: prometheus, scrape: "http://h:9100/metrics", metric: height}
            when: increase == 0
        """
    )
    result = load_text(text, "p.yaml", probe_registry=probes)
    assert [str(e) for e in result.errors] == [
        "p.yaml:5:11: policy 'stalled': field 'increase' is not yielded by probe 'prometheus'; "
        "fields: labels, value (hint: `medic probe prometheus` runs the probe once and prints "
        "its fields)"
    ]
    windowed = text.replace("metric: height}", "metric: height, window: 30m}").replace(
        "increase == 0", "window_full and increase == 0"
    )
    assert load_text(windowed, "p.yaml", probe_registry=probes).errors == ()


# --- a real node exporter and a real Prometheus -----------------------------------


@pytest.mark.integration
@pytest.mark.asyncio
async def test_scrape_a_real_node_exporter(node_exporter: Service, make: Make) -> None:
    """The Debian node exporter's gauges and labelled counters read as targets."""
    url = node_exporter.url + "/metrics"
    load = await make(scrape=url, metric="node_load1").measure()
    assert list(load) == ["node_load1"]
    assert isinstance(load["node_load1"]["value"], float)
    idle = await make(
        scrape=url, metric="node_cpu_seconds_total", labels={"mode": "idle"}
    ).measure()
    assert idle and all(t.startswith('node_cpu_seconds_total{cpu="') for t in idle)
    assert {f["labels"]["mode"] for f in idle.values()} == {"idle"}


@pytest.mark.integration
@pytest.mark.asyncio
async def test_query_a_real_prometheus(
    prometheus: Service, node_exporter: Service, make: Make
) -> None:
    """An instant vector gives one target per series, with its labels and value."""
    probe = make(query='up{job="node"}', server=prometheus.url)
    instance = node_exporter.url.removeprefix("http://")
    assert await probe.measure() == {
        f'up{{instance="{instance}",job="node"}}': {
            "value": 1.0,
            "labels": {"instance": instance, "job": "node"},
        }
    }
    compared = await make(
        timeout=2.5, query='up{job="node"} == bool 1', server=prometheus.url
    ).measure()
    assert [f["value"] for f in compared.values()] == [1.0]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_query_scalar_and_aggregate_results(prometheus: Service, make: Make) -> None:
    """A scalar is the target `scalar`; an aggregate without labels is named by its query."""
    assert await make(query="1 + 2", server=prometheus.url).measure() == {
        "scalar": {"value": 3.0, "labels": {}}
    }
    total = await make(query="sum(up)", server=prometheus.url).measure()
    assert list(total) == ["sum(up)"]
    assert total["sum(up)"]["labels"] == {}
    named = await make(query="sum(up)", server=prometheus.url, name="targets-up").measure()
    assert list(named) == ["targets-up"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_bad_query_reports_prometheus_message(prometheus: Service, make: Make) -> None:
    """A query Prometheus rejects fails the run with Prometheus's own error text."""
    with pytest.raises(ProbeError) as caught:
        await make(query="up(", server=prometheus.url).measure()
    assert caught.value.message == (
        'Prometheus rejected the query: invalid parameter "query": '
        "1:4: parse error: unclosed left parenthesis"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_range_vector_query_is_refused(prometheus: Service, make: Make) -> None:
    """A range vector cannot be a measurement; the message says how to fix the query."""
    with pytest.raises(ProbeError) as caught:
        await make(query="up[1m]", server=prometheus.url).measure()
    assert caught.value.message == "the query returns a matrix, not an instant vector or a scalar"
    assert caught.value.hint == "drop the range ([5m]) or wrap it in a function such as rate()"


@pytest.mark.asyncio
async def test_server_that_is_not_prometheus(exposition: Exposition, make: Make) -> None:
    """A server URL that answers something other than the API fails with its status."""
    base = exposition.url.removesuffix("/metrics")
    with pytest.raises(ProbeError) as caught:
        await make(query="up", server=base).measure()
    assert caught.value.message == f"{base}/api/v1/query answered HTTP 404, not JSON"
