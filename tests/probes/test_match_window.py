"""The log, journald and container.logs probes share one set of pattern/window checks."""

from __future__ import annotations

import pytest

from medic.probes.base import probes
from medic.probes.logs.linewindow import MatchWindowProbe

LINE_PROBES = {
    "log": {"path": "/var/log/app.log"},
    "journald": {"unit": "nginx"},
    "container.logs": {"name": "web"},
}


@pytest.mark.parametrize("name", sorted(LINE_PROBES))
def test_line_probes_take_their_checks_from_one_class(name: str) -> None:
    """Each line-counting probe inherits validate() and option_fields(), not a copy."""
    cls = probes.get(name)
    assert cls is not None and issubclass(cls, MatchWindowProbe)
    assert "option_fields" not in vars(cls)
    assert "validate" not in vars(cls) or name == "container.logs"


@pytest.mark.parametrize("name", sorted(LINE_PROBES))
def test_line_probes_word_a_bad_pattern_and_window_alike(name: str) -> None:
    """A pattern that does not compile and a malformed window read the same in all three."""
    cls = probes.get(name)
    assert cls is not None
    problems = cls.validate({**LINE_PROBES[name], "pattern": "(", "window": "soon"})
    assert problems[0].startswith("pattern")
    assert problems[-1].startswith("window: 'soon' is not a duration")


@pytest.mark.parametrize(("name", "refused"), [("log", True), ("journald", True)])
def test_an_empty_window_is_refused_where_runs_are_counted(name: str, refused: bool) -> None:
    """log and journald refuse window: 0s; container.logs reads an empty window as before."""
    cls = probes.get(name)
    assert cls is not None
    problems = cls.validate({**LINE_PROBES[name], "pattern": "x", "window": "0s"})
    assert ("window must be longer than 0s." in problems) is refused
    logs = probes.get("container.logs")
    assert logs is not None
    assert logs.validate({**LINE_PROBES["container.logs"], "pattern": "x", "window": "0s"}) == []


def test_named_groups_become_fields_in_every_line_probe() -> None:
    """A named group of the pattern is a field ``when:`` may read, in every line probe."""
    for name, options in LINE_PROBES.items():
        cls = probes.get(name)
        assert cls is not None
        assert "last_code" in cls.option_fields({**options, "pattern": "(?P<code>[0-9]+)"})
