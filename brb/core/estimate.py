"""What a diversion of one request would cost: the figures of ``brb estimate``.

Owns the estimate of one body: its prompt tokens (brb's estimate, or an
exact count the caller got from a provider), the output tokens to expect (a
learned reply length of the local model when the caller has one, else what
the request allows), and for each provider of the chain the expected and
the worst-case cost. The worst case is the daemon's own reservation
(:func:`brb.core.reservation.plan_diversion`), not a second formula. Where a
request would go right now is the policy's decision, which the caller
passes in. Must not do I/O, read the clock or count tokens itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from brb.core import pricing
from brb.core.capabilities import ModelCapabilities
from brb.core.conversation import Conversation, estimate_prompt_tokens
from brb.core.policy import Decision
from brb.core.reservation import plan_diversion
from brb.core.service_model import ReplyLengths
from brb.errors import ConversionError


@dataclass(frozen=True, slots=True)
class Target:
    """One provider of the chain, as the estimate needs it."""

    name: str
    model: str  # the cloud model this request would get there
    price: pricing.ModelPrice | None  # None: no price known, it can't be diverted there
    caps: ModelCapabilities


@dataclass(frozen=True, slots=True)
class ProviderEstimate:
    name: str
    model: str
    expected_usd: Decimal | None  # None: not divertible there (no price, can't convert)
    worst_case_usd: Decimal | None
    note: str = ""  # why a figure is missing


@dataclass(frozen=True, slots=True)
class Estimate:
    prompt_tokens: int
    expected_output_tokens: int
    providers: tuple[ProviderEstimate, ...]
    route: Decision | None = None
    is_prompt_exact: bool = False  # counted by a provider, not estimated

    @property
    def expected_usd(self) -> Decimal | None:
        """The first provider's expected cost: what a diversion would most likely cost."""
        for p in self.providers:
            if p.expected_usd is not None:
                return p.expected_usd
        return None

    def to_json(self) -> dict[str, Any]:
        """The documented ``--json`` object (money as floats, to the micro-dollar)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "expected_output_tokens": self.expected_output_tokens,
            "providers": [
                {
                    "name": p.name,
                    "model": p.model,
                    "expected_usd": _usd(p.expected_usd),
                    "worst_case_usd": _usd(p.worst_case_usd),
                    **({"note": p.note} if p.note else {}),
                }
                for p in self.providers
            ],
            "route": None
            if self.route is None
            else {"divert": self.route.divert, "reason": self.route.reason},
        }


def learned_reply_tokens(replies: ReplyLengths, cap: int) -> float | None:
    """The mean reply length of a model's recent replies, each capped at ``cap`` (the
    request's max_tokens): what to expect from it; None before any reply is known."""
    if not len(replies):
        return None
    return replies.residual(0.0, cap)[0]


def expected_output_tokens(
    conv: Conversation, *, default_max_tokens: int, replies: ReplyLengths | None
) -> int:
    """The model's mean recent reply length capped at what the request allows, else
    the request's max_tokens, else the configured default."""
    allowed = conv.max_tokens or default_max_tokens
    learned = learned_reply_tokens(replies, allowed) if replies is not None else None
    if learned is None:
        return allowed
    return max(1, min(allowed, round(learned)))


def estimate(
    endpoint: str,
    body: Mapping[str, Any],
    conv: Conversation,
    targets: Sequence[Target],
    *,
    default_max_tokens: int,
    max_input_tokens: int | None,
    replies: ReplyLengths | None = None,
    exact_prompt_tokens: int | None = None,
    route: Decision | None = None,
) -> Estimate:
    """The estimate of ``body``, ``conv`` being :func:`read_conversation` of it;
    ``replies``: the local model's recent reply lengths, when the caller has them."""
    exact = exact_prompt_tokens
    prompt = exact if exact is not None else estimate_prompt_tokens(conv)
    output = expected_output_tokens(conv, default_max_tokens=default_max_tokens, replies=replies)
    rows = []
    for t in targets:
        if t.price is None:
            rows.append(ProviderEstimate(t.name, t.model, None, None, "no price known"))
            continue
        try:
            plan = plan_diversion(
                endpoint,
                body,
                cloud_model=t.model,
                price=t.price,
                caps=t.caps,
                default_max_tokens=default_max_tokens,
                max_input_tokens=max_input_tokens,
            )
        except ConversionError as exc:
            rows.append(ProviderEstimate(t.name, t.model, None, None, str(exc)))
            continue
        expected = pricing.cost_usd(
            t.price, input_tokens=prompt, output_tokens=min(output, plan.max_tokens)
        )
        rows.append(ProviderEstimate(t.name, t.model, expected, plan.worst_usd))
    return Estimate(prompt, output, tuple(rows), route, exact_prompt_tokens is not None)


def quick_cost_usd(
    price: pricing.ModelPrice,
    conv: Conversation,
    *,
    default_max_tokens: int,
    replies: ReplyLengths | None = None,
) -> Decimal:
    """What answering ``conv`` in the cloud would about cost, without converting the
    body (the ``X-BRB-Cost-Estimate-USD`` of every answer): the prompt estimate and
    the expected output (:func:`expected_output_tokens`)."""
    return pricing.cost_usd(
        price,
        input_tokens=estimate_prompt_tokens(conv),
        output_tokens=expected_output_tokens(
            conv, default_max_tokens=default_max_tokens, replies=replies
        ),
    )


def _usd(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)
