"""The waiting room, live: brb holds what Ollama can't start, and lets it go in time.

A fake Ollama with one slot and 0.3 s of service, a wait threshold of 0.8 s:
a burst of eight waits in brb (never in Ollama's own queue), the first few
are served locally in arrival order, the rest go to the cloud before their
wait reaches the threshold, and no request is served twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from daemon_rig import LOCAL_REPLY, Req, Rig, StartRig, chat_body, poll

from brb import control
from brb.sim.ollama import FakeOllama

ROOM = {
    "thresholds": {"queue_depth": 1000, "wait_time_seconds": 0.8, "min_active_seconds": 60},
    "waiting_room": {"enabled": True, "first_content_seconds": 0.1},
}


def hold(rig: Rig) -> None:
    """Hold the button (divert nothing) the CLI's way; return once the daemon has seen it."""
    with rig.store() as store:
        control.release(store, now=datetime.now(UTC), source="test", who="pytest", hold=True)
    poll(lambda: rig.get("/healthz").json()["mode"] == "off", timeout_s=2.0)


def test_a_burst_waits_in_brb_and_the_overflow_leaves_before_the_threshold(
    start_brb: StartRig,
) -> None:
    fake = FakeOllama(service_s=0.3, num_parallel=1, reply_text=LOCAL_REPLY)
    rig = start_brb(ollama=fake, **ROOM)
    for _ in range(3):  # learn the service time
        assert rig.ask().provider == "ollama"
    answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(8)])
    assert [a.status for a in answers] == [200] * 8
    local = [a for a in answers if a.provider == "ollama"]
    cloud = [a for a in answers if a.provider == "anthropic"]
    assert 2 <= len(local) <= 4 and len(local) + len(cloud) == 8
    # brb sent Ollama one request at a time: nothing queued inside Ollama but,
    # at most, the one probe for a slot brb doesn't know of (one per 10 s)
    waited = [r for r in fake.queue.service_log if r.wait_s > 0.05]
    assert len(waited) <= 1, waited
    assert fake.queue.served == 3 + len(local)  # nothing diverted was also sent
    assert rig.cloud_hits() == len(cloud)
    reasons = {a.headers.get("x-brb-route") for a in cloud}
    assert reasons <= {"deadline", "unreachable", "makes_room", "overflow"}, reasons


def test_held_keeps_everyone_local_in_arrival_order(start_brb: StartRig) -> None:
    fake = FakeOllama(service_s=0.05, num_parallel=1, reply_text=LOCAL_REPLY)
    rig = start_brb(ollama=fake, **ROOM)
    hold(rig)
    answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(6)])
    assert [a.provider for a in answers] == ["ollama"] * 6
    starts = [r.started_s for r in fake.queue.service_log]
    assert starts == sorted(starts)


def test_a_slot_brb_did_not_know_about_is_found(start_brb: StartRig) -> None:
    """Ollama has two slots, the config says one: a probe beyond the slot that
    does not wait inside Ollama teaches brb the second one."""
    fake = FakeOllama(service_s=0.4, num_parallel=2, reply_text=LOCAL_REPLY)
    rig = start_brb(ollama=fake, upstream_parallel=1, **ROOM)
    hold(rig)
    answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(4)])
    assert [a.provider for a in answers] == ["ollama"] * 4
    assert fake.queue.max_in_service == 2
