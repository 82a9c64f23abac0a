"""The one routing decision: does this request go to the cloud or stay local?

Owns the order in which the rules of DESIGN.md are applied, so the daemon and
the replay simulator decide identically. Must not reserve money or talk to
anything: the caller reserves the budget after a ``divert`` decision, and a
failed reservation keeps the request local.

Order matters: a compliance session stays local whatever the mode, pressed
included; then the request must be eligible (no local-only header, a bounded
cost, a provider, a price); only then does a routing rule (:mod:`brb.core.rules`)
count, then the operator's mode and the breaker. A ``local`` rule keeps a
request local even when pressed; a ``cloud`` rule diverts it even in
standby, but not while the operator holds brb off, and the budget (the
caller's reservation, after this decision) still has the last word: a
failed reservation keeps the request local. ``overflow`` and ``provider``
rules leave the decision to the mode and the breaker; ``provider`` names the
provider to try first. Whether a request converts to the provider's format
is not known here: the cloud leg finds out when it converts, and a request
that doesn't goes local with the reason ``not_convertible``.
"""

from __future__ import annotations

from enum import StrEnum

from brb.core.breaker import Mode, Phase
from brb.core.rules import Action, Verdict
from brb.core.value_type import value_type


class Policy(StrEnum):
    OVERFLOW = "overflow"  # while active, divert only what can't be served in time locally
    ALL = "all"  # while active, divert every eligible request (the original behaviour)


@value_type
class RequestFacts:
    """What the dispatcher knows about one request before deciding."""

    is_excluded_session: bool = False
    is_session_missing: bool = False  # no session id, and require_session is on
    is_local_only: bool = False
    is_cost_bounded: bool = True  # False: no honest upper bound on the provider's bill
    has_provider: bool = True
    is_model_priced: bool = True


@value_type
class Decision:
    divert: bool
    reason: str  # a stable short code, e.g. "excluded_session", "pressed", "rule:2:cloud"
    provider: str | None = None  # the provider to try first (a ``provider`` rule)


# The decisions that name no provider to try first, built once (a Decision is immutable).
_DISABLED = Decision(False, "disabled")
_EXCLUDED_SESSION = Decision(False, "excluded_session")
_NO_SESSION = Decision(False, "no_session")
_LOCAL_ONLY = Decision(False, "local_only")
_UNBOUNDED_COST = Decision(False, "unbounded_cost")
_NO_PROVIDER = Decision(False, "no_provider")
_UNPRICED_MODEL = Decision(False, "unpriced_model")
_HELD = Decision(False, "held")
_PRESSED = Decision(True, "pressed")
_STANDBY = Decision(False, "standby")
_BREAKER_ACTIVE = Decision(True, "breaker_active")
_OVERFLOW = Decision(True, "overflow")
_FITS_LOCALLY = Decision(False, "fits_locally")

LOCAL_REASONS = (
    "disabled",
    "excluded_session",
    "no_session",
    "local_only",
    "unbounded_cost",
    "no_provider",
    "unpriced_model",
    "held",
    "standby",
    "fits_locally",
    # decided after the policy, by the cloud leg: the request then stays local
    "store_unavailable",
    "fallback",
)
# Plus "rule:N:local" (and "rule:N:cloud" when diverting): see Verdict.reason.


def decide(
    facts: RequestFacts,
    *,
    is_enabled: bool,
    mode: Mode,
    phase: Phase,
    policy: Policy,
    predicted_wait_s: float,
    wait_threshold_s: float,
    would_queue: bool = False,
    queue_depth: int = 0,
    queue_depth_threshold: int | None = None,
    rule: Verdict | None = None,
) -> Decision:
    """Decide where one request goes (before the budget is consulted).

    ``predicted_wait_s`` is how long this arrival would wait for a local slot;
    ``would_queue`` whether it would wait at all (no free slot); ``queue_depth``
    the depth it would make. Overflow keeps the local queue inside both
    thresholds: it diverts an arrival that would wait past the wait threshold,
    or would queue past the depth threshold (which is what still works when no
    service time is known yet, e.g. the first burst after a cold start).
    ``rule`` is the first routing rule that matched this request, if any."""
    if not is_enabled:
        return _DISABLED
    if facts.is_excluded_session:
        return _EXCLUDED_SESSION
    if facts.is_session_missing:
        return _NO_SESSION
    if facts.is_local_only:
        return _LOCAL_ONLY
    if not facts.is_cost_bounded:
        return _UNBOUNDED_COST
    if not facts.has_provider:
        return _NO_PROVIDER
    if not facts.is_model_priced:
        return _UNPRICED_MODEL
    if rule is not None and rule.action is Action.LOCAL:
        return Decision(False, rule.reason)
    if mode is Mode.OFF:
        return _HELD
    if rule is not None and rule.action is Action.CLOUD:
        return Decision(True, rule.reason)
    first = rule.provider if rule is not None and rule.action is Action.PROVIDER else None
    if mode is Mode.ON:
        return _PRESSED if first is None else Decision(True, "pressed", first)
    if phase is Phase.STANDBY:
        return _STANDBY if first is None else Decision(False, "standby", first)
    if policy is Policy.ALL:
        return _BREAKER_ACTIVE if first is None else Decision(True, "breaker_active", first)
    if predicted_wait_s > wait_threshold_s or (
        would_queue and queue_depth_threshold is not None and queue_depth > queue_depth_threshold
    ):
        return _OVERFLOW if first is None else Decision(True, "overflow", first)
    return _FITS_LOCALLY if first is None else Decision(False, "fits_locally", first)
