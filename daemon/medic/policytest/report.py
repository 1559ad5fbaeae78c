"""How ``medic test`` shows its verdicts: a line per case, timelines for failures, JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from medic.policytest.check import CaseResult, Run
from medic.policytest.sim import T0, reason_of
from medic.policytest.spec import show_time

# Probe bookkeeping that would drown a timeline.
_QUIET = frozenset({"policy.loaded", "policy.warning"})


def timeline(result: CaseResult) -> list[str]:
    """What the engine did, one line per event: time, target, kind, reason."""
    lines = []
    for event in result.events:
        if event.kind.value in _QUIET:
            continue
        reason = reason_of(event)
        level = event.details.get("level")
        parts = [f"{show_time(event.time - T0):>9}", event.target or "-", event.kind.value]
        if reason and reason != event.kind.value.split(".")[-1]:
            parts.append(f"({reason})")
        if level:
            parts.append(f"level {level}")
        lines.append("  ".join(parts))
    return lines or ["(no events)"]


def expectations(result: CaseResult) -> list[str]:
    """Each expectation with whether and when it was met."""
    met = dict(enumerate(at for _exp, at in result.matched))
    out = []
    for index, expectation in enumerate(result.case.expect):
        if index in met:
            out.append(f"  ok    {expectation.describe()} (at {show_time(met[index] or 0.0)})")
        else:
            out.append(f"  MISS  {expectation.describe()}  [{expectation.where}]")
    return out


def render(run: Run, *, verbose: bool = False) -> str:
    lines = [str(error) for error in run.errors]
    for result in run.results:
        status = "ok  " if result.ok else "FAIL"
        lines.append(f"{status} {result.case.where} {result.case.name}")
        if result.ok and not verbose:
            continue
        if not result.ok:
            lines.append(f"  {result.where}: {result.failure}")
        lines.append("  expected:")
        lines.extend(expectations(result))
        lines.append("  actual timeline:")
        lines.extend("    " + line for line in timeline(result))
    failed = sum(1 for r in run.results if not r.ok)
    passed = len(run.results) - failed
    lines.append(
        f"{passed} passed, {failed} failed" + (f", {len(run.errors)} errors" if run.errors else "")
    )
    return "\n".join(lines)


def junit(run: Run, path: Path) -> None:
    """JUnit XML: a test suite per file, a test case per case."""
    suites = ET.Element("testsuites")
    by_file: dict[Path, list[CaseResult]] = {}
    for result in run.results:
        by_file.setdefault(result.file, []).append(result)
    for file, results in sorted(by_file.items()):
        failures = sum(1 for r in results if not r.ok)
        suite = ET.SubElement(
            suites, "testsuite", name=str(file), tests=str(len(results)), failures=str(failures)
        )
        for result in results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=str(file),
                name=result.case.name,
                time=f"{result.seconds:.4f}",
            )
            if not result.ok:
                failure = ET.SubElement(
                    case, "failure", message=f"{result.where}: {result.failure}"
                )
                failure.text = "\n".join(
                    ["expected:", *expectations(result), "actual:", *timeline(result)]
                )
    if run.errors:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name="load",
            tests=str(len(run.errors)),
            errors=str(len(run.errors)),
        )
        for index, error in enumerate(run.errors):
            case = ET.SubElement(suite, "testcase", classname="load", name=f"error {index + 1}")
            ET.SubElement(case, "error", message=str(error))
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
