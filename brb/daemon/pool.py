"""The upstream pool: every Ollama server brb sits in front of, and which one serves.

Owns the pool's members (each an :class:`~brb.adapters.ollama_upstream.OllamaUpstream`
with its own waiting room, :class:`~brb.daemon.local_queue.LocalQueue`, so one
queue model per upstream and model), their health (down at once when one
refuses a connection or times out; readmitted when a probe answers) and the
models each has loaded (its ``/api/ps``, polled with the probe), and the one
choice: an inference request goes to the healthy upstream where it would start
soonest (least predicted wait; a cold load costs the learned load time).
:class:`PoolRoom` shows the front the pool as one waiting room (the same calls
as a :class:`LocalQueue`), so the breaker and the overflow policy see the pool:
a request waits only when no upstream can start it at once, and is diverted only
when none can start it in time. Must not route or talk to the cloud, and holds
no HTTP server: the front and the local leg do that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from brb.adapters.ollama_upstream import OllamaUpstream
from brb.config_views import UpstreamSpec
from brb.core.breaker import Observation
from brb.core.redaction import redact_url
from brb.core.service_model import ModelRates, RequestShape, ServiceFigures, ServiceModel
from brb.core.waiting_room import Verdict
from brb.daemon.local_queue import LocalQueue

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Member:
    """One upstream of the pool and what brb knows of it now."""

    spec: UpstreamSpec
    upstream: OllamaUpstream
    room: LocalQueue | None
    healthy: bool = True
    loaded: frozenset[str] | None = None  # models in memory (/api/ps); None: not polled yet
    in_flight: int = 0  # requests brb has sent it that have not ended

    @property
    def name(self) -> str:
        return self.spec.name

    def cold_s(self, model: str) -> float:
        """What loading ``model`` first would add to a start here (the learned load)."""
        if self.loaded is None or self.room is None:
            return 0.0
        if model in self.loaded or f"{model}:latest" in self.loaded:
            return 0.0
        return self.room.model.peek(model).expected_load_s

    def predicted_wait_s(self, now: float) -> float:
        """When a small request of the busiest model here would start, seconds from now
        (0: a slot is free for every model brb has sent it)."""
        if self.room is None:
            return 0.0
        waits = [
            q.predicted_start_s(RequestShape(), now)
            for q in self.room.queues.values()
            if q.waiting or not q.has_free_slot
        ]
        return max(waits, default=0.0)

    def report(self, now: float) -> dict[str, object]:
        """This member as ``status`` shows it."""
        return {
            "name": self.name,
            "url": redact_url(self.spec.url),
            "healthy": self.healthy,
            "models_loaded": None if self.loaded is None else sorted(self.loaded),
            "queue_depth": self.queue_depth(),
            "in_flight": self.in_flight,
            "predicted_wait_s": round(self.predicted_wait_s(now), 3),
        }

    def queue_depth(self) -> int:
        if self.room is None:
            return max(0, self.in_flight - self.spec.parallel)
        return sum(len(q.waiting) for q in self.room.queues.values())


@dataclass(slots=True)
class _Seat:
    member: Member
    key: int


class UpstreamPool:
    """The members in config order; health and loaded models kept up to date."""

    def __init__(
        self,
        members: Sequence[Member],
        *,
        on_change: Callable[[Member], None] = lambda member: None,
        on_models: Callable[[Member], None] = lambda member: None,
    ) -> None:
        self.members = list(members)
        self.on_change = on_change  # a member went down or came back up
        self.on_models = on_models  # a probe found other models loaded on a member
        self.by_name = {m.name: m for m in self.members}
        # what status shows, computed on the loop (the status snapshot runs on a thread)
        self.reports: list[dict[str, object]] = []
        self.refresh()

    def refresh(self) -> list[dict[str, object]]:
        """Recompute :attr:`reports` now (on the event loop)."""
        now = time.monotonic()
        self.reports = [m.report(now) for m in self.members]
        return self.reports

    @property
    def healthy(self) -> list[Member]:
        """The members that may take a request (all of them when none is healthy:
        trying one beats refusing the request outright)."""
        return [m for m in self.members if m.healthy] or self.members

    def first(self) -> Member:
        """Where a non-inference request goes: the first healthy member."""
        return self.healthy[0]

    def least_busy(self, model: str) -> Member:
        """Without waiting rooms: the healthy member with the most free slots,
        the model already loaded breaking ties, config order after that."""
        return min(
            self.healthy,
            key=lambda m: (m.in_flight / m.spec.parallel, m.cold_s(model) > 0),
        )

    def mark(self, member: Member, healthy: bool) -> None:
        if member.healthy != healthy:
            member.healthy = healthy
            log.warning("upstream %s (%s) is %s", member.name, redact_url(member.spec.url),
                        "up again" if healthy else "down")  # fmt: skip
            self.on_change(member)
            self.refresh()

    async def probe(self, member: Member, timeout_s: float) -> None:
        """Ask one member for its loaded models: an answer readmits it, none marks it down."""
        url = member.upstream.base_url + "/api/ps"
        try:
            async with member.upstream.session.get(
                url, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as r:
                data = await r.json(content_type=None) if r.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            self.mark(member, False)
            return
        if isinstance(data, dict) and isinstance(data.get("models"), list):
            loaded = frozenset(
                str(m.get("name") or m.get("model"))
                for m in data["models"]
                if isinstance(m, dict) and (m.get("name") or m.get("model"))
            )
            if loaded != member.loaded:
                member.loaded = loaded
                self.on_models(member)
        self.mark(member, True)

    async def watch(self, every_s: float) -> None:
        """Probe every member every ``every_s`` seconds, until cancelled."""
        while True:
            await asyncio.gather(
                *(self.probe(m, max(0.2, min(every_s, 3.0))) for m in self.members)
            )
            self.refresh()
            await asyncio.sleep(every_s)

    async def close(self) -> None:
        for m in self.members:
            if m.room is not None:
                m.room.close()
            await m.upstream.close()


class _PoolModels:
    """Each model's rates from the upstream that has seen the most of its replies."""

    def __init__(self, models: Sequence[ServiceModel]) -> None:
        self._models = models

    def models(self) -> dict[str, ModelRates]:
        out: dict[str, ModelRates] = {}
        for service in self._models:
            for name, rates in service.models().items():
                if name not in out or len(rates.replies) > len(out[name].replies):
                    out[name] = rates
        return out


class PoolRoom:
    """The pool's waiting rooms seen as one (what the front and the local leg call).

    A request waits in the room of the member where it would start soonest; a
    seat key names the member and its key in that room."""

    def __init__(self, pool: UpstreamPool, clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.clock = clock
        self._seats: dict[int, _Seat] = {}
        self._next = 0

    @property
    def model(self) -> _PoolModels:
        """What the pool has learned of each model (the front reads reply lengths)."""
        return _PoolModels([m.room.model for m in self.pool.members if m.room is not None])

    def _rooms(self) -> list[tuple[Member, LocalQueue]]:
        return [(m, m.room) for m in self.pool.healthy if m.room is not None]

    def best(
        self, model: str, shape: RequestShape, now: float
    ) -> tuple[Member, tuple[bool, float, float]]:
        """The member where a request arriving now would start soonest, and its
        arrival figures there (would wait, earliest start, typical start)."""
        best: tuple[float, float, int, Member, tuple[bool, float, float]] | None = None
        for i, (member, room) in enumerate(self._rooms()):
            would_wait, earliest, typical = room.arrival(model, shape, now)
            cold = member.cold_s(model)
            score = (earliest if would_wait else 0.0) + cold
            figures = (
                (would_wait, earliest + cold, typical + cold)
                if cold
                else (would_wait, earliest, typical)
            )
            q = room.queue(model)
            busy = len(q.sent) / q.slots  # a tie goes to the less busy one, then config order
            if best is None or (score, busy, i) < best[:3]:
                best = (score, busy, i, member, figures)
        assert best is not None, "a pool has at least one member with a room"
        return best[3], best[4]

    def arrival(self, model: str, shape: RequestShape, now: float) -> tuple[bool, float, float]:
        return self.best(model, shape, now)[1]

    def observation(self, now: float) -> Observation:
        return Observation.across(room.observation(now) for _, room in self._rooms())

    async def turn(
        self,
        model: str,
        shape: RequestShape,
        arrived_s: float,
        *,
        is_divertible: bool,
        may_divert: Callable[[], bool],
    ) -> tuple[int, Verdict]:
        member, _ = self.best(model, shape, self.clock())
        assert member.room is not None
        key, verdict = await member.room.turn(
            model, shape, arrived_s, is_divertible=is_divertible, may_divert=may_divert
        )
        if verdict is not Verdict.SEND:
            return key, verdict
        self._next += 1
        self._seats[self._next] = _Seat(member, key)
        return self._next, verdict

    def member_of(self, seat: int) -> Member:
        return self._seats[seat].member

    def progress(self, model: str, seat: int, output_tokens: int) -> None:
        s = self._seats.get(seat)
        if s is not None and s.member.room is not None:
            s.member.room.progress(model, s.key, output_tokens)

    def done(self, model: str, seat: int, figures: ServiceFigures | None) -> None:
        s = self._seats.pop(seat, None)
        if s is not None and s.member.room is not None:
            s.member.room.done(model, s.key, figures)

    def learn_first_content(self, seconds: float) -> None:
        for m in self.pool.members:
            if m.room is not None:
                m.room.learn_first_content(seconds)

    def close(self) -> None:
        for m in self.pool.members:
            if m.room is not None:
                m.room.close()
