"""The redis probe against real redis-server instances started per test (tests/db/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from medic.errors import ProbeError
from medic.policy.loader import load_text
from medic.probes.databases.redis import RedisProbe, length_field, url_server, with_db

if TYPE_CHECKING:
    from kit.databases import RedisServer

pytestmark = pytest.mark.integration

ENV = "MEDIC_TEST_REDIS_URL"


async def measure(options: dict[str, Any], limit: float = 10.0) -> dict[str, Any]:
    """One run of a fresh probe (closed after) with timeout ``limit``; a hang fails the test."""
    probe = RedisProbe(options)
    probe.timeout = limit
    try:
        return await asyncio.wait_for(probe.measure(), limit + 5)
    finally:
        await probe.close()


@pytest.mark.asyncio
async def test_list_stream_and_set_lengths(redis_server: RedisServer) -> None:
    """Each key's length by type; a missing key is 0, a plain string is null."""
    client = redis_server.client()
    client.rpush("queue:default", *range(7))
    for i in range(3):
        client.xadd("events", {"n": i})
    client.zadd("schedule", {"a": 1, "b": 2})
    client.set("plain", "x")
    keys = ["queue:default", "events", "schedule", "missing", "plain"]
    out = await measure({"port": redis_server.port, "lists": keys})
    fields = out[f"127.0.0.1:{redis_server.port}"]
    assert fields["reachable"] is True and fields["error"] is None
    assert fields["len_queue_default"] == 7
    assert fields["len_events"] == 3
    assert fields["len_schedule"] == 2
    assert fields["len_missing"] == 0
    assert fields["len_plain"] is None
    declared = RedisProbe.field_names() + RedisProbe.option_fields({"lists": keys})
    assert sorted(fields) == sorted(declared)


@pytest.mark.asyncio
async def test_memory_percent_against_maxmemory(redis_server: RedisServer) -> None:
    """maxmemory 64 MiB: the percent is used over it; with no limit it is null."""
    client = redis_server.client()
    client.set("blob", "x" * 1_000_000)
    fields = (await measure({"port": redis_server.port}))[f"127.0.0.1:{redis_server.port}"]
    assert fields["maxmemory_bytes"] == 64 * 1024 * 1024
    assert fields["used_memory_bytes"] > 1_000_000
    expected = round(fields["used_memory_bytes"] / fields["maxmemory_bytes"] * 100, 2)
    assert fields["memory_percent"] == expected
    client.config_set("maxmemory", 0)
    fields = (await measure({"port": redis_server.port}))[f"127.0.0.1:{redis_server.port}"]
    assert fields["maxmemory_bytes"] == 0
    assert fields["memory_percent"] is None


@pytest.mark.asyncio
async def test_blocked_and_connected_clients(redis_server: RedisServer) -> None:
    """A worker blocked in BLPOP shows as a blocked client."""
    worker = redis_server.client()
    waiter = threading.Thread(target=worker.blpop, args=(["jobs"], 10), daemon=True)
    waiter.start()
    try:
        for _ in range(100):
            fields = (await measure({"port": redis_server.port}))[f"127.0.0.1:{redis_server.port}"]
            if fields["blocked_clients"] == 1:
                break
            await asyncio.sleep(0.05)
        assert fields["blocked_clients"] == 1
        assert fields["connected_clients"] >= 2  # the worker and the probe
    finally:
        redis_server.client().rpush("jobs", "done")
        waiter.join(10)


@pytest.mark.asyncio
async def test_db_option_picks_the_database(redis_server: RedisServer) -> None:
    """Keys are read from the database named by db."""
    redis_server.client(db=2).rpush("q", 1, 2)
    fields = (await measure({"port": redis_server.port, "db": 2, "lists": ["q"]}))[
        f"127.0.0.1:{redis_server.port}"
    ]
    assert fields["len_q"] == 2


@pytest.mark.asyncio
async def test_url_secret_with_password(
    redis_with_password: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password URL from the environment works; its password is never in the output."""
    password = redis_with_password.password
    assert password is not None
    port = redis_with_password.port
    monkeypatch.setenv(ENV, f"redis://:{password}@127.0.0.1:{port}/0")
    out = await measure({"url": {"env": ENV}})
    assert out[f"127.0.0.1:{port}"]["reachable"] is True
    assert password not in json.dumps(out)
    monkeypatch.setenv(ENV, f"redis://:Wrong-Secret-9@127.0.0.1:{port}/0")
    out = await measure({"url": {"env": ENV}})
    fields = out[f"127.0.0.1:{port}"]
    assert fields["reachable"] is False
    assert fields["error"] == "invalid username-password pair or user is disabled."
    assert "Wrong-Secret-9" not in json.dumps(out)


@pytest.mark.asyncio
async def test_refused_connection_is_reachable_false(closed_port: int) -> None:
    """Nothing listening: reachable false with the reason, lengths null."""
    out = await measure({"port": closed_port, "lists": ["q"]})
    fields = out[f"127.0.0.1:{closed_port}"]
    assert fields["reachable"] is False
    assert fields["error"] == (
        f"Error 111 connecting to 127.0.0.1:{closed_port}. "
        f"Connect call failed ('127.0.0.1', {closed_port})."
    )
    assert fields["len_q"] is None and fields["memory_percent"] is None


@pytest.mark.asyncio
async def test_silent_server_is_cut_off_at_the_timeout(silent_port: int) -> None:
    """A server that accepts TCP and never answers: reachable false at the probe's timeout."""
    out = await measure({"port": silent_port}, limit=0.5)
    fields = out[f"127.0.0.1:{silent_port}"]
    assert fields["reachable"] is False
    assert fields["error"] == "no answer within 500ms"


@pytest.mark.asyncio
async def test_unset_url_secret_is_a_probe_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL variable that is not set is a configuration error, named without a value."""
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ProbeError) as caught:
        await measure({"url": {"env": ENV}})
    assert caught.value.message == f"redis url: environment variable {ENV} is not set"


def test_length_fields_are_valid_in_conditions() -> None:
    """`when: len_queue_default > 5000` validates; an unlisted key's field does not."""
    text = """
version: 1
policies:
  - name: backlog
    probe: {type: redis, lists: ["queue:default"]}
    when: len_queue_default > 5000
"""
    assert load_text(text, "q.yaml").errors == ()
    bad = load_text(text.replace("len_queue_default >", "len_queue_other >"), "q.yaml")
    assert len(bad.errors) == 1
    assert "len_queue_other" in str(bad.errors[0])


def test_validate_refuses_colliding_keys_and_url_with_host() -> None:
    """Two keys that sanitise alike, or url together with host, are refused with the fix."""
    assert RedisProbe.validate({"lists": ["q:a", "q-a"]}) == [
        "lists 'q:a' and 'q-a' would both be field len_q_a; keep one of them"
    ]
    assert RedisProbe.validate({"url": {"env": "X"}, "host": "h"}) == [
        "give either url (a secret reference) or host and port, not both"
    ]


def test_names_and_urls() -> None:
    """Field names, targets without credentials, and db applied to both URL kinds."""
    assert length_field("queue:default") == "len_queue_default"
    assert length_field("celery") == "len_celery"
    assert url_server("redis://:pw@cache:6380/1") == "cache:6380"
    assert url_server("rediss://user:pw@cache/0") == "cache:6379"
    assert url_server("unix:///run/redis.sock?db=1") == "/run/redis.sock"
    assert with_db("redis://:pw@cache:6380/1", 3) == "redis://:pw@cache:6380/3"
    assert with_db("unix:///run/redis.sock?db=1", 3) == "unix:///run/redis.sock?db=3"


@pytest.mark.asyncio
async def test_hit_rate_from_keyspace_hits_and_misses(redis_server: RedisServer) -> None:
    """Three hits and one miss: hit_rate 75; before any lookup it is null."""
    client = redis_server.client()
    fields = (await measure({"port": redis_server.port}))[f"127.0.0.1:{redis_server.port}"]
    assert (fields["keyspace_hits"], fields["hit_rate"]) == (0, None)
    client.set("k", "v")
    for key in ("k", "k", "k", "nope"):
        client.get(key)
    fields = (await measure({"port": redis_server.port}))[f"127.0.0.1:{redis_server.port}"]
    assert (fields["keyspace_hits"], fields["keyspace_misses"]) == (3, 1)
    assert fields["hit_rate"] == 75.0


@pytest.mark.asyncio
async def test_laravel_queues_under_a_prefix(redis_server: RedisServer) -> None:
    """queues + prefix: waiting (LLEN), delayed and reserved (ZCARD); missing 0, wrong type null."""
    client = redis_server.client()
    prefix = "laravel_database_queues:"
    client.rpush(prefix + "emails", *range(4))
    client.zadd(prefix + "emails:delayed", {"j1": 1, "j2": 2})
    client.zadd(prefix + "emails:reserved", {"j3": 1})
    client.set(prefix + "broken", "x")
    options = {"port": redis_server.port, "queues": ["emails", "default", "broken"],
               "prefix": prefix}  # fmt: skip
    fields = (await measure(options))[f"127.0.0.1:{redis_server.port}"]
    assert (fields["queue_emails"], fields["queue_emails_delayed"]) == (4, 2)
    assert fields["queue_emails_reserved"] == 1
    assert (fields["queue_default"], fields["queue_broken"], fields["queue_broken_delayed"]) == (
        0,
        None,
        0,
    )
    declared = RedisProbe.field_names() + RedisProbe.option_fields(options)
    assert sorted(fields) == sorted(declared)


def test_queue_options_are_checked() -> None:
    """Colliding queue names and a prefix without queues are named."""
    assert RedisProbe.validate({"queues": ["a-b", "a_b"]}) == [
        "queues 'a-b' and 'a_b' would both be field queue_a_b; keep one"
    ]
    assert RedisProbe.validate({"prefix": "x:"}) == [
        "prefix applies to queues: name the queues, or drop prefix"
    ]
