"""The breaker's view of a pool: its queue, not its worst member's."""

from __future__ import annotations

from brb.core.breaker import Observation
from brb.core.pool_observation import pool_observation
from brb.core.service_model import RequestShape, ServiceModel
from brb.core.waiting_room import RoomRules, UpstreamQueue, Waiter

RULES = RoomRules(wait_threshold_s=10.0)
NOW = 1000.0


def queue(sent: int = 0, waiting: int = 0, waited_s: float = 0.0) -> UpstreamQueue:
    """One member's queue for model "m", one slot: ``sent`` in service, ``waiting`` held."""
    q = UpstreamQueue(1, ServiceModel().rates("m"), RULES)
    for key in range(sent):
        q.mark_sent(key, NOW - 1.0, RequestShape())
    for key in range(100, 100 + waiting):
        q.arrive(Waiter(key, NOW - waited_s))
    return q


def no_load(model: str) -> float:
    return 0.0


def test_a_busy_member_beside_an_idle_one_is_not_overload() -> None:
    busy = queue(sent=1, waiting=1, waited_s=2.0)
    alone = pool_observation([({"m": busy}, no_load)], NOW)
    assert alone.wait_seconds > 2.0  # one member: the waiter waits for its slot
    with_idle = pool_observation([({"m": busy}, no_load), ({}, no_load)], NOW)
    # the idle member starts the model at once: only the oldest waiter's own wait counts
    assert with_idle == Observation(queue_depth=1, wait_seconds=2.0)


def test_an_idle_member_that_must_load_the_model_adds_its_load() -> None:
    busy = queue(sent=1)
    loads = pool_observation([({"m": busy}, no_load), ({}, lambda model: 0.25)], NOW)
    assert loads == Observation(queue_depth=0, wait_seconds=0.25)


def test_two_busy_members_give_the_sooner_start_and_all_their_waiters() -> None:
    a, b = queue(sent=1, waiting=2, waited_s=1.0), queue(sent=1, waiting=1, waited_s=3.0)
    pooled = pool_observation([({"m": a}, no_load), ({"m": b}, no_load)], NOW)
    worst = Observation.across([a.observation(NOW), b.observation(NOW)])
    assert pooled.queue_depth == 3 == worst.queue_depth
    assert pooled.wait_seconds <= worst.wait_seconds
    # the oldest waiter (3 s) still waits for the first slot to free somewhere
    assert pooled.wait_seconds >= 3.0 + min(min(a.free_at_s(NOW, 0.5)), min(b.free_at_s(NOW, 0.5)))


def test_a_pool_with_nothing_busy_sees_no_queue() -> None:
    assert pool_observation([({}, no_load), ({"m": queue()}, no_load)], NOW) == Observation(0, 0.0)
