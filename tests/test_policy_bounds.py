"""Every number and duration in a policy is finite and inside its documented range."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from medic.errors import Location, PolicyError
from medic.policy.dependencies import check_dependencies
from medic.policy.loader import load_paths, load_text
from medic.policy.schema import policy_file_schema

HEAD = "version: 1\npolicies:\n  - name: web\n"


def policy(probe: str = "", extra: str = "") -> str:
    return f"{HEAD}    probe: {{type: host.memory{probe}}}\n    when: percent > 90\n{extra}"


def errors(text: str) -> list[str]:
    return [str(e) for e in load_text(text, "p.yaml").errors]


@pytest.mark.parametrize(
    ("probe", "extra", "column"),
    [
        ("", "    limits: {max: 1, per: .nan, cooldown: .nan}\n", 27),
        (", every: .nan", "", 39),
        (", every: .inf", "", 39),
        (", timeout: .nan", "", 41),
        ("", "    for: -.inf\n", 10),
        ("", "    verify: {after: .NaN}\n", 21),
    ],
)
def test_nan_and_infinity_are_refused_at_their_line(probe: str, extra: str, column: int) -> None:
    """YAML .nan/.inf never reach the engine: a NaN rate limit would always pass."""
    (error,) = errors(policy(probe, extra))
    assert error.startswith(f"p.yaml:{4 if probe else 6}:{column}: ")
    assert "is not a finite number; numbers must be finite" in error


def test_every_1ms_is_below_the_floor_and_names_the_typo() -> None:
    """every: 1ms would launch 1,000 probes a second; it is probably 1m."""
    assert errors(policy(", every: 1ms")) == [
        "p.yaml:4:39: policy 'web': `every: 1ms` is below the 100ms floor; did you mean `1m`? "
        "(hint: every may be from 100ms up to 1d)"
    ]


def test_every_as_a_fraction_of_a_second_is_below_the_floor() -> None:
    """A plain number is seconds; a twentieth of a second is too often."""
    assert errors(policy(", every: 0.05")) == [
        "p.yaml:4:39: policy 'web': `every: 0.05` is below the 100ms floor; plain numbers are "
        "seconds (hint: every may be from 100ms up to 1d)"
    ]


@pytest.mark.parametrize(
    ("probe", "extra", "message"),
    [
        (", every: 2d", "", "`every: 2d` is above the 1d ceiling"),
        (", timeout: 2h", "", "`timeout: 2h` is above the 1h ceiling"),
        ("", "    limits: {per: 0s}\n", "`per: 0s` must be more than 0"),
        ("", "    limits: {per: 8d}\n", "`per: 8d` is above the 7d ceiling"),
        ("", "    limits: {max: 0}\n", "expected at least 1, got 0"),
        ("", "    limits: {max: 1001}\n", "expected at most 1000, got 1001"),
        ("", "    for: 999999999w\n", "`for: 999999999w` is above the 7d ceiling"),
        ("", "    escalate: {after_failures: 5000}\n", "expected at most 1000, got 5000"),
        ("", "    remediate:\n      - command: {argv: [x], timeout: 2h}\n", "above the 1h"),
        ("", "    remediate:\n      - command: {argv: [x], timeout: 0}\n", "more than 0"),
    ],
)
def test_out_of_range_values_are_refused(probe: str, extra: str, message: str) -> None:
    """Durations and counts outside their range are refused, each at its own line."""
    (error,) = errors(policy(probe, extra))
    assert message in error and error.startswith("p.yaml:")


def test_plugin_durations_get_the_shared_bounds() -> None:
    """A plugin's duration option (container stop_timeout) is bounded without its help."""
    text = (
        f"{HEAD}    probe: {{type: container, name: web}}\n    when: not running\n"
        "    remediate:\n      - container.restart: {stop_timeout: 30d}\n"
    )
    (error,) = errors(text)
    assert "`stop_timeout: 30d` is above the 7d ceiling" in error


def test_the_json_schema_carries_the_ranges() -> None:
    """Editors see the ranges: minimum/maximum on numbers, durationRange on durations."""
    from medic.policy.bounds import KEYWORD, MAX_NUMBER

    schema = policy_file_schema()
    limits = schema["properties"]["policies"]["items"]["properties"]["limits"]["properties"]
    assert limits["max"]["minimum"] == 1 and limits["max"]["maximum"] == 1000
    assert limits["per"]["exclusiveMinimum"] == 0 and limits["per"]["maximum"] == 7 * 86400
    assert limits["per"][KEYWORD] == {
        "minimum": 0.0,
        "maximum": 604800.0,
        "exclusiveMinimum": True,
    }
    branches = schema["properties"]["policies"]["items"]["properties"]["probe"]["allOf"]
    http = next(b["then"] for b in branches if b["if"]["properties"]["type"]["const"] == "http")
    assert http["properties"]["every"]["minimum"] == 0.1
    assert http["properties"]["max_body"]["maximum"] <= MAX_NUMBER


@pytest.mark.parametrize(
    "value",
    ["9" * 5000, "1" + "0" * 400, str(2**53), "0x" + "f" * 40],
)
def test_huge_integers_are_refused_cleanly(value: str) -> None:
    """Integers beyond 2**53-1 are an error at their line, not an internal error."""
    (error,) = errors(policy(f", every: {value}"))
    assert error.startswith("p.yaml:4:39: the number ") and "too large" in error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x: &c {<<: *c}\n", "p.yaml:1:4: '<<' merges the mapping that contains it into itself"),
        (
            "version: 1\npolicies:\n  - name: web\n    description: 0000-01-01\n",
            "p.yaml:3:5: policy 'web': missing required key 'probe'",
        ),
        (
            f"{HEAD}    probe: {{type: http, url: 'http://x', json_fields: yes}}\n"
            "    when: status > 1\n",
            "p.yaml:4:55: policy 'web': expected a mapping (key: value), got true",
        ),
        ("version: 1\x01\n", "p.yaml:1:11: not valid YAML: character U+0001 is not allowed"),
        ("a: " + "[" * 80 + "]" * 80 + "\n", "p.yaml:1:"),
    ],
)
def test_hostile_structures_give_a_clean_error(text: str, expected: str) -> None:
    """Self-merges, year 0, a bool for a mapping, control characters: an error, no crash."""
    found = errors(text)
    assert found and found[0].startswith(expected)
    assert not any("internal error" in e for e in found)


def test_bytes_that_are_not_utf8_are_placed_at_their_line(tmp_path: Path) -> None:
    """A stray byte is reported at its line and column, with the fix."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"version: 1\npolicies:\n  - name: w\xffb\n")
    assert [str(e) for e in load_paths([path]).errors] == [
        f"{path}:3:12: the file is not UTF-8 text: byte 0xff cannot be read "
        "(hint: save the file as UTF-8)"
    ]


def test_a_leading_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Editors on Windows write a BOM; it is not an error."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + policy().encode())
    assert load_paths([path]).errors == []


def test_an_unclosed_bracket_names_where_it_was_opened() -> None:
    """The error names where parsing gave up and where the '[' began."""
    text = "version: 1\npolicies: [\n  - name: web\n    when: x\n"
    (error,) = errors(text)
    assert error.startswith("p.yaml:3:3: not valid YAML: ")
    assert "the '[' opened at line 2, column 11 is still open here" in error


def test_an_unclosed_quote_names_where_it_began() -> None:
    """An unclosed quote is noticed at the end of the file; the message says where it began."""
    text = "version: 1\npolicies:\n  - name: 'web\n    when: x\n\n"
    (error,) = errors(text)
    assert error.startswith("p.yaml:6:1: not valid YAML: ")
    assert "(while reading a quoted string that begins at line 3, column 11)" in error


def test_dense_depends_on_validates_fast(tmp_path: Path) -> None:
    """Ten policies that each depend on the other nine took 72 s; now milliseconds."""
    names = [f"p{i}" for i in range(10)]
    body = "".join(
        f"  - name: {n}\n    probe: {{type: host.memory}}\n    when: percent > 90\n"
        f"    depends_on: [{', '.join(m for m in names if m != n)}]\n"
        for n in names
    )
    path = tmp_path / "p.yaml"
    path.write_text(f"version: 1\npolicies:\n{body}")
    start = time.perf_counter()
    result = load_paths([path])
    assert time.perf_counter() - start < 1.0
    assert len(result.errors) == 10
    assert all("depends_on makes a cycle" in e.message for e in result.errors)


def test_a_chain_of_24_policies_validates_fast() -> None:
    """A valid depends_on chain of 24 took seconds with the exponential walk."""
    names = [f"p{i:02d}" for i in range(24)]
    where = Location("p.yaml", 1, 1)
    deps = [(a, b, where) for i, a in enumerate(names) for b in names[i + 1 :]]
    problems: list[PolicyError] = []
    start = time.perf_counter()
    check_dependencies([(deps, problems)], set(names))
    assert time.perf_counter() - start < 0.5 and problems == []


def test_dense_cycle_of_10_reports_each_policy_fast() -> None:
    """Ten mutually dependent policies: one cycle error each, in milliseconds."""
    names = [f"p{i}" for i in range(10)]
    where = Location("p.yaml", 1, 1)
    deps = [(a, b, where) for a in names for b in names if a != b]
    problems: list[PolicyError] = []
    start = time.perf_counter()
    check_dependencies([(deps, problems)], set(names))
    assert time.perf_counter() - start < 0.5
    assert sorted(e.policy or "" for e in problems) == names
    assert all("depends_on makes a cycle: p0 -> " in e.message for e in problems)
