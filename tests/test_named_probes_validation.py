"""probes: validation: each field as <probe>.<field>, exact messages at file:line:column."""

from __future__ import annotations

import textwrap

from medic.policy.loader import load_text


def errors(body: str) -> list[str]:
    text = "version: 1\npolicies:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    return [str(e) for e in load_text(text, "lag.yaml").errors]


POLICY = """\
- name: rollback
  probes:
    app: {{type: http, url: "http://127.0.0.1:8080/health"}}
    deploy: {{type: deploy, path: /srv/app/current}}
  when: {when}
"""


def test_a_name_that_is_no_probe_of_the_policy_is_named_with_the_choices() -> None:
    """web.ok, where the probes are app and deploy: an error at its column."""
    assert errors(POLICY.format(when="app.status >= 500 and web.ok")) == [
        "lag.yaml:7:33: policy 'rollback': 'web.ok' names no probe of this policy; "
        "probes: app, deploy (hint: with probes:, write each field as <probe name>.<field>)"
    ]


def test_a_field_the_named_probe_does_not_yield_gets_a_did_you_mean() -> None:
    """deploy.since is not a deploy probe field: the fields are listed."""
    assert errors(POLICY.format(when="deploy.since < 15m")) == [
        "lag.yaml:7:11: policy 'rollback': field 'since' is not yielded by probe 'deploy' "
        "(deploy); fields: deployed_at, since_deploy, version (hint: `medic probe deploy` "
        "runs the probe once and prints its fields)"
    ]


def test_a_bare_probe_name_is_not_a_field() -> None:
    """`app > 1` names the probe itself: write app.<field>."""
    assert errors(POLICY.format(when="app > 1")) == [
        "lag.yaml:7:11: policy 'rollback': 'app' is a probe, not a field (hint: write "
        "app.<field>; `medic probe http` prints its fields)"
    ]


def test_a_policy_has_one_probe_or_named_probes_not_both_nor_neither() -> None:
    """probe: and probes: together, or neither, are errors with the fix."""
    both = """\
    - name: both
      probe: {type: host.memory}
      probes: {m: {type: host.memory}}
      when: m.percent > 1
    - name: none
      when: percent > 1
    """
    assert errors(both) == [
        "lag.yaml:3:5: policy 'both': the policy has both probe: and probes: (hint: write "
        "one probe: {type: ...}, or several named ones under probes:)",
        "lag.yaml:7:5: policy 'none': missing required key 'probe' (hint: say what to "
        "measure, like `probe: {type: host.memory}`)",
    ]


def test_a_named_probe_with_bad_options_is_reported_under_its_name() -> None:
    """A schedule probe with both cron and interval is named at probes.<name>."""
    body = """\
    - name: job
      probes:
        job: {type: schedule, cron: "0 3 * * *", interval: 1m}
      when: job.due
    """
    assert errors(body) == [
        "lag.yaml:5:7: policy 'job': probe 'schedule': give either cron: or interval:, one of them"
    ]


def test_deploy_after_error_rate_loads_as_named_probes() -> None:
    """The rollback runbook loads: its first probe gives the targets."""
    text = "version: 1\npolicies:\n" + textwrap.indent(
        POLICY.format(when="app.status >= 500 and deploy.since_deploy < 15m"), "  "
    )
    (policy,) = load_text(text, "lag.yaml").policies
    assert [name for name, _ in policy.probes] == ["app", "deploy"]
    assert policy.probe.every == 30.0
