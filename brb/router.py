"""The routing decision of one request, as the daemon makes it: the rules, then the policy.

Owns putting together what :func:`brb.core.policy.decide` needs from the
config (sessions, rules, policy, thresholds; each built once) and from the
request (its body and conversation, sessions, headers, the local-only
header), given the state of the moment (:class:`RouteState`: the operator's
mode, the breaker, the queue this arrival would find, whether a provider and
a price are there). The daemon's front, its estimate endpoint and ``brb
estimate`` all call :meth:`Router.route`, so an estimate's route is the
daemon's own. Must not do I/O, change any state or read the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from brb.config import BrbConfig
from brb.core.breaker import Mode, Phase
from brb.core.conversation import ANTHROPIC_MESSAGES, Conversation, read_conversation
from brb.core.convert.passthrough import is_cost_bounded
from brb.core.policy import Decision, Policy, RequestFacts, decide
from brb.core.rules import facts_of
from brb.core.sessions import SessionFilter
from brb.core.value_type import value_type

LOCAL_ONLY_HEADER = "X-BRB-Local-Only"


@value_type
class RouteState:
    """What the route depends on besides the request: the operator's mode, the
    breaker, the local queue as this arrival would find it, and the providers."""

    mode: Mode = Mode.AUTO
    phase: Phase = Phase.STANDBY
    predicted_wait_s: float = 0.0
    would_queue: bool = False
    queue_depth: int = 0
    has_provider: bool = True  # a provider of the chain has a key and is not resting
    is_model_priced: bool = True  # the cloud model this request maps to has a price


def is_local_only(headers: Mapping[str, str]) -> bool:
    """Whether the request asks to stay local (``X-BRB-Local-Only: 1``)."""
    return headers.get(LOCAL_ONLY_HEADER, "").strip().lower() in ("1", "true", "yes")


class Router:
    def __init__(self, cfg: BrbConfig) -> None:
        self.cfg = cfg
        self.sessions = SessionFilter(
            cfg.excluded_sessions, case_insensitive=cfg.session_match == "case_insensitive"
        )
        self.rules = cfg.rule_set()
        self.policy = Policy(cfg.policy)
        # read per request: from the config once (it does not change while serving)
        self._is_enabled = cfg.enabled
        self._require_session = cfg.require_session
        self._wait_threshold_s = cfg.thresholds.wait_time_seconds
        self._depth_threshold = cfg.thresholds.queue_depth

    def route(
        self,
        endpoint: str,
        body: Mapping[str, Any],
        conv: Conversation | None,
        *,
        sessions: Sequence[str],
        headers: Mapping[str, str],
        state: RouteState,
    ) -> Decision:
        """Where this request goes now. ``sessions`` are the values of every copy of the
        session header (one excluded value keeps it local; rules match the first);
        ``headers`` must look names up case-insensitively (aiohttp's do) or be in lower
        case. ``conv``: the body's conversation, read here when a rule needs it and
        it was not given."""
        verdict = None
        if self.rules.rules:
            facts = facts_of(
                self.rules,
                conv if conv is not None else read_conversation(endpoint, body),
                model=str(body.get("model", "")),
                endpoint=endpoint,
                session=sessions[0] if sessions else "",
                headers=headers,
            )
            verdict = self.rules.first_match(facts)
        is_excluded_session = bool(sessions) and self.sessions.is_any_excluded(sessions)
        is_session_missing = self._require_session and not sessions
        cost_bounded = endpoint != ANTHROPIC_MESSAGES or is_cost_bounded(dict(body))
        return decide(
            # positional, in the fields' order: a call by keywords costs twice as much
            RequestFacts(
                is_excluded_session,
                is_session_missing,
                is_local_only(headers),
                cost_bounded,
                state.has_provider,
                state.is_model_priced,
            ),
            is_enabled=self._is_enabled,
            mode=state.mode,
            phase=state.phase,
            policy=self.policy,
            predicted_wait_s=state.predicted_wait_s,
            wait_threshold_s=self._wait_threshold_s,
            would_queue=state.would_queue,
            queue_depth=state.queue_depth,
            queue_depth_threshold=self._depth_threshold,
            rule=verdict,
        )
