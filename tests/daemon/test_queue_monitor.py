"""brb.daemon.queue_monitor: the arrival and the breaker's observation,
worked out without building views, are exactly what the views say."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.queueing import observe, with_arrival
from brb.daemon.queue_monitor import QueueMonitor

MODELS = ("a", "b")
# (operation, model, pick, seconds later): pick chooses which open ticket.
OPS = st.lists(
    st.tuples(
        st.sampled_from(("arrive", "arrive", "first_byte", "done", "done_reported", "abandon")),
        st.sampled_from(MODELS),
        st.integers(0, 1000),
        st.floats(0, 3),
    ),
    max_size=60,
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(ops=OPS, slots=st.integers(1, 4), probe_later=st.floats(0, 5))
def test_wait_facts_and_arrival_match_the_views(
    ops: list[tuple[str, str, int, float]], slots: int, probe_later: float
) -> None:
    monitor = QueueMonitor(slots=slots)
    open_tickets: dict[str, list[int]] = {m: [] for m in MODELS}
    now = 100.0
    for op, model, pick, later in ops:
        now += later
        tickets = open_tickets[model]
        if op == "arrive":
            tickets.append(monitor.arrive(model, now))
            continue
        if not tickets:
            continue
        ticket = tickets[pick % len(tickets)]
        if op == "first_byte":
            monitor.first_byte(ticket, model, now)
            continue
        tickets.remove(ticket)
        if op == "abandon":
            monitor.abandon(ticket, model)
        else:
            service = later / 2 if op == "done_reported" else None
            monitor.done(ticket, model, now, service_s=service)

        probe = now + probe_later
        views = monitor.views(probe)
        for m, q in monitor._models.items():
            v = views[m]
            assert q.wait_facts(probe) == (v.waiting, v.oldest_wait_s, v.predicted_wait_s())
        busy = [v for m, v in views.items() if not monitor._models[m].has_free_slot]
        assert monitor.observation(probe) == observe(busy)
        for m in MODELS:
            mine = views.get(m)
            queues = mine is not None and not monitor._models[m].has_free_slot
            predicted = mine.predicted_wait_s() if queues and mine is not None else 0.0
            expected = (
                queues,
                predicted,
                with_arrival(observe(busy), predicted, would_queue=queues),
            )
            assert monitor.arrival(m, probe) == expected
