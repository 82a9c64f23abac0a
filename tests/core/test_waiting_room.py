"""brb.core.waiting_room: the plan, the three rules, and the start prediction."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.service_model import ModelRates, Prior, RequestShape, ServiceFigures
from brb.core.waiting_room import RoomRules, UpstreamQueue, Verdict, Waiter, plan

CHAT = RequestShape(prompt_tokens=0)
DOC = RequestShape(prompt_tokens=4000)


def rates() -> ModelRates:
    """Every reply 10 tokens at 0.01 s: a chat takes 0.1 s; prefill 1 ms/token: a document 4.1 s."""
    r = ModelRates(prior=Prior())
    for _ in range(20):
        r.learn(
            ServiceFigures(
                prompt_tokens=1000, output_tokens=10, prompt_eval_s=1.0, eval_s=0.1, load_s=0.0
            )
        )
    return r


def always(_: int) -> bool:
    return True


def never(_: int) -> bool:
    return False


@pytest.mark.parametrize(
    ("free", "jobs", "starts", "removed"),
    [
        ([0.0], [(1.0, 5.0, True), (1.0, 5.0, True)], {0: 0.0, 1: 1.0}, {}),
        # the second misses: nobody longer ahead, so it goes itself (its own miss)
        ([0.0], [(1.0, 5.0, True), (1.0, 0.5, True)], {0: 0.0}, {1: True}),
        # a long one ahead makes two short ones miss: it goes to make room
        (
            [0.0],
            [(4.0, 9.0, True), (0.1, 1.0, True), (0.1, 1.0, True)],
            {1: 0.0, 2: 0.1},
            {0: False},
        ),
        # ... unless it may not leave
        ([0.0], [(4.0, 9.0, False), (0.1, 1.0, True)], {0: 0.0}, {1: True}),
        # two slots, the second frees at 2: the third misses, the long first one goes
        (
            [0.0, 2.0],
            [(3.0, 5.0, True), (1.0, 2.0, True), (1.0, 2.5, True)],
            {1: 0.0, 2: 1.0},
            {0: False},
        ),
        # a request that may not leave is kept even when late
        ([3.0], [(1.0, 1.0, False)], {0: 3.0}, {}),
    ],
)
def test_plan(
    free: list[float],
    jobs: list[tuple[float, float, bool]],
    starts: dict[int, float],
    removed: dict[int, bool],
) -> None:
    got_starts, got_removed = plan(free, jobs)
    assert got_starts == pytest.approx(starts)
    assert got_removed == removed


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    slots=st.integers(1, 3),
    free=st.lists(st.floats(0, 5), max_size=3),
    jobs=st.lists(st.tuples(st.floats(0.01, 5), st.floats(0, 10), st.booleans()), max_size=12),
)
def test_every_kept_divertible_job_starts_in_time(
    slots: int, free: list[float], jobs: list[tuple[float, float, bool]]
) -> None:
    slot_free = (free + [0.0] * slots)[:slots]
    starts, removed = plan(slot_free, jobs)
    assert set(starts) | set(removed) == set(range(len(jobs)))
    assert not set(starts) & set(removed)
    for pos, start in starts.items():
        if jobs[pos][2]:
            assert start <= jobs[pos][1] + 1e-6
    assert all(jobs[p][2] for p in removed)


def room(slots: int = 1, threshold: float = 1.0, first_content: float = 0.0) -> UpstreamQueue:
    return UpstreamQueue(slots, rates(), RoomRules(threshold, first_content))


def test_a_free_slot_takes_the_head_at_once() -> None:
    q = room()
    q.arrive(Waiter(1, 0.0, CHAT))
    assert [(m.key, m.verdict) for m in q.review(0.0, always)] == [(1, Verdict.SEND)]
    assert not q.has_free_slot
    q.arrive(Waiter(2, 0.0, CHAT))
    assert q.review(0.0, always) == []  # waits in brb, not in Ollama
    q.finish(1)
    assert [(m.key, m.verdict) for m in q.review(0.1, always)] == [(2, Verdict.SEND)]


def test_the_deadline_diverts_at_threshold_minus_first_content() -> None:
    q = room(threshold=1.0, first_content=0.3)
    q.arrive(Waiter(1, 0.0, DOC))
    q.review(0.0, always)
    q.arrive(Waiter(2, 0.0, CHAT, is_divertible=False))
    q.arrive(Waiter(3, 0.1, CHAT))
    assert q.next_deadline_s() == pytest.approx(0.8)
    # the typical plan already knows 3 can't make it behind a 4 s document
    assert [(m.key, m.verdict) for m in q.review(0.1, always)] == [(3, Verdict.UNREACHABLE)]
    q.arrive(Waiter(4, 0.2, CHAT))
    assert q.review(0.5, never) == []  # nothing may leave (held, or standby)
    assert [(m.key, m.verdict) for m in q.review(0.9, always)] == [(4, Verdict.DEADLINE)]
    assert list(q.waiting) == [2]  # kept: it may not leave


def test_a_document_at_the_head_goes_to_make_room_for_chats() -> None:
    q = room(threshold=1.0)
    q.arrive(Waiter(1, 0.0, CHAT))
    q.review(0.0, always)
    q.arrive(Waiter(2, 0.01, DOC))
    q.arrive(Waiter(3, 0.02, CHAT))
    q.arrive(Waiter(4, 0.03, CHAT))
    q.finish(1)
    moves = [(m.key, m.verdict) for m in q.review(0.1, always)]
    assert moves == [(2, Verdict.MAKES_ROOM), (3, Verdict.SEND)]


def test_a_document_alone_is_sent() -> None:
    q = room(threshold=1.0)
    q.arrive(Waiter(1, 0.0, DOC))
    assert [m.verdict for m in q.review(0.0, always)] == [Verdict.SEND]


def test_predicted_start_counts_the_slots_and_the_queue() -> None:
    q = room(slots=1)
    assert q.predicted_start_s(CHAT, 0.0) == 0.0
    q.arrive(Waiter(1, 0.0, CHAT))
    q.review(0.0, always)
    assert q.predicted_start_s(CHAT, 0.0) == pytest.approx(0.1)
    q.arrive(Waiter(2, 0.0, CHAT))
    assert q.predicted_start_s(CHAT, 0.0) == pytest.approx(0.2)
    obs = q.observation(0.05)
    assert obs.queue_depth == 1
    assert obs.wait_seconds == pytest.approx(0.15)


def test_one_put_back_keeps_its_place() -> None:
    q = room()
    q.arrive(Waiter(2, 1.0, CHAT))
    q.arrive(Waiter(3, 2.0, CHAT))
    q.arrive(Waiter(1, 0.5, CHAT, is_divertible=False))
    assert list(q.waiting) == [1, 2, 3]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    arrivals=st.lists(
        st.tuples(st.floats(0, 0.5), st.booleans(), st.booleans()), min_size=1, max_size=25
    ),
    threshold=st.floats(0.2, 2.0),
)
def test_nobody_kept_waits_past_the_deadline(
    arrivals: list[tuple[float, bool, bool]], threshold: float
) -> None:
    """Reviewed at every arrival, completion and deadline, no divertible request is
    sent later than its deadline, and every request is sent or diverted once."""
    q = room(slots=1, threshold=threshold, first_content=0.1)
    service = {}
    t = 0.0
    events: list[tuple[float, int]] = []
    for key, (gap, is_doc, divertible) in enumerate(arrivals):
        t += gap
        events.append((t, key))
        service[key] = (4.1 if is_doc else 0.1, divertible, t)
    done_at: dict[int, float] = {}
    outcome: dict[int, tuple[Verdict, float]] = {}
    pending = list(events)
    now = 0.0
    while pending or q.waiting or q.sent:
        candidates = [pending[0][0]] if pending else []
        candidates += list(done_at.values())
        due = q.next_deadline_s()
        if due is not None:
            candidates.append(max(due, now))
        now = min(candidates)
        while pending and pending[0][0] <= now:
            _, key = pending.pop(0)
            q.arrive(
                Waiter(key, service[key][2], DOC if service[key][0] > 1 else CHAT, service[key][1])
            )
        for key in [k for k, d in done_at.items() if d <= now]:
            del done_at[key]
            q.finish(key)
        for m in q.review(now, always):
            assert m.key not in outcome
            outcome[m.key] = (m.verdict, now)
            if m.verdict is Verdict.SEND:
                done_at[m.key] = now + service[m.key][0]
    assert set(outcome) == set(service)
    for key, (verdict, at) in outcome.items():
        _, divertible, arrived = service[key]
        if divertible:
            assert at - arrived <= threshold - 0.1 + 1e-6
        else:
            assert verdict is Verdict.SEND


def test_a_wait_inside_the_upstream_delays_every_predicted_start() -> None:
    """Other clients use Ollama too: what brb's requests waited inside it
    (total_duration minus the work) is added to every start the room predicts."""
    q = room()
    q.arrive(Waiter(1, 0.0, CHAT))
    q.review(0.0, always)
    before = q.predicted_start_s(CHAT, 0.0)
    for _ in range(30):
        q.rates.learn(ServiceFigures(output_tokens=10, eval_s=0.1, queued_s=0.5))
    assert q.rates.hidden_wait_s == pytest.approx(0.5, abs=0.01)
    assert q.predicted_start_s(CHAT, 0.0) == pytest.approx(before + 2 * 0.5, abs=0.02)


def test_a_probe_beyond_the_slots_that_did_not_wait_finds_one_more() -> None:
    q = UpstreamQueue(1, rates(), RoomRules(1.0, probe_every_s=10.0))
    for key in (1, 2, 3):
        q.arrive(Waiter(key, 0.0, CHAT))
    # one to the slot, one probe beyond it: it may not leave now (standby, held)
    assert [m.key for m in q.review(0.0, never)] == [1, 2]
    assert q.probe == 2
    assert q.review(1.0, never) == []  # one probe at a time
    q.finish(2, queued_s=0.0)  # it did not wait inside the upstream: a second slot
    assert q.slots == 2 and q.probe is None
    assert [m.key for m in q.review(1.0, never)] == [3]


def test_a_probe_that_waited_teaches_nothing_and_the_next_comes_later() -> None:
    q = UpstreamQueue(1, rates(), RoomRules(1.0, probe_every_s=10.0))
    for key in (1, 2, 3, 4):
        q.arrive(Waiter(key, 0.0, CHAT))
    q.review(0.0, never)
    q.finish(2, queued_s=0.09)
    assert q.slots == 1 and q.probe_backoff == 2
    q.finish(1)
    assert [m.key for m in q.review(15.0, never)] == [3]  # to the slot; no probe before 20 s
    assert q.probe is None


def test_no_probe_for_a_head_that_may_still_go() -> None:
    q = UpstreamQueue(1, rates(), RoomRules(10.0, probe_every_s=10.0))
    for key in (1, 2):
        q.arrive(Waiter(key, 0.0, CHAT))
    assert [m.key for m in q.review(0.0, always)] == [1]
    assert q.probe is None


@given(
    slots=st.integers(1, 3),
    sent=st.lists(st.floats(0.0, 10.0), max_size=5),
    probe_every=st.one_of(st.none(), st.floats(0.1, 20.0)),
    now=st.floats(10.0, 100.0),
)
def test_a_room_nobody_waits_in_has_no_move_and_no_deadline(
    slots: int, sent: list[float], probe_every: float | None, now: float
) -> None:
    """What lets the live room skip its review after an answer when nobody waits."""
    q = UpstreamQueue(slots, rates(), RoomRules(1.0, 0.2, probe_every_s=probe_every))
    for key, at in enumerate(sent):
        q.mark_sent(key, at, DOC if key % 2 else CHAT)
    before = (dict(q.sent), q.slots, q.probe, q.last_probe_s)
    assert q.review(now, always) == []
    assert q.review(now, never) == []
    assert q.next_deadline_s() is None
    assert (dict(q.sent), q.slots, q.probe, q.last_probe_s) == before
