"""Nagios plugin output: perfdata items, output splitting, field naming, exit codes."""

from __future__ import annotations

from typing import Any

import pytest

from medic.probes.commands.nagios import (
    PerfDatum,
    field_name,
    parse_output,
    parse_perfdata,
    perfdata_fields,
    status_for,
)

PERFDATA_CASES: list[tuple[str, list[PerfDatum], list[str]]] = [
    ("", [], []),
    ("time=0.5s", [PerfDatum("time", 0.5, "s")], []),
    ("users=3", [PerfDatum("users", 3)], []),
    (
        "'/ used'=45%;80;90;0;100",
        [PerfDatum("/ used", 45, "%", 80, 90, 0, 100)],
        [],
    ),
    (
        "load1=0.15;5.000;10.000;0; load5=0.2;4;6;0;",
        [PerfDatum("load1", 0.15, "", 5.0, 10.0, 0), PerfDatum("load5", 0.2, "", 4, 6, 0)],
        [],
    ),
    ("size=1024KB;;;0;2048", [PerfDatum("size", 1024, "KB", None, None, 0, 2048)], []),
    ("rate=-3.5e2c", [PerfDatum("rate", -350.0, "c")], []),
    ("temp=U;50;60", [PerfDatum("temp", None, "", 50, 60)], []),
    ("q=5;10:20;@30:40", [PerfDatum("q", 5, "", "10:20", "@30:40")], []),
    ("q=5;~:10", [PerfDatum("q", 5, "", "~:10")], []),
    ("'it''s'=1", [PerfDatum("it's", 1)], []),
    ("'a=b c'=2ms", [PerfDatum("a=b c", 2, "ms")], []),
    ("a=1 junk b=2", [PerfDatum("a", 1), PerfDatum("b", 2)], ["junk"]),
    ("a=x b=2", [PerfDatum("b", 2)], ["a=x"]),
    ("a=1,5 b=2", [PerfDatum("b", 2)], ["a=1,5"]),
    ("  a=1\n\tb=2  ", [PerfDatum("a", 1), PerfDatum("b", 2)], []),
    ("a=1;;;", [PerfDatum("a", 1)], []),
]


@pytest.mark.parametrize(("text", "items", "malformed"), PERFDATA_CASES)
def test_parse_perfdata(text: str, items: list[PerfDatum], malformed: list[str]) -> None:
    """Each perfdata string parses into exactly these items and skipped tokens."""
    assert parse_perfdata(text) == (items, malformed)


OUTPUT_CASES: list[tuple[str, str, str, list[str]]] = [
    ("OK - all fine\n", "OK - all fine", "", []),
    ("DISK OK | '/ used'=45%\n", "DISK OK", "", ["/ used"]),
    ("TEXT | a=1\nline one\nline two\n", "TEXT", "line one\nline two", ["a"]),
    ("TEXT | a=1\nlong 1\nlong 2 | b=2\nc=3\n", "TEXT", "long 1\nlong 2", ["a", "b", "c"]),
    ("TEXT\nlong only | b=2\n", "TEXT", "long only", ["b"]),
    ("", "", "", []),
]


@pytest.mark.parametrize(("stdout", "text", "long_text", "labels"), OUTPUT_CASES)
def test_parse_output(stdout: str, text: str, long_text: str, labels: list[str]) -> None:
    """Output splits into the first-line text, the long text and all perfdata labels."""
    parsed = parse_output(stdout)
    assert (parsed.text, parsed.long_text) == (text, long_text)
    assert [d.label for d in parsed.perfdata] == labels


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("/ used", "used"),
        ("Time", "time"),
        ("eth0 rx-bytes", "eth0_rx_bytes"),
        ("5xx", "f_5xx"),
        ("---", "f"),
        ("über", "ber"),
        ("a  b", "a_b"),
    ],
)
def test_field_name(label: str, name: str) -> None:
    """Labels become lowercase identifiers a condition can name."""
    assert field_name(label) == name


def test_perfdata_fields_adds_thresholds_and_bounds() -> None:
    """Warn, crit, min and max become <name>_warn ... only where the check gave them."""
    items, _ = parse_perfdata("'/ used'=45%;80;90;0;100 time=0.2s")
    assert perfdata_fields(items) == {
        "used": 45,
        "used_warn": 80,
        "used_crit": 90,
        "used_min": 0,
        "used_max": 100,
        "time": 0.2,
    }


def test_perfdata_fields_never_overwrite() -> None:
    """Reserved names get a perf_ prefix and repeated labels a numeric suffix."""
    items, _ = parse_perfdata("status=1 a=1 A=2 'a '=3")
    fields: dict[str, Any] = perfdata_fields(items, reserved={"status"})
    assert fields == {"perf_status": 1, "a": 1, "a_2": 2, "a_3": 3}


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, "ok"), (1, "warning"), (2, "critical"), (3, "unknown"), (4, "unknown"),
     (127, "unknown"), (-9, "unknown"), (None, "unknown")],
)  # fmt: skip
def test_status_for(code: int | None, status: str) -> None:
    """Exit codes 0-3 map to the Nagios states; anything else is unknown."""
    assert status_for(code) == status
