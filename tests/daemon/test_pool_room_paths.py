"""The pool's room takes shortcuts on the common path; they decide as the general one.

With one upstream up, :meth:`PoolRoom.best` skips the offers and
:func:`brb.core.placement.choose` (one offer always wins): on any queue state,
cold load or not, it names the same member with the same figures as the offers
do. The moves look only through the seats given a ``Held`` (not every request in
flight): through any run of arrivals, ends, departures and members going down
and up, :meth:`PoolRoom.waiting` lists exactly the seats a scan of every seat
finds waiting, oldest first. A request the room sends at once never waits, so
its turn arms no guard against its client leaving; one that waits is guarded,
and a client already gone takes no seat. The front's look-up of one model's
learned rates (the upstream that has seen the most of its replies) agrees with
the pool's table of every model.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brb.adapters.ollama_upstream import OllamaUpstream
from brb.config_views import UpstreamSpec
from brb.core.service_model import RequestShape, ServiceFigures, ServiceModel
from brb.core.waiting_room import RoomRules, Verdict, Waiter
from brb.daemon.connections import ClientConnection, ClientWatch
from brb.daemon.local_queue import LocalQueue
from brb.daemon.pool import Member, UpstreamPool
from brb.daemon.pool_room import PoolRoom, _PoolModels, _Seat
from brb.daemon.room_turn import RoomTurns, Turn
from brb.errors import ClientGone

MODEL = "llama3"
NO_UPSTREAM = cast(OllamaUpstream, object())  # the room never talks to it


def member(name: str, slots: int, rules: RoomRules, clock: list[float]) -> Member:
    room = LocalQueue(slots=slots, rules=rules, clock=lambda: clock[0])
    return Member(UpstreamSpec(name, f"http://127.0.0.1/{name}", slots), NO_UPSTREAM, room)


shapes = st.builds(
    RequestShape,
    st.integers(0, 4000),
    st.one_of(st.none(), st.integers(1, 2000)),
)
figures = st.builds(
    ServiceFigures,
    st.integers(1, 4000),
    st.integers(0, 2000),
    st.floats(0.001, 5.0),
    st.floats(0.001, 60.0),
    st.floats(0.0, 20.0),
    st.none(),
    st.one_of(st.none(), st.floats(0.0, 2.0)),
)


@given(
    slots=st.integers(1, 4),
    threshold=st.floats(0.5, 120.0),
    learned=st.lists(figures, max_size=5),
    sent=st.lists(st.tuples(shapes, st.floats(0.0, 30.0), st.integers(0, 300)), max_size=6),
    waiting=st.lists(st.tuples(shapes, st.floats(0.0, 30.0)), max_size=4),
    loaded=st.sampled_from([None, frozenset(), frozenset({MODEL}), frozenset({"other"})]),
    shape=shapes,
)
def test_one_upstream_up_best_agrees_with_the_offers(
    slots: int,
    threshold: float,
    learned: list[ServiceFigures],
    sent: list[tuple[RequestShape, float, int]],
    waiting: list[tuple[RequestShape, float]],
    loaded: frozenset[str] | None,
    shape: RequestShape,
) -> None:
    now = 30.0
    clock = [now]
    rules = RoomRules(threshold, 0.2, probe_every_s=10.0)
    only = member("gpu", slots, rules, clock)
    only.loaded = loaded
    down = member("down", 1, rules, clock)
    down.healthy = False
    pool_room = PoolRoom(UpstreamPool([only, down]), clock=lambda: clock[0])
    room = only.room
    assert room is not None
    for f in learned:
        room.model.learn(MODEL, f)
    q = room.queue(MODEL)
    for key, (s, at, tokens) in enumerate(sent, start=1):
        q.mark_sent(key, at, s)
        q.progress(key, tokens)
    for key, (s, at) in enumerate(sorted(waiting, key=lambda w: w[1]), start=100):
        q.arrive(Waiter(key, at, s))
    rooms = pool_room._rooms()
    assert [m for m, _ in rooms] == [only]
    assert pool_room.best(MODEL, shape, now) == PoolRoom._offered(rooms, MODEL, shape, now)


def scanned(room: PoolRoom, model: str | None) -> list[_Seat]:
    """What :meth:`PoolRoom.waiting` lists, by a scan of every seat (the old way)."""
    seats = [
        s for s in room._seats.values() if s.is_waiting and (model is None or s.model == model)
    ]
    return sorted(seats, key=lambda s: s.held.arrived_s if s.held else 0.0)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("arrive"), st.sampled_from([MODEL, "other"]), st.floats(0.0, 1.0)),
        st.tuples(st.just("end"), st.integers(0, 20), st.floats(0.0, 1.0)),
        st.tuples(st.just("leave"), st.integers(0, 20), st.floats(0.0, 1.0)),
        st.tuples(st.just("mark"), st.integers(0, 1), st.floats(0.0, 1.0)),
    ),
    max_size=30,
)


@given(steps=steps)
def test_the_seats_the_moves_look_through_are_every_waiting_one(
    steps: list[tuple[str, object, float]],
) -> None:
    async def run() -> None:
        clock = [0.0]
        rules = RoomRules(1e6, 0.2)  # no deadline falls due: only sends and moves
        members = [member("gpu-a", 1, rules, clock), member("gpu-b", 2, rules, clock)]
        pool = UpstreamPool(members)
        room = PoolRoom(pool, clock=lambda: clock[0])
        turns: list[tuple[str, asyncio.Task[tuple[int, Verdict]]]] = []
        for kind, what, dt in steps:
            clock[0] += dt
            if kind == "arrive":
                model = str(what)
                turns.append(
                    (
                        model,
                        asyncio.create_task(
                            room.turn(
                                model,
                                RequestShape(10),
                                clock[0],
                                is_divertible=False,
                                may_divert=lambda: False,
                            )
                        ),
                    )
                )
            elif kind == "end" and turns:  # a request sent ends
                sent = [t for t in turns if t[1].done() and not t[1].cancelled()]
                if sent:
                    model, task = sent[int(str(what)) % len(sent)]
                    turns.remove((model, task))
                    room.done(model, task.result()[0], None)
            elif kind == "leave" and turns:  # a client goes away while it waits
                waiting = [t for t in turns if not t[1].done()]
                if waiting:
                    model, task = waiting[int(str(what)) % len(waiting)]
                    task.cancel()
                    turns.remove((model, task))
            elif kind == "mark":
                m = members[int(str(what))]
                pool.mark(m, not m.healthy)
            for _ in range(3):
                await asyncio.sleep(0)
            for model in (MODEL, "other", None):
                assert room.waiting(model) == scanned(room, model)
            assert set(room._held) <= set(room._seats)
        for _, task in turns:
            task.cancel()
        await asyncio.gather(*(t for _, t in turns), return_exceptions=True)
        room.close()

    asyncio.run(run())


class Connection(ClientConnection):
    """The front's protocol for one client, only as far as the guard reads it; it
    counts the guards armed on it."""

    armed = 0

    def watch(self, watch: ClientWatch) -> None:
        self.armed += 1
        super().watch(watch)


def connection(*, gone: bool) -> Connection:
    c = Connection.__new__(Connection)
    c.transport = None if gone else cast(Any, object())
    c._watches = []
    return c


def test_only_a_turn_that_waits_is_guarded_and_a_client_gone_takes_no_seat() -> None:
    async def run() -> None:
        clock = [0.0]
        only = member("gpu", 1, RoomRules(1e6, 0.2), clock)
        room = PoolRoom(UpstreamPool([only]), clock=lambda: clock[0])
        turns = RoomTurns.__new__(RoomTurns)
        turns.local = cast(Any, SimpleNamespace(room=room))
        turns.may_leave = lambda *_: False  # type: ignore[method-assign]
        turn = Turn("/api/chat", {"model": MODEL}, b"", cast(Any, None), "", RequestShape(10),
                    0.0, {}, [])  # fmt: skip
        q = only.room.queue(MODEL) if only.room is not None else None
        assert q is not None

        def request(conn: Connection) -> Any:
            return SimpleNamespace(protocol=conn, path="/api/chat")

        first = connection(gone=False)
        seat, verdict = await turns._turn(request(first), turn, False)  # a free slot
        assert verdict is Verdict.SEND and room.member_of(seat) is only
        assert first.armed == 0  # no guard was armed

        second = connection(gone=False)
        waiting = asyncio.create_task(turns._turn(request(second), turn, False))
        await asyncio.sleep(0)
        assert not waiting.done() and second.armed == 1  # it waits, guarded
        second.transport = None
        for watch in list(second._watches):  # its client leaves
            watch.leave()
        with pytest.raises(ClientGone):
            await waiting
        assert not q.waiting and room.waiting() == []

        room.done(MODEL, seat, None)  # the slot is free again
        with pytest.raises(ClientGone):  # a client already gone: no seat taken
            await turns._turn(request(connection(gone=True)), turn, False)
        assert not q.sent and not room._seats
        room.close()

    asyncio.run(run())


@given(
    learned=st.lists(
        st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 50)), max_size=8),
        min_size=1,
        max_size=3,
    )
)
def test_one_models_rates_are_the_pools_tables(learned: list[list[tuple[str, int]]]) -> None:
    services = []
    for replies in learned:  # one upstream each: (model, a reply's length) learned
        service = ServiceModel()
        for model, tokens in replies:
            service.learn(model, ServiceFigures(10, tokens, 0.01, 0.1, 0.0))
        services.append(service)
    pool = _PoolModels(services)
    table = pool.models()
    for model in ("a", "b", "c", "unseen"):
        assert pool.get(model) is table.get(model)


@given(names=st.lists(st.sampled_from("abcdef"), max_size=40), bound=st.integers(1, 4))
def test_an_answer_teaches_the_service_model_its_queue_reads(names: list[str], bound: int) -> None:
    """An answer's figures are learned through its queue's rates: those are the
    service model's for the model, however many names come and go past the bound."""

    async def run() -> None:
        room = LocalQueue(slots=2, rules=RoomRules(1e6, 0.2), max_models=bound)
        for name in names:
            key, verdict = await room.turn(
                name, RequestShape(10), 0.0, is_divertible=False, may_divert=lambda: False
            )
            assert verdict is Verdict.SEND
            learned = room.model.rates(name).learned
            room.done(name, key, ServiceFigures(10, 5, 0.1, 0.2, 0.0))
            known = room.model.known(name)
            assert known is not None and known.learned == learned + 1
            for model, q in room.queues.items():
                assert q.rates is room.model.known(model)
        room.close()

    asyncio.run(run())
