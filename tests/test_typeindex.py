"""A registry imports only the plugin module of the type it is asked for (medic.builtin_types)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from medic import builtin_types
from medic.actions.base import actions
from medic.policy import typeindex
from medic.policy.loader import load_text
from medic.policy.yamlpos import parse_yaml
from medic.probes.base import Measurement, Probe, probes
from medic.registry import Registry
from medic.secret_notices import text_notices

REPO = Path(__file__).resolve().parent.parent
POLICY = "version: 1\npolicies:\n  - name: p\n    probe: {type: %s}\n    when: x > 1\n"


class ThirdPartyProbe(Probe):
    """A probe from a plugin outside medic."""

    fields = ()
    dynamic_fields = True
    schema: ClassVar[dict[str, Any]] = {"type": "object", "additionalProperties": False}

    async def measure(self) -> Measurement:
        return {}


def test_the_builtin_index_is_current() -> None:
    """builtin_types.py is what `make docs` generates from the registries right now."""
    committed = (REPO / "daemon/medic/builtin_types.py").read_text()
    assert committed == typeindex.render(), "run `make docs`: builtin_types.py is out of date"


def test_the_index_names_every_builtin_type() -> None:
    """Each built-in probe and action type is indexed under its own module."""
    assert builtin_types.MODULES["probe"]["host.memory"] == "medic.probes.system.host"
    assert set(builtin_types.MODULES["probe"]) == {
        name for name, cls in probes.items() if cls.__module__.startswith("medic.")
    }


def test_a_name_outside_the_index_falls_back_to_the_full_registry() -> None:
    """A third-party type is found through the full registry, which loads entry points."""
    view: Registry[type[Probe]] = Registry("probe", "medic.tests.no-such-group", index={})
    view.register("vendor.thing")(ThirdPartyProbe)
    assert view.get("vendor.thing") is ThirdPartyProbe
    assert view.get("vendor.nothing") is None


def test_a_stale_index_entry_falls_back_to_the_full_registry() -> None:
    """An entry whose module no longer registers the name costs time, never the answer."""
    stale = {"vendor.thing": "json", "gone": "no.such.module"}
    view: Registry[type[Probe]] = Registry("probe", "medic.tests.no-such-group", index=stale)
    view.register("vendor.thing")(ThirdPartyProbe)
    assert view.get("vendor.thing") is ThirdPartyProbe
    assert view.get("gone") is None


def test_an_unknown_probe_through_the_index_lists_every_type() -> None:
    """An unknown type misses the index: every valid type is listed, with a guess."""
    (error,) = load_text(POLICY % "host.memroy", "p.yaml").errors
    assert "did you mean 'host.memory'?" in str(error)
    assert all(name in str(error) for name in builtin_types.MODULES["probe"])


def test_an_unknown_action_through_the_index_is_worded_as_before() -> None:
    """A misspelt step names every action type and a guess."""
    text = POLICY % "host.memory" + "    remediate:\n      - comand: {argv: [/bin/true]}\n"
    errors = load_text(text, "p.yaml").errors
    assert "unknown action type 'comand'; did you mean 'command'?" in str(errors[-1])


OLD_TOKEN = """\
version: 1
policies:
  - name: p
    probe: {type: host.memory}
    when: percent > 90
    remediate:
      - http.request: {url: "http://127.0.0.1:9/", token_env: ADMIN}
"""


def test_old_secret_spellings_are_read_from_the_classes_a_file_uses() -> None:
    """The notice comes from the step's class; a file whose classes have no old key is
    not walked, whatever its text holds."""
    doc, _ = parse_yaml(OLD_TOKEN, "p.yaml")
    assert doc is not None
    http_request = actions.get("http.request")
    assert http_request is not None
    found = text_notices(OLD_TOKEN, doc, "p.yaml", [http_request])
    assert [n.message for n in found] == [
        "remediate.0.http.request.token_env is an old spelling of a secret"
    ]
    assert text_notices(OLD_TOKEN, doc, "p.yaml", []) == ()
