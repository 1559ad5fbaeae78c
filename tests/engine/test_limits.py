"""Rate limits, cooldowns, blast radius and the circuit breaker, over plain-number time."""

from __future__ import annotations

from medic.audit.events import Kind, Reason
from medic.config import BreakerConfig
from medic.engine.core.limits import Attempt, Breaker, Ledger, check_blast_radius, check_rate
from medic.policy.model import Limits


def test_rate_limit_counts_attempts_in_the_window() -> None:
    """max 3 per 1h: the fourth attempt inside the hour is refused, and allowed after it."""
    limits = Limits(max=3, per=3600, cooldown=0)
    ledger = Ledger()
    for t in (0.0, 10.0, 20.0):
        assert check_rate(limits, ledger, "p", "t", dry=False, now=t).allowed
        ledger.record("p", "t", t, dry=False)
    refused = check_rate(limits, ledger, "p", "t", dry=False, now=30.0)
    assert refused.reason == Reason.RATE_LIMIT
    assert refused.details == {"max": 3, "per": "1h", "used": 3}
    assert check_rate(limits, ledger, "p", "t", dry=False, now=3600.0).allowed


def test_cooldown_between_attempts() -> None:
    """A cooldown of 5m refuses a second attempt 4m after the first."""
    limits = Limits(max=10, per=3600, cooldown=300)
    ledger = Ledger()
    ledger.record("p", "t", 0.0, dry=False)
    verdict = check_rate(limits, ledger, "p", "t", dry=False, now=240.0)
    assert verdict.reason == Reason.COOLDOWN
    assert verdict.details["remaining"] == 60.0
    assert check_rate(limits, ledger, "p", "t", dry=False, now=300.0).allowed


def test_limits_are_per_target_and_dry_run_is_kept_apart() -> None:
    """Another target, or the same one in dry-run, has its own budget."""
    limits = Limits(max=1, per=3600, cooldown=0)
    ledger = Ledger()
    ledger.record("p", "a", 0.0, dry=False)
    assert not check_rate(limits, ledger, "p", "a", dry=False, now=1.0).allowed
    assert check_rate(limits, ledger, "p", "b", dry=False, now=1.0).allowed
    assert check_rate(limits, ledger, "p", "a", dry=True, now=1.0).allowed


def test_ledger_rebuilt_from_history_keeps_limits_across_restart() -> None:
    """Loading past attempts (as the agent does from the audit log) restores the limit."""
    ledger = Ledger()
    ledger.load([Attempt("p", "t", 100.0, False), Attempt("p", "t", 50.0, False)])
    limits = Limits(max=2, per=3600, cooldown=0)
    assert check_rate(limits, ledger, "p", "t", dry=False, now=200.0).reason == Reason.RATE_LIMIT


def test_blast_radius_absolute_and_percent() -> None:
    """max_targets caps simultaneous remediations; a percentage is of the selected targets."""
    assert not check_blast_radius(Limits(max_targets=1), active=1, selected=10).allowed
    assert check_blast_radius(Limits(max_targets=2), active=1, selected=10).allowed
    assert check_blast_radius(Limits(max_targets_percent=20), active=1, selected=10).allowed
    verdict = check_blast_radius(Limits(max_targets_percent=20), active=2, selected=10)
    assert verdict.reason == Reason.BLAST_RADIUS
    assert verdict.details == {"active": 2, "cap": 2, "selected": 10}
    # A percentage never rounds down to zero: one target may always be healed.
    assert check_blast_radius(Limits(max_targets_percent=10), active=0, selected=3).allowed


def test_breaker_opens_once_and_closes_after_reset() -> None:
    """Too many actions host-wide opens the breaker once; it closes after reset_after."""
    breaker = Breaker(BreakerConfig(max_actions=3, per=60, reset_after=600))
    ledger = Ledger()
    for i, t in enumerate((0.0, 1.0, 2.0)):
        ledger.record("p", f"t{i}", t, dry=False)
    verdict, note = breaker.check(ledger, 3.0)
    assert verdict.reason == Reason.CIRCUIT_BREAKER
    assert note is not None and note.kind == Kind.BREAKER_OPENED
    verdict, note = breaker.check(ledger, 4.0)
    assert not verdict.allowed and note is None
    verdict, note = breaker.check(ledger, 300.0)
    assert not verdict.allowed  # quiet now, but reset_after has not passed
    verdict, note = breaker.check(ledger, 603.0)
    assert verdict.allowed
    assert note is not None and note.kind == Kind.BREAKER_CLOSED


def test_breaker_ignores_dry_run_attempts() -> None:
    """Shadow policies cannot trip the breaker for live ones."""
    breaker = Breaker(BreakerConfig(max_actions=1, per=60, reset_after=60))
    ledger = Ledger()
    ledger.record("p", "t", 0.0, dry=True)
    assert breaker.check(ledger, 1.0)[0].allowed
