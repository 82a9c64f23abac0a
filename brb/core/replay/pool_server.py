"""The simulated pool: several Ollama servers, their slots and loaded models, and which serves.

Owns, for the replay, what the daemon's upstream pool owns live
(:mod:`brb.daemon.pool`, :mod:`brb.daemon.pool_room`): the members in pool
order, each with its own waiting rooms and service model (a
:class:`~brb.core.replay.room_server.RoomServer`, with the waiting room), the
models each has loaded, where each request went, and what each served. The
member is chosen by the daemon's own rule (:func:`brb.core.placement.choose`)
on offers built as the daemon's ``PoolRoom.best`` builds them: the request
waits in the room of the member where it would start soonest, the learned
load time added where its model is not loaded; when a member frees a slot for
a model and no one waits for it there, the oldest request for that model
waiting elsewhere moves to it (``PoolRoom._pull``). The daemon also moves the
requests of a member marked down; the replay has no failures. Must not decide
routing or touch money: the simulator does that.

Loads: the first upstream starts with every model of the trace loaded (the
trace was recorded on a server that had them); the others start with none and
pay a model's load time at their first request for it: the trace's longest
``load_s`` for that model, 0 when the trace has none. A loaded model stays
loaded (Ollama's ``keep_alive`` and eviction are not modelled). As in the
daemon, placement foresees a load only through what that member has learned
of the model's load time.

Without the waiting room the pool is one FIFO per model over all its slots
(the daemon's queue monitor's view, the simulator's
:class:`~brb.core.replay.local_server.LocalModel`); a request that starts
takes a free slot for its model on the least busy member (the daemon's
``least_busy``: requests in flight per slot, the loaded model breaking ties,
then pool order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from brb.core.breaker import Observation
from brb.core.placement import Offer, choose
from brb.core.pool_observation import pool_observation
from brb.core.replay.room_server import RoomServer
from brb.core.replay.run import SimUpstream, UpstreamTally
from brb.core.replay.trace import TraceRecord
from brb.core.service_model import RequestShape
from brb.core.waiting_room import RoomRules, UpstreamQueue


@dataclass(slots=True)
class PoolMember:
    """One simulated upstream and what it has done so far."""

    spec: SimUpstream
    room: RoomServer | None
    loaded: set[str]
    in_flight: dict[str, int] = field(default_factory=dict)  # per model: sent, not done
    served: int = 0
    busy_s: float = 0.0
    cold_loads: int = 0

    def cold_s(self, model: str) -> float:
        """What loading ``model`` first would add to a start here, as far as this
        member has learned (the daemon's ``Member.cold_s``)."""
        if model in self.loaded or self.room is None:
            return 0.0
        return self.room.model.rates(model).expected_load_s

    def busy_share(self) -> float:
        return sum(self.in_flight.values()) / self.spec.parallel


class PoolServer:
    """The members of a simulated pool, in pool order."""

    def __init__(
        self,
        upstreams: Sequence[SimUpstream],
        rules: RoomRules | None,
        trace: Sequence[TraceRecord],
    ) -> None:
        if not upstreams:
            raise ValueError("a pool has at least one upstream")
        names = [u.name for u in upstreams]
        if len(set(names)) != len(names):
            raise ValueError(f"upstream names must differ in a pool: {', '.join(names)}")
        if any(u.parallel < 1 for u in upstreams):
            raise ValueError("every upstream needs at least one parallel slot")
        models = {r.model for r in trace}
        self.members = [
            PoolMember(
                u,
                None if rules is None else RoomServer(u.parallel, rules),
                set(models) if pos == 0 else set(),
            )
            for pos, u in enumerate(upstreams)
        ]
        self.load_s: dict[str, float] = {}
        for r in trace:
            if r.load_s:
                self.load_s[r.model] = max(self.load_s.get(r.model, 0.0), r.load_s)
        self.where: dict[int, int] = {}  # trace index -> the member it waited in or went to
        self.cold: dict[int, float] = {}  # trace index -> the load it paid

    # --- with the waiting room ----------------------------------------------------------

    def place(self, model: str, shape: RequestShape, t: float) -> tuple[int, float]:
        """Where a request arriving at ``t`` waits (the member's position) and the
        load time that member expects to add (0 where the model is loaded)."""
        if len(self.members) == 1:
            return 0, self.members[0].cold_s(model)
        offers = []
        for m in self.members:
            assert m.room is not None
            q = m.room.queue(model)
            cold = m.cold_s(model)
            busy = len(q.sent) / q.slots
            if q.waiting or not q.has_free_slot:
                early = q.rules.early_quantile or 0.0
                earliest = q.predicted_start_s(shape, t, early)
                offers.append(Offer(True, earliest, q.predicted_start_s(shape, t), cold, busy))
            else:
                offers.append(Offer(False, 0.0, 0.0, cold, busy))
        pos = choose(offers)
        return pos, offers[pos].cold_s

    def pull(self, pos: int, model: str) -> bool:
        """Move the oldest request for ``model`` waiting in another member's room
        to member ``pos``'s (it keeps its arrival time); False when none waits.
        The daemon's pool does this when a member frees a slot for a model and
        no one waits for it there: a waiting request goes to whichever upstream
        frees a slot for its model first."""
        oldest: tuple[float, int, UpstreamQueue] | None = None
        for other, m in enumerate(self.members):
            q = m.room.queues.get(model) if other != pos and m.room is not None else None
            if q is None:
                continue
            for w in q.waiting.values():
                if oldest is None or (w.arrived_s, w.key) < oldest[:2]:
                    oldest = (w.arrived_s, w.key, q)
                break  # a room's waiters are in arrival order: its first is its oldest
        if oldest is None:
            return False
        _, key, source = oldest
        waiter = source.waiting[key]
        source.leave(key)
        self.queue(pos, model).arrive(waiter)
        self.where[key] = pos
        return True

    def queue(self, pos: int, model: str) -> UpstreamQueue:
        room = self.members[pos].room
        assert room is not None, "a room per member with the waiting room"
        return room.queue(model)

    def observation(self, t: float) -> Observation:
        """The breaker's input: the pool's queue, as the daemon's pool sees it
        (brb.core.pool_observation)."""
        rooms = [(m.room, m.cold_s) for m in self.members if m.room is not None]
        if len(rooms) == 1:
            return rooms[0][0].observation(t)
        return pool_observation([(room.queues, cold_s) for room, cold_s in rooms], t)

    @property
    def is_idle(self) -> bool:
        return all(m.room.is_idle for m in self.members if m.room is not None)

    # --- without it ---------------------------------------------------------------------

    def take_slot(self, model: str) -> int:
        """The member a request of ``model`` starting now goes to: the least busy
        with a free slot for it (the caller's FIFO only starts one when there is)."""
        free = [
            pos for pos, m in enumerate(self.members) if m.in_flight.get(model, 0) < m.spec.parallel
        ]
        return min(
            free or range(len(self.members)),
            key=lambda pos: (
                self.members[pos].busy_share(),
                model not in self.members[pos].loaded,
                pos,
            ),
        )

    # --- both ---------------------------------------------------------------------------

    def send(self, index: int, pos: int, model: str) -> float:
        """Request ``index`` starts on member ``pos``: the load it pays first (0 if loaded)."""
        m = self.members[pos]
        self.where[index] = pos
        m.in_flight[model] = m.in_flight.get(model, 0) + 1
        if model in m.loaded:
            return 0.0
        m.loaded.add(model)
        m.cold_loads += 1
        cold = self.load_s.get(model, 0.0)
        if cold:
            self.cold[index] = cold
        return cold

    def finish(self, index: int, record: TraceRecord, busy_s: float, service_s: float) -> str:
        """Request ``index`` is done after ``busy_s`` on its slot: the member learns
        from it (with the room) and counts it; returns the member's name."""
        m = self.members[self.where[index]]
        m.in_flight[record.model] -= 1
        m.served += 1
        m.busy_s += busy_s
        if m.room is not None:
            m.room.learn(record, service_s, cold_s=self.cold.pop(index, 0.0))
        return m.spec.name

    def tallies(self) -> tuple[UpstreamTally, ...]:
        return tuple(
            UpstreamTally(m.spec.name, m.spec.parallel, m.served, m.busy_s, m.cold_loads)
            for m in self.members
        )
