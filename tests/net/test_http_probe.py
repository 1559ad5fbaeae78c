"""The http probe against real aiohttp servers on loopback (HTTP and HTTPS)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from medic.errors import ProbeError
from medic.policy.loader import load_text
from medic.probes.network.http import HttpProbe

pytestmark = pytest.mark.integration

SLACK = 3.0  # seconds a busy 2-core machine may add to a timeout before we call it a hang
Measure = Callable[..., Any]


@pytest_asyncio.fixture
async def measure() -> AsyncIterator[Measure]:
    """Run an http probe once with options and a timeout; returns (target, fields)."""
    made: list[HttpProbe] = []

    async def run(probe_timeout: float = 5.0, **options: Any) -> tuple[str, dict[str, Any]]:
        assert not HttpProbe.validate(options), HttpProbe.validate(options)
        probe = HttpProbe(options)
        probe.timeout = probe_timeout
        made.append(probe)
        out = await asyncio.wait_for(probe.measure(), probe_timeout + SLACK)
        assert len(out) == 1
        target, fields = next(iter(out.items()))
        expected = {*HttpProbe.field_names(), *HttpProbe.option_fields(options)}
        assert set(fields) == expected
        return target, fields

    yield run
    for probe in made:
        await probe.close()


@pytest.mark.asyncio
async def test_healthy_endpoint(http_server: Any, measure: Measure) -> None:
    """A 200 answer is ok, with status, latency and the body size; no error."""
    port = await http_server()
    target, fields = await measure(url=f"http://127.0.0.1:{port}/health")
    assert target == f"http://127.0.0.1:{port}/health"
    body = len(
        json.dumps(
            {"status": "pass", "checks": {"db": {"status": "ok", "latency_ms": 3}}, "items": [7, 8]}
        )
    )
    assert fields["ok"] is True
    assert fields["status"] == 200
    assert fields["error"] is None
    assert fields["body_bytes"] == body
    assert fields["body_match"] is None
    assert 0 < fields["latency"] < 5


@pytest.mark.asyncio
async def test_status_decides_ok(http_server: Any, measure: Measure) -> None:
    """5xx is not ok by default, 3xx is (redirects are not followed); expect_status overrides."""
    port = await http_server()
    base = f"http://127.0.0.1:{port}"
    _, fields = await measure(url=f"{base}/status/503")
    assert (fields["ok"], fields["status"], fields["error"]) == (False, 503, None)
    _, fields = await measure(url=f"{base}/redirect")
    assert (fields["ok"], fields["status"]) == (True, 302)
    _, fields = await measure(url=f"{base}/status/503", expect_status=[503])
    assert fields["ok"] is True
    _, fields = await measure(url=f"{base}/health", expect_status=[204])
    assert (fields["ok"], fields["status"]) == (False, 200)


@pytest.mark.asyncio
async def test_json_fields_are_picked(http_server: Any, measure: Measure) -> None:
    """Dotted paths pick values (list items by index); missing paths and non-JSON give null."""
    port = await http_server()
    picks = {
        "health": "status",
        "db": "checks.db.status",
        "db_ms": "checks.db.latency_ms",
        "second": "items.1",
        "nothing": "checks.cache.status",
        "checks_all": "checks",
    }
    _, fields = await measure(url=f"http://127.0.0.1:{port}/health", json_fields=picks)
    assert fields["health"] == "pass"
    assert fields["db"] == "ok"
    assert fields["db_ms"] == 3
    assert fields["second"] == 8
    assert fields["nothing"] is None
    assert fields["checks_all"] == {"db": {"status": "ok", "latency_ms": 3}}
    _, fields = await measure(url=f"http://127.0.0.1:{port}/text", json_fields={"health": "status"})
    assert fields["ok"] is True
    assert fields["health"] is None


@pytest.mark.asyncio
async def test_max_body_cuts_the_read_and_json(http_server: Any, measure: Measure) -> None:
    """A body longer than max_body is read only that far, and its JSON fields are null."""
    port = await http_server()
    _, fields = await measure(
        url=f"http://127.0.0.1:{port}/health", max_body=10, json_fields={"health": "status"}
    )
    assert fields["body_bytes"] == 10
    assert fields["health"] is None
    assert fields["ok"] is True


@pytest.mark.asyncio
async def test_body_contains(http_server: Any, measure: Measure) -> None:
    """body_match says whether the body holds the text."""
    port = await http_server()
    _, fields = await measure(url=f"http://127.0.0.1:{port}/text", body_contains="medic")
    assert fields["body_match"] is True
    _, fields = await measure(url=f"http://127.0.0.1:{port}/text?say=nope", body_contains="medic")
    assert fields["body_match"] is False


@pytest.mark.asyncio
async def test_refused_connection_is_a_reading(closed_port: int, measure: Measure) -> None:
    """Nothing listening gives ok=false and 'connection refused', not an exception."""
    _, fields = await measure(url=f"http://127.0.0.1:{closed_port}/health")
    assert fields == {
        "ok": False,
        "status": None,
        "latency": None,
        "error": "connection refused",
        "body_bytes": 0,
        "body_match": None,
    }


@pytest.mark.asyncio
async def test_unresolvable_host(measure: Measure) -> None:
    """A name that does not resolve says so."""
    _, fields = await measure(url="http://no-such-host.invalid/health")
    assert fields["ok"] is False
    assert fields["error"] == "cannot resolve no-such-host.invalid"


@pytest.mark.asyncio
async def test_silent_server_is_cut_at_the_timeout(silent_port: int, measure: Measure) -> None:
    """A server that accepts and never answers ends the run at the probe's timeout."""
    started = time.monotonic()
    _, fields = await measure(probe_timeout=0.5, url=f"http://127.0.0.1:{silent_port}/")
    assert time.monotonic() - started < 0.5 + SLACK
    assert fields["error"] == "timed out after 0.5s"
    assert fields["ok"] is False


@pytest.mark.asyncio
async def test_silent_tls_server_is_cut_at_the_timeout(silent_port: int, measure: Measure) -> None:
    """An https URL whose server never answers the handshake ends at the timeout too."""
    started = time.monotonic()
    _, fields = await measure(probe_timeout=0.5, url=f"https://127.0.0.1:{silent_port}/")
    assert time.monotonic() - started < 0.5 + SLACK
    assert fields["error"] == "timed out after 0.5s"


@pytest.mark.asyncio
async def test_slow_handler_is_cut_at_the_timeout(http_server: Any, measure: Measure) -> None:
    """A handler that takes longer than the timeout is a timed-out reading."""
    port = await http_server()
    _, fields = await measure(probe_timeout=0.5, url=f"http://127.0.0.1:{port}/slow")
    assert (fields["ok"], fields["status"], fields["error"]) == (
        False,
        None,
        "timed out after 0.5s",
    )


@pytest.mark.asyncio
async def test_stalled_body_is_cut_at_the_timeout(http_server: Any, measure: Measure) -> None:
    """The timeout covers the body too: headers then silence is a timed-out reading."""
    port = await http_server()
    _, fields = await measure(probe_timeout=0.5, url=f"http://127.0.0.1:{port}/stall")
    assert (fields["ok"], fields["status"], fields["error"]) == (
        False,
        None,
        "timed out after 0.5s",
    )


@pytest.mark.asyncio
async def test_https_with_ca_file(pki: Any, http_server: Any, measure: Measure) -> None:
    """HTTPS with the test CA as ca_file verifies and answers."""
    port = await http_server(tls=pki.issue())
    _, fields = await measure(url=f"https://localhost:{port}/health", ca_file=str(pki.ca_file))
    assert (fields["ok"], fields["status"], fields["error"]) == (True, 200, None)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("expired", "TLS: certificate has expired"),
        ("self-signed", "TLS: self-signed certificate"),
        ("wrong-host", "TLS: hostname mismatch, certificate is not valid for 'localhost'"),
        ("untrusted", "TLS: unable to get local issuer certificate"),
    ],
)
@pytest.mark.asyncio
async def test_bad_certificates(
    pki: Any, http_server: Any, measure: Measure, kind: str, error: str
) -> None:
    """Each kind of bad certificate is a reading with a short TLS reason."""
    issued = {
        "expired": lambda: pki.issue(days_left=-2),
        "self-signed": lambda: pki.issue(self_signed=True),
        "wrong-host": lambda: pki.issue(["other.example"]),
        "untrusted": pki.issue,
    }[kind]()
    port = await http_server(tls=issued)
    ca = {} if kind == "untrusted" else {"ca_file": str(pki.ca_file)}
    _, fields = await measure(url=f"https://localhost:{port}/health", **ca)
    assert (fields["ok"], fields["status"], fields["error"]) == (False, None, error)
    _, fields = await measure(url=f"https://localhost:{port}/health", verify_tls=False)
    assert (fields["ok"], fields["status"]) == (True, 200)


@pytest.mark.asyncio
async def test_plain_http_on_an_https_url(http_server: Any, measure: Measure) -> None:
    """Speaking TLS to a plain HTTP port names the handshake failure."""
    port = await http_server()
    _, fields = await measure(url=f"https://127.0.0.1:{port}/health")
    assert fields["error"] == "TLS: handshake failed (wrong version number)"


@pytest.fixture
def secret_refs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """A bearer token in an environment variable and an API key in a file."""
    monkeypatch.setenv("MEDIC_TEST_TOKEN", "tok-3f9a1c")
    key_file = tmp_path / "api-key"
    key_file.write_text("key-77e2b0\n")
    return {"token": {"env": "MEDIC_TEST_TOKEN"}, "key": {"file": str(key_file)}}


@pytest.mark.asyncio
async def test_secrets_reach_the_server(
    http_server: Any, measure: Measure, secret_refs: dict[str, Any]
) -> None:
    """The token goes out as a bearer header and a secret header with its resolved value."""
    port = await http_server()
    _, echoed = await measure(
        url=f"http://127.0.0.1:{port}/headers",
        token=secret_refs["token"],
        headers={"X-Api-Key": secret_refs["key"], "X-Plain": "visible"},
        json_fields={"auth": "headers.Authorization", "key": "headers.X-Api-Key"},
    )
    # The echoing server hands them back, and this test picks them on purpose.
    assert (echoed["auth"], echoed["key"]) == ("Bearer tok-3f9a1c", "key-77e2b0")


@pytest.mark.asyncio
async def test_secrets_are_never_shown(
    http_server: Any, measure: Measure, secret_refs: dict[str, Any]
) -> None:
    """Neither the target nor any field holds a token, a secret header or a URL password."""
    port = await http_server()
    url = f"http://127.0.0.1:{port}/headers?api_key=qk-0b1c2d&x=1"
    runs = [
        await measure(
            url=url, token=secret_refs["token"], headers={"X-Api-Key": secret_refs["key"]}
        ),
        await measure(url=url.replace("http://", "http://admin:pw-51d7e4@"), body_contains="x"),
    ]
    shown = json.dumps(runs)
    for secret in ("tok-3f9a1c", "key-77e2b0", "pw-51d7e4", "qk-0b1c2d"):
        assert secret not in shown
    assert runs[0][0] == runs[1][0] == f"http://127.0.0.1:{port}/headers?api_key=[redacted]&x=1"
    assert runs[0][1]["ok"] is runs[1][1]["ok"] is True


@pytest.mark.asyncio
async def test_secret_url_in_an_error(closed_port: int, measure: Measure) -> None:
    """A failing URL with a password and a token in the query shows neither."""
    url = f"http://admin:pw-51d7e4@127.0.0.1:{closed_port}/x?token=tk-99"
    target, fields = await measure(url=url)
    shown = json.dumps([target, fields])
    assert "pw-51d7e4" not in shown
    assert "tk-99" not in shown
    assert fields["error"] == "connection refused"


@pytest.mark.asyncio
async def test_unset_secret_fails_the_probe_naming_the_variable(
    http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset token variable is a probe failure that names the variable only."""
    monkeypatch.delenv("MEDIC_TEST_MISSING", raising=False)
    port = await http_server()
    probe = HttpProbe({"url": f"http://127.0.0.1:{port}/", "token": {"env": "MEDIC_TEST_MISSING"}})
    try:
        with pytest.raises(ProbeError) as caught:
            await probe.measure()
    finally:
        await probe.close()
    assert str(caught.value) == (
        f"http http://127.0.0.1:{port}/: environment variable MEDIC_TEST_MISSING is not set"
    )


def test_validate_messages() -> None:
    """Bad URLs, plain-text secret headers and clashing JSON names are refused with a fix."""
    assert HttpProbe.validate({"url": "ftp://x/"}) == [
        "url 'ftp://x/' must be an http:// or https:// URL"
    ]
    assert HttpProbe.validate({"url": "http://u:pw@h:99999/"}) == [
        "url 'http://h:99999/' must be an http:// or https:// URL"  # and without the password
    ]
    assert HttpProbe.validate({"url": "http://[bad"}) == [
        "url 'http://[bad' must be an http:// or https:// URL"
    ]
    assert HttpProbe.validate({"url": "http://x/", "headers": {"Authorization": "Bearer abc"}}) == [
        "header Authorization holds a secret: write it as {env: NAME} or {file: /path}, "
        "or use token: for a bearer token"
    ]
    assert HttpProbe.validate({"url": "http://x/", "json_fields": {"status": "a.b"}}) == [
        "json_fields name 'status' is already a field; pick another"
    ]
    assert HttpProbe.validate(
        {"url": "http://u:p@x/", "token": {"env": "T"}, "headers": {"authorization": {"env": "A"}}}
    ) == ["give one way to log in, not token and an Authorization header and a user in the url"]
    assert HttpProbe.option_fields({"url": "http://x/", "json_fields": {"db": "a.b"}}) == ["db"]


def test_loader_knows_json_field_names() -> None:
    """A json_fields name may be used in when:, and a typo of it is caught with a suggestion."""
    text = (
        "version: 1\npolicies:\n  - name: p\n"
        "    probe: {type: http, url: 'http://127.0.0.1/h', json_fields: {db: checks.db}}\n"
        "    when: NAME != 'ok'\n"
    )
    good = load_text(text.replace("NAME", "db"), "web.yaml")
    assert (list(good.errors), len(good.policies)) == ([], 1)
    bad = load_text(text.replace("NAME", "dbx"), "web.yaml")
    assert [str(e) for e in bad.errors] == [
        "web.yaml:5:11: policy 'p': field 'dbx' is not yielded by probe 'http'; did you mean "
        "'db'? fields: body_bytes, body_match, db, error, latency, ok, status "
        "(hint: `medic probe http` runs the probe once and prints its fields)"
    ]
