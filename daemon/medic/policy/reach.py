"""Can a policy's escalation be reached, and does it come when the policy says?

``escalate.after_failures`` counts remediation attempts that ran and did not heal.
The limits can make that count unreachable: with ``limits.max`` attempts per
``limits.per``, attempt ``max + 1`` is refused by the rate limit, so the page comes
from that refusal after ``max`` failures (earlier than the policy says), or, with
``on_suppressed: false``, never. ``medic validate`` prints these as warnings and the
agent audits them as ``policy.warning``; they do not stop a policy from loading.
"""

from __future__ import annotations

from medic.durations import format_duration
from medic.errors import PolicyWarning
from medic.policy.model import Policy


def escalation_warnings(policy: Policy) -> list[PolicyWarning]:
    """What about ``policy``'s limits and escalation a reviewer should know."""
    esc, limits = policy.escalate, policy.limits
    out: list[PolicyWarning] = []

    def warn(message: str, hint: str) -> None:
        out.append(PolicyWarning(message, location=policy.source, policy=policy.name, hint=hint))

    if policy.remediate and esc.after_failures > limits.max:
        window = format_duration(limits.per)
        allowed = f"limits.max allows {limits.max} attempt(s) per {window}"
        fix = f"lower escalate.after_failures to at most {limits.max} or raise limits.max"
        if esc.on_suppressed:
            warn(
                f"escalate.after_failures is {esc.after_failures} but {allowed}: the rate "
                f"limit refuses the next attempt and pages (suppressed:rate_limit) after "
                f"{limits.max} failed attempt(s), earlier than after_failures says",
                fix,
            )
        else:
            warn(
                f"escalate.after_failures is {esc.after_failures} but {allowed}, and "
                f"on_suppressed is false: when remediation keeps failing nobody is paged",
                f"{fix}, or set escalate.on_suppressed: true",
            )
    return out
