"""brb.core.policy: the one routing decision, rule by rule and in order."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from brb.core.breaker import Mode, Phase
from brb.core.policy import LOCAL_REASONS, Decision, Policy, RequestFacts, decide

OK = RequestFacts()


def run(
    facts: RequestFacts = OK,
    *,
    enabled: bool = True,
    mode: Mode = Mode.AUTO,
    phase: Phase = Phase.ACTIVE,
    policy: Policy = Policy.OVERFLOW,
    wait: float = 100.0,
    threshold: float = 60.0,
) -> Decision:
    return decide(
        facts,
        is_enabled=enabled,
        mode=mode,
        phase=phase,
        policy=policy,
        predicted_wait_s=wait,
        wait_threshold_s=threshold,
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, Decision(True, "overflow")),
        ({"wait": 60.0}, Decision(False, "fits_locally")),  # at the threshold: serve locally
        ({"wait": 60.01}, Decision(True, "overflow")),
        ({"wait": 0.0, "policy": Policy.ALL}, Decision(True, "breaker_active")),
        ({"phase": Phase.STANDBY}, Decision(False, "standby")),
        ({"phase": Phase.STANDBY, "mode": Mode.ON, "wait": 0.0}, Decision(True, "pressed")),
        ({"mode": Mode.OFF}, Decision(False, "held")),
        ({"enabled": False, "mode": Mode.ON}, Decision(False, "disabled")),
        # A compliance session stays local even when pressed.
        (
            {"facts": RequestFacts(is_excluded_session=True), "mode": Mode.ON},
            Decision(False, "excluded_session"),
        ),
        (
            {"facts": RequestFacts(is_local_only=True), "mode": Mode.ON},
            Decision(False, "local_only"),
        ),
        (
            {"facts": RequestFacts(has_provider=False), "mode": Mode.ON},
            Decision(False, "no_provider"),
        ),
        # require_session: a request with no session id stays local, pressed or not.
        (
            {"facts": RequestFacts(is_session_missing=True), "mode": Mode.ON},
            Decision(False, "no_session"),
        ),
        # No honest bound on the provider's bill: it stays local, pressed or not.
        (
            {"facts": RequestFacts(is_cost_bounded=False), "mode": Mode.ON},
            Decision(False, "unbounded_cost"),
        ),
        (
            {"facts": RequestFacts(is_model_priced=False), "mode": Mode.ON},
            Decision(False, "unpriced_model"),
        ),
        # The first failing fact names the reason.
        (
            {"facts": RequestFacts(is_excluded_session=True, is_local_only=True)},
            Decision(False, "excluded_session"),
        ),
        (
            {"facts": RequestFacts(is_excluded_session=True), "enabled": False},
            Decision(False, "disabled"),
        ),
    ],
)
def test_decide_table(kwargs: dict[str, object], expected: Decision) -> None:
    assert run(**kwargs) == expected  # type: ignore[arg-type]


def test_every_combination_is_consistent() -> None:
    """Exhaustively: a local decision always carries a documented reason, and
    any blocking fact or the held/disabled state keeps the request local."""
    bools = (False, True)
    names = [f.name for f in dataclasses.fields(RequestFacts)]
    for flags, enabled, mode, phase, policy, wait in itertools.product(
        itertools.product(bools, repeat=len(names)), bools, Mode, Phase, Policy, (0.0, 120.0)
    ):
        facts = RequestFacts(**dict(zip(names, flags, strict=True)))
        d = run(facts, enabled=enabled, mode=mode, phase=phase, policy=policy, wait=wait)
        blocked = (
            not enabled
            or facts.is_excluded_session
            or facts.is_session_missing
            or facts.is_local_only
            or not facts.is_cost_bounded
            or not facts.has_provider
            or not facts.is_model_priced
            or mode is Mode.OFF
        )
        assert (d.reason in LOCAL_REASONS) is (not d.divert)
        if blocked:
            assert not d.divert
        elif mode is Mode.ON:
            assert d == Decision(True, "pressed")
        elif phase is Phase.STANDBY:
            assert not d.divert
        else:
            assert d.divert is (policy is Policy.ALL or wait > 60.0)


def test_overflow_keeps_the_local_queue_inside_the_depth_threshold_too() -> None:
    """With no service time known yet (a cold start) the predicted wait is 0; the
    depth threshold still bounds the local queue: the arrival that would queue
    past it is diverted, one that starts at once is not."""
    from brb.core.breaker import Mode, Phase
    from brb.core.policy import Policy, RequestFacts, decide

    def go(would_queue: bool, depth: int) -> str:
        return decide(
            RequestFacts(),
            is_enabled=True,
            mode=Mode.AUTO,
            phase=Phase.ACTIVE,
            policy=Policy.OVERFLOW,
            predicted_wait_s=0.0,
            wait_threshold_s=1.0,
            would_queue=would_queue,
            queue_depth=depth,
            queue_depth_threshold=3,
        ).reason

    assert go(True, 4) == "overflow"
    assert go(True, 3) == "fits_locally"
    assert go(False, 9) == "fits_locally"
