"""The pool's waiting rooms seen as one: where a waiting request waits, and where it goes.

Owns :class:`PoolRoom`, what the front and the local leg call (the calls of one
room), so the breaker and the overflow policy see the pool: a request waits
only when no upstream can start it at once, and is diverted only when none can
start it in time. A request arriving waits in the room of the healthy member
where it would start soonest (least predicted wait, a cold load costing the
learned load time), but it is not pinned there:

- when a member frees a slot for a model and no one waits for that model in its
  own room, the oldest request for that model waiting in another member's room
  moves to it and is sent: a waiting request goes to whichever upstream frees a
  slot for its model first;
- when a member is marked down, every request waiting in its room moves at once
  to the healthy member where it would start soonest (none is lost; each keeps
  its arrival time, so its place and its deadline stand);
- when a member comes back, requests waiting elsewhere move to it while it has
  free slots and starting there (its cold load included) beats their wait.

A request already sent is never moved (the relay retries one that an upstream
refused before any byte was relayed). Must not do I/O or talk to anyone: the
relay sends, the front diverts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from brb.core.breaker import Observation
from brb.core.placement import Offer, choose
from brb.core.pool_observation import pool_observation
from brb.core.service_model import ModelRates, RequestShape, ServiceFigures, ServiceModel
from brb.core.waiting_room import Verdict
from brb.daemon.local_queue import Held, LocalQueue
from brb.daemon.pool import Member, UpstreamPool

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Seat:
    """Where one request is now: the member whose room holds it and its key there."""

    member: Member
    key: int
    model: str
    held: Held | None = None  # while it waits in a room (None: sent at once)

    @property
    def is_waiting(self) -> bool:
        return self.held is not None and not self.held.future.done()


class _PoolModels:
    """Each model's rates from the upstream that has seen the most of its replies."""

    def __init__(self, models: Sequence[ServiceModel]) -> None:
        self._models = models

    def models(self) -> dict[str, ModelRates]:
        if len(self._models) == 1:  # one upstream: nothing to compare
            return self._models[0].models()
        out: dict[str, ModelRates] = {}
        for service in self._models:
            for name, rates in service.models().items():
                if name not in out or len(rates.replies) > len(out[name].replies):
                    out[name] = rates
        return out

    def get(self, model: str) -> ModelRates | None:
        """``models().get(model)`` without building every model's (the front asks
        for one model's reply lengths on every priced request)."""
        found: ModelRates | None = None
        for service in self._models:
            rates = service.known(model)
            if rates is not None and (found is None or len(rates.replies) > len(found.replies)):
                found = rates
        return found


class PoolRoom:
    """The pool's waiting rooms seen as one; a seat key names a request's place."""

    def __init__(self, pool: UpstreamPool, clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.clock = clock
        self._seats: dict[int, _Seat] = {}
        # the seats given a Held (waiting, or their verdict not read yet), in seat order:
        # what the moves look through, so a request ending reads no other seat
        self._held: dict[int, _Seat] = {}
        self._next = 0
        self.moves = 0  # requests moved from one member's room to another's
        self._healthy: list[Member] | None = None  # the pool's healthy list _rooms was built from
        self._rooms_kept: list[tuple[Member, LocalQueue]] = []
        # the members (and their rooms) are the pool's for good: one view of their models
        self._models = _PoolModels([m.room.model for m in pool.members if m.room is not None])
        pool.watchers.append(self._health_changed)

    @property
    def model(self) -> _PoolModels:
        """What the pool has learned of each model (the front reads reply lengths)."""
        return self._models

    def _rooms(self) -> list[tuple[Member, LocalQueue]]:
        """The healthy members' rooms: kept, rebuilt only when the pool's healthy list
        is a new one (it changes only when a member is marked; read it, don't change it)."""
        healthy = self.pool.healthy
        if healthy is not self._healthy:
            self._rooms_kept = [(m, m.room) for m in healthy if m.room is not None]
            self._healthy = healthy
        return self._rooms_kept

    def best(
        self, model: str, shape: RequestShape, now: float
    ) -> tuple[Member, tuple[bool, float, float]]:
        """The member where a request arriving now would start soonest, and its
        arrival figures there (would wait, earliest start, typical start)."""
        rooms = self._rooms()
        if len(rooms) == 1:  # one upstream up: nothing to compare (placement.choose agrees)
            member, room = rooms[0]
            would_wait, earliest, typical = room.arrival(model, shape, now)
            cold = member.cold_s(model)
            if cold:  # as Offer.figures
                return member, (would_wait, earliest + cold, typical + cold)
            return member, (would_wait, earliest, typical)
        return self._offered(rooms, model, shape, now)

    @staticmethod
    def _offered(
        rooms: Sequence[tuple[Member, LocalQueue]], model: str, shape: RequestShape, now: float
    ) -> tuple[Member, tuple[bool, float, float]]:
        """:meth:`best` by each room's offer (the general case: several upstreams up)."""
        offers = []
        for member, room in rooms:
            would_wait, earliest, typical = room.arrival(model, shape, now)
            q = room.queue(model)
            busy = len(q.sent) / q.slots
            offers.append(Offer(would_wait, earliest, typical, member.cold_s(model), busy))
        i = choose(offers)  # brb.core.placement: the rule the replay's pool applies too
        return rooms[i][0], offers[i].figures

    def arrival(self, model: str, shape: RequestShape, now: float) -> tuple[bool, float, float]:
        return self.best(model, shape, now)[1]

    def observation(self, now: float) -> Observation:
        """The breaker's input: the pool's queue (brb.core.pool_observation), so a
        busy upstream beside an idle one is not overload."""
        rooms = self._rooms()
        if len(rooms) == 1:
            return rooms[0][1].observation(now)
        return pool_observation([(room.queues, member.cold_s) for member, room in rooms], now)

    # --- a request's turn ----------------------------------------------------------------

    async def turn(
        self,
        model: str,
        shape: RequestShape,
        arrived_s: float,
        *,
        is_divertible: bool,
        may_divert: Callable[[], bool],
    ) -> tuple[int, Verdict]:
        """Wait until the request is sent (``SEND``: it holds a slot on the member
        :meth:`member_of` names until :meth:`done`) or must go (a divert verdict).
        A client that goes away while waiting leaves the room it is in."""
        member, seat = self.place(model, shape, arrived_s)
        if seat is not None:
            return seat, Verdict.SEND
        return await self.wait(
            member, model, shape, arrived_s, is_divertible=is_divertible, may_divert=may_divert
        )

    def place(self, model: str, shape: RequestShape, arrived_s: float) -> tuple[Member, int | None]:
        """The first half of :meth:`turn`, which never waits: the member whose room
        takes a request arriving now, and its seat when that room sends it at once
        (it holds a slot until :meth:`done`); None: it must :meth:`wait` there."""
        rooms = self._rooms()
        if len(rooms) == 1:  # one upstream up: it is the best (no figures needed)
            member = rooms[0][0]
        else:
            member, _ = self.best(model, shape, self.clock())
        room = member.room
        assert room is not None
        key = room.admit(model, shape, arrived_s)
        return member, None if key is None else self._add(_Seat(member, key, model))

    async def wait(
        self,
        member: Member,
        model: str,
        shape: RequestShape,
        arrived_s: float,
        *,
        is_divertible: bool,
        may_divert: Callable[[], bool],
    ) -> tuple[int, Verdict]:
        """The second half of :meth:`turn`: wait in ``member``'s room (the one
        :meth:`place` named) until the request is sent or must go."""
        room = member.room
        assert room is not None
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        held = Held(arrived_s, shape, is_divertible, future, may_divert)
        seat = _Seat(member, 0, model, held)
        seat_id = self._add(seat)
        self._held[seat_id] = seat
        seat.key = room.wait(model, held)
        try:
            verdict = await future
        except asyncio.CancelledError:
            self._seats.pop(seat_id, None)
            self._held.pop(seat_id, None)
            if seat.member.room is not None:
                seat.member.room.leave(model, seat.key, future)
            raise
        seat.held = None
        del self._held[seat_id]
        if verdict is not Verdict.SEND:
            self._seats.pop(seat_id, None)
        return seat_id, verdict

    def _add(self, seat: _Seat) -> int:
        self._next += 1
        self._seats[self._next] = seat
        return self._next

    def member_of(self, seat: int) -> Member:
        return self._seats[seat].member

    def progress(self, model: str, seat: int, output_tokens: int) -> None:
        s = self._seats.get(seat)
        if s is not None and s.member.room is not None:
            s.member.room.progress(model, s.key, output_tokens)

    def done(self, model: str, seat: int, figures: ServiceFigures | None) -> None:
        """A sent request ended: its slot is free, and the oldest request for its model
        waiting on another member takes it if none waits here."""
        s = self._seats.pop(seat, None)
        if s is not None and s.member.room is not None:
            s.member.room.done(model, s.key, figures)
            self._pull(s.member, model, is_loaded=True)

    # --- moves -----------------------------------------------------------------------------

    def waiting(self, model: str | None = None) -> list[_Seat]:
        """The requests waiting in any member's room (for ``model``), oldest first."""
        if not self._held:  # nobody waits (the common case): no list to sort
            return []
        seats = [
            s for s in self._held.values() if s.is_waiting and (model is None or s.model == model)
        ]
        return sorted(seats, key=lambda s: s.held.arrived_s if s.held else 0.0)

    def _move(self, seat: _Seat, target: Member) -> bool:
        """Take a waiting request out of its room into ``target``'s (it keeps its
        arrival time); False when it has had its verdict meanwhile."""
        source, room = seat.member.room, target.room
        held = source.withdraw(seat.model, seat.key) if source is not None else None
        if held is None or room is None:
            return False
        log.debug("a waiting %s request moves from %s to %s", seat.model, seat.member.name,
                  target.name)  # fmt: skip
        seat.member = target
        seat.key = room.wait(seat.model, held)
        self.moves += 1
        return True

    def _pull(self, member: Member, model: str, *, is_loaded: bool) -> None:
        """While ``member`` has a free slot for ``model`` and no one waiting for it,
        bring it the oldest request for ``model`` waiting on another member (with
        ``is_loaded`` false, only if starting here, cold load included, is sooner
        than the first slot freeing where it waits)."""
        room = member.room
        if room is None or not member.healthy or not self._held:
            return  # (nobody waits anywhere: the common case, nothing to read)
        q = room.queue(model)
        for _ in range(len(self._seats)):  # bounded: each pass moves one request
            if not q.has_free_slot or q.waiting:
                return
            seat = next((s for s in self.waiting(model) if s.member is not member), None)
            if seat is None or seat.member.room is None:
                return
            if not is_loaded:
                where = seat.member.room.queue(model).free_at_s(self.clock(), 0.5)[0]
                if member.cold_s(model) >= where:
                    return
            if not self._move(seat, member):
                return

    def _health_changed(self, member: Member) -> None:
        """A member went down: its waiting requests move at once. It came back:
        requests waiting elsewhere may move to it."""
        if member.healthy:
            for model in {s.model for s in self.waiting()}:
                self._pull(member, model, is_loaded=False)
            return
        if not any(m.healthy for m in self.pool.members):
            return  # nowhere better: they wait where they are (the relay will tell)
        now = self.clock()
        for seat in [s for s in self.waiting() if s.member is member]:
            assert seat.held is not None
            target, _ = self.best(seat.model, seat.held.shape, now)
            if target is not member:
                self._move(seat, target)

    def learn_first_content(self, seconds: float) -> None:
        for m in self.pool.members:
            if m.room is not None:
                m.room.learn_first_content(seconds)

    def close(self) -> None:
        for m in self.pool.members:
            if m.room is not None:
                m.room.close()
