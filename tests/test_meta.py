"""Meta-tests: the registries, the docs and the example policies stay in step."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from medic import docs_reference
from medic.actions.base import actions
from medic.audit.events import Kind
from medic.notify.base import notifiers
from medic.policy.loader import load_paths
from medic.probes.base import probes

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "daemon" / "medic"
PLUGINS: list[tuple[str, str, type]] = [
    *(("probe", n, c) for n, c in probes.items()),
    *(("action", n, c) for n, c in actions.items()),
]
ELEMENTS = [*PLUGINS, *(("notifier", n, c) for n, c in notifiers.items())]


def _objects(schema: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            found.append(schema)
        for value in schema.values():
            found.extend(_objects(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(_objects(value))
    return found


@pytest.mark.parametrize(("kind", "name", "cls"), ELEMENTS, ids=str)
def test_every_element_has_a_strict_schema_and_a_summary(kind: str, name: str, cls: type) -> None:
    """Each probe, action and notifier rejects unknown options and says what it is."""
    objects = _objects(cls.schema)  # type: ignore[attr-defined]
    assert objects, f"{kind} {name} has no object schema"
    for obj in objects:
        assert obj.get("additionalProperties") is False, f"{kind} {name}: {obj}"
    summary = (cls.__doc__ or "").strip().splitlines()
    assert summary and summary[0].endswith("."), f"{kind} {name} needs a one-line summary"


@pytest.mark.parametrize(("kind", "name", "cls"), PLUGINS, ids=str)
def test_probes_and_actions_carry_a_yaml_example(kind: str, name: str, cls: type) -> None:
    """Each probe and action docstring holds a full policy example that uses it."""
    doc = cls.__doc__ or ""
    match = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert match, f"{kind} {name} has no ```yaml example"
    assert name in match.group(1)


def test_builtin_modules_are_all_entry_points() -> None:
    """Every probe/action/notifier module is loaded through an entry point (no orphan)."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = meta["project"]["entry-points"]
    for folder, group in (
        ("probes", "medic.probes"),
        ("actions", "medic.actions"),
        ("notify", "medic.notifiers"),
    ):
        listed = set(groups[group].values())
        for module in (PACKAGE / folder).glob("*.py"):
            if re.search(r"^@\w+\.register\(", module.read_text(), re.M):
                assert f"medic.{folder}.{module.stem}" in listed, f"{module} not in {group}"


def test_reference_docs_are_up_to_date(tmp_path: Path) -> None:
    """docs/reference/ is what `make docs` generates from the registries right now."""
    docs_reference.generate(tmp_path)
    for page in docs_reference.PAGES:
        committed = ROOT / "docs" / "reference" / page
        assert committed.exists(), f"run `make docs`: {committed} is missing"
        assert committed.read_text() == (tmp_path / page).read_text(), (
            f"run `make docs`: {committed} is out of date"
        )


def test_every_audit_kind_is_documented() -> None:
    """docs/audit.md names every event kind the agent can write."""
    text = (ROOT / "docs" / "audit.md").read_text()
    missing = [k.value for k in Kind if f"`{k.value}`" not in text]
    assert missing == []


def test_every_example_policy_validates() -> None:
    """Every file under policies/ loads without a single error."""
    names = {"oncall"}  # and the levels the packs' example configs define
    for example in (ROOT / "docs" / "examples").glob("*.medic.yaml"):
        names |= set(yaml.safe_load(example.read_text()).get("notifiers") or {})
    result = load_paths([ROOT / "policies"], notifiers=names)
    assert [str(e) for e in result.errors] == []
    assert len(result.policies) >= 6


def test_docs_have_a_page_per_concept() -> None:
    """The concept pages the README links to exist."""
    for page in (
        "architecture",
        "policies",
        "conditions",
        "limits",
        "audit",
        "api",
        "actions",
        "notifiers",
    ):
        assert (ROOT / "docs" / f"{page}.md").exists(), page
