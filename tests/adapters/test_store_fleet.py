"""The fleet's shared state on both backends: each instance's heartbeat row, and
one breaker for the fleet — active from the first instance that trips to the
last that lets go — so the event log holds one incident, not one per instance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brb.adapters.store import Store
from brb.adapters.store_instances import Instance
from brb.core.breaker import BreakerState, Phase
from brb.core.incidents import TRANSITION_KINDS, incidents

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def beat(store: Store, iid: str, at: datetime, breaker: str = "standby") -> None:
    store.write_instance(
        Instance(iid, "host-" + iid, 100, "0.1.0", f"{iid}:11435", T0, at, 2.0, breaker, 3, False)
    )


def trip(store: Store, iid: str, phase: Phase, at: datetime) -> bool:
    kind = "activated" if phase is Phase.ACTIVE else "deactivated"
    return store.write_breaker(BreakerState(phase, at, f"{iid} {kind}"), at, (kind, {}),
                               instance_id=iid)  # fmt: skip


def test_instances_are_listed_and_replaced_each_beat(store: Store) -> None:
    beat(store, "a", T0)
    beat(store, "b", T0)
    beat(store, "a", T0 + timedelta(seconds=2), "active")
    a, b = store.instances()
    assert (a.id, a.host, a.heartbeat_at, a.breaker, a.queue_depth) == (
        "a", "host-a", T0 + timedelta(seconds=2), "active", 3,
    )  # fmt: skip
    assert b.heartbeat_at == T0 and b.heartbeat_interval_s == 2.0
    store.remove_instance("a")
    assert [i.id for i in store.instances()] == ["b"]


def test_the_fleet_breaker_is_active_from_the_first_trip_to_the_last_release(
    store: Store,
) -> None:
    beat(store, "a", T0)
    beat(store, "b", T0)
    assert trip(store, "a", Phase.ACTIVE, T0 + timedelta(seconds=1))
    assert not trip(store, "b", Phase.ACTIVE, T0 + timedelta(seconds=2))  # already active
    assert not trip(store, "a", Phase.STANDBY, T0 + timedelta(seconds=3))  # b still is
    assert store.read_breaker().phase is Phase.ACTIVE
    assert trip(store, "b", Phase.STANDBY, T0 + timedelta(seconds=4))  # the last lets go
    assert store.read_breaker() == BreakerState(
        Phase.STANDBY, T0 + timedelta(seconds=4), "b deactivated"
    )
    events = store.events(kinds=list(TRANSITION_KINDS))
    assert [(e.kind, e.detail["instance"]) for e in events] == [
        ("activated", "a"),
        ("deactivated", "b"),
    ]
    (one,) = incidents(events, [], now=T0 + timedelta(minutes=1))
    assert (one.start, one.end) == (T0 + timedelta(seconds=1), T0 + timedelta(seconds=4))


def test_an_instance_gone_silent_does_not_hold_the_fleet_active(store: Store) -> None:
    beat(store, "a", T0, "active")  # then crashed: no beat for more than 3 intervals
    late = T0 + timedelta(seconds=7)
    beat(store, "b", late)
    assert trip(store, "b", Phase.ACTIVE, late)
    assert trip(store, "b", Phase.STANDBY, late + timedelta(seconds=1))
    assert store.read_breaker().phase is Phase.STANDBY
