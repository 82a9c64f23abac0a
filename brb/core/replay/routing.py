"""What the replay decides for one request: its facts, its rule, its route, its price.

Owns the per-request questions the simulator asks the daemon's own code: the
:class:`~brb.core.policy.RequestFacts` of a trace record (session exclusion,
whether its model is priced), the first routing rule it matches, the
:func:`~brb.core.policy.decide` call with the replay's parameters, and the
cloud price of each local model (looked up once).

Must not: do I/O, log or read the clock, hold queue, breaker or budget state
(the breaker phase is a parameter; :mod:`brb.core.replay.simulator` owns the
rest), or copy a routing rule instead of calling it.
"""

from __future__ import annotations

from collections.abc import Sequence

from brb.core import rules
from brb.core.breaker import Phase
from brb.core.policy import Decision, RequestFacts, decide
from brb.core.pricing import ModelPrice, price_for
from brb.core.replay.run import SimParams
from brb.core.replay.trace import TraceRecord
from brb.core.sessions import SessionFilter


class Router:
    """The routing questions for one trace under one set of parameters."""

    def __init__(self, trace: Sequence[TraceRecord], params: SimParams) -> None:
        self.trace = trace
        self.p = params
        self.sessions = SessionFilter(params.excluded_sessions)
        self.prices: dict[str, ModelPrice | None] = {}

    def facts(self, index: int) -> RequestFacts:
        rec = self.trace[index]
        return RequestFacts(
            is_excluded_session=self.sessions.is_excluded(rec.session),
            is_model_priced=self.price(rec.model) is not None,
        )

    def rule(self, index: int) -> rules.Verdict | None:
        """The first routing rule the record matches. A trace has no body or headers:
        rules on endpoint, header, tools, images or complexity never match in a replay,
        and prompt_tokens is the count the trace gives."""
        if not self.p.rules.rules:
            return None
        rec = self.trace[index]
        facts = rules.RuleFacts(
            model=rec.model, endpoint="", session=rec.session, prompt_tokens=rec.prompt_tokens
        )
        return self.p.rules.first_match(facts)

    def decide(
        self,
        index: int,
        facts: RequestFacts,
        predicted_s: float,
        would_queue: bool,
        depth: int,
        phase: Phase,
    ) -> Decision:
        """The daemon's routing decision for record ``index``, the breaker being in ``phase``."""
        return decide(
            facts,
            is_enabled=self.p.is_enabled,
            mode=self.p.mode,
            phase=phase,
            policy=self.p.policy,
            predicted_wait_s=predicted_s,
            wait_threshold_s=self.p.thresholds.wait_seconds,
            would_queue=would_queue,
            queue_depth=depth,
            queue_depth_threshold=self.p.thresholds.queue_depth,
            rule=self.rule(index),
        )

    def price(self, local_model: str) -> ModelPrice | None:
        if local_model not in self.prices:
            cloud = self.p.cloud_model_for(local_model)
            self.prices[local_model] = price_for(cloud, self.p.price_overrides)
        return self.prices[local_model]
