"""Fuzzing the policy loader: no input crashes it, hangs it, or hides where it is wrong.

Two sources, both with fixed seeds so a failure reproduces: mutations of the shipped
packs under ``policies/`` (:data:`MUTANTS` files) and documents hypothesis builds from
the policy keys with hostile values (:data:`GENERATED` files). The summary line of
each run is printed (``pytest -s``) and recorded as a property of the test.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.fuzzing import Tally, mutate, pack_files

SEED = 20240901
MUTANTS = 12_000
GENERATED = 800

_KEYS = [
    "version", "policies", "name", "probe", "type", "every", "timeout", "when", "clear_when",
    "for", "remediate", "verify", "after", "limits", "max", "per", "cooldown", "max_targets",
    "escalate", "after_failures", "notify", "on_suppressed", "on_probe_failure", "dry_run",
    "labels", "depends_on", "approval", "required", "maintenance", "cron", "duration",
    "timezone", "act", "command", "argv", "url", "json_fields", "path", "signal",
]  # fmt: skip
_TYPES = ["host.memory", "http", "file", "process", "command", "tcp", "tls", "disk"]

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**53, 10**400, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["1ms", "1m", "0s", "7d", "99999w", "percent > 90", "*/5 * * * *", *_TYPES]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5)
    ),
    max_leaves=10,
)
_PROBE = st.fixed_dictionaries(
    {"type": st.sampled_from(_TYPES)},
    optional={"every": _SCALARS, "timeout": _SCALARS, "url": _VALUES, "json_fields": _VALUES},
)
_POLICY = st.fixed_dictionaries(
    {"name": st.sampled_from(["web", "db", "app-down", "x"]), "probe": _PROBE},
    optional={key: _VALUES for key in _KEYS[7:]},
)
_FILE = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 2, "1"]), "policies": st.lists(_POLICY, max_size=3)}
)


def _dump(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


@pytest.fixture
def report(record_property: Callable[[str, object], None]) -> Callable[[Tally, str], None]:
    """Prints a run's summary line and records it on the test."""

    def done(tally: Tally, label: str) -> None:
        line = tally.summary(label)
        print(f"\n{line}")
        record_property("fuzz_summary", line)

    return done


def test_mutated_packs_never_crash_and_always_say_where(
    report: Callable[[Tally, str], None],
) -> None:
    """Thousands of mutated shipped packs: 0 internal errors, every error at a line, < 2 s."""
    rng = random.Random(SEED)  # noqa: S311 - a fixed seed to reproduce, not a secret
    packs = pack_files()
    tally = Tally()
    for number in range(MUTANTS):
        name, data = packs[number % len(packs)]
        tally.check(name, mutate(rng, data))
    report(tally, "mutated packs")
    assert tally.breaches[:5] == []
    assert tally.counts["files"] == MUTANTS and tally.counts["refused"] > MUTANTS // 2


_GENERATED_TALLY = Tally()


@settings(
    max_examples=GENERATED,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=_FILE, raw=st.binary(max_size=64), glue=st.sampled_from([0, 1, 2]))
def _check_generated(document: dict[str, Any], raw: bytes, glue: int) -> None:
    data = _dump(document)
    if glue == 1:
        data = data + raw  # trailing bytes of any kind
    elif glue == 2:
        data = raw + data
    _GENERATED_TALLY.check("generated.yaml", data)
    assert _GENERATED_TALLY.breaches == []


def test_generated_policies_never_crash_and_always_say_where(
    report: Callable[[Tally, str], None],
) -> None:
    """Hypothesis-built files with hostile values: the same rules as the mutants."""
    _GENERATED_TALLY.__init__()  # type: ignore[misc]
    _check_generated()
    report(_GENERATED_TALLY, "generated")
    assert _GENERATED_TALLY.counts["files"] >= GENERATED
