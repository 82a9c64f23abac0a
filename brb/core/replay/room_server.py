"""The simulated local server behind brb's waiting room: one upstream, its models' queues.

Owns, for the replay, what the daemon's local leg owns live: one
:class:`~brb.core.waiting_room.UpstreamQueue` per model (its slots, what was
sent, who waits in brb) and the upstream's
:class:`~brb.core.service_model.ServiceModel`, which learns from each
completion what Ollama's final object would have said (the trace's split
when it has one, else its measured service time and token counts). The
decisions are the waiting room's own; this module only holds the state.
Must not decide routing or touch money: the simulator does that.
"""

from __future__ import annotations

from brb.core.breaker import Observation
from brb.core.replay.trace import TraceRecord
from brb.core.service_model import RequestShape, ServiceFigures, ServiceModel
from brb.core.waiting_room import RoomRules, UpstreamQueue


def shape_of(record: TraceRecord) -> RequestShape:
    return RequestShape(record.prompt_tokens, record.max_output_tokens)


def figures_of(record: TraceRecord, service_s: float, cold_s: float = 0.0) -> ServiceFigures:
    """What Ollama's final object would have said about ``record`` (served
    after loading its model for ``cold_s`` seconds, when that is not 0)."""
    return ServiceFigures(
        prompt_tokens=record.prompt_tokens,
        output_tokens=record.output_tokens,
        prompt_eval_s=record.prompt_eval_s,
        eval_s=record.eval_s,
        load_s=cold_s if cold_s else record.load_s,
        measured_s=service_s + cold_s if cold_s else service_s,
    )


class RoomServer:
    """One upstream's models, each with its slots and waiting room."""

    __slots__ = ("model", "queues", "rules", "slots")

    def __init__(self, slots: int, rules: RoomRules) -> None:
        self.slots = slots
        self.rules = rules
        self.model = ServiceModel()
        self.queues: dict[str, UpstreamQueue] = {}

    def queue(self, model: str) -> UpstreamQueue:
        q = self.queues.get(model)
        if q is None:
            q = self.queues[model] = UpstreamQueue(self.slots, self.model.rates(model), self.rules)
        return q

    @property
    def is_idle(self) -> bool:
        return all(q.is_idle for q in self.queues.values())

    def learn(self, record: TraceRecord, service_s: float, *, cold_s: float = 0.0) -> None:
        self.model.learn(record.model, figures_of(record, service_s, cold_s))

    def observation(self, t: float) -> Observation:
        """The breaker's input: requests waiting in brb across models, and the worst wait."""
        return Observation.across(q.observation(t) for q in self.queues.values())
