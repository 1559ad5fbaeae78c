"""A probe's timeout is a declared constructor argument, read plainly (issue 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from medic.durations import parse_duration
from medic.engine.multiprobe import new_probe
from medic.policy.model import ProbeSpec
from medic.policy.schema import docstring_example
from medic.probes.base import Probe, probes

SHARED = ("type", "every", "timeout")


def example_options(cls: type[Probe]) -> dict[str, Any]:
    """The options of a probe of this type in the class's own docstring example."""
    example = docstring_example(cls)
    assert example is not None, cls.type_name
    policy = yaml.safe_load(example)["policies"][0]
    specs = [policy["probe"]] if "probe" in policy else list(policy["probes"].values())
    probe = next(spec for spec in specs if spec["type"] == cls.type_name)
    return {k: v for k, v in probe.items() if k not in SHARED}


@pytest.mark.parametrize("name", probes.names())
def test_every_probe_takes_its_timeout_in_the_constructor(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every registered probe accepts ``timeout=`` and exposes it as ``.timeout``."""
    monkeypatch.chdir(tmp_path)
    cls = probes.get(name)
    assert cls is not None
    probe = cls(example_options(cls), timeout=2.5)
    assert probe.timeout == 2.5
    assert cls(example_options(cls)).timeout == cls.default_timeout


def test_the_engine_builds_a_probe_with_the_policy_timeout() -> None:
    """new_probe passes the policy's timeout and name to the probe it makes."""
    spec = ProbeSpec(type="host.memory", options={}, every=30.0, timeout=parse_duration("3s"))
    probe = new_probe(spec, "mem")
    assert (probe.timeout, probe.policy_name) == (3.0, "mem")


def test_no_probe_reads_its_timeout_with_getattr() -> None:
    """No probe module reads ``timeout`` or ``policy_name`` back with getattr()."""
    package = Path(__file__).resolve().parents[2] / "daemon" / "medic"
    found = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if 'getattr(self, "timeout"' in path.read_text()
        or 'getattr(self, "policy_name"' in path.read_text()
    ]
    assert found == []


class OwnInit(Probe):
    """A plugin probe whose __init__ takes only its options, as before."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)

    async def measure(self) -> dict[str, dict[str, Any]]:
        return {}


def test_a_plugin_with_its_own_init_still_gets_the_policy_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probe whose __init__ has no timeout parameter is built and timed as before."""
    monkeypatch.setattr(probes, "_items", {**probes._items, "own.init": OwnInit})
    probe = new_probe(ProbeSpec(type="own.init", options={}, every=30.0, timeout=4.0), "p")
    assert probe.timeout == 4.0
