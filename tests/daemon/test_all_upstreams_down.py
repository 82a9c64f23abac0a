"""Every upstream down: no upstream can start a request in time, so the cloud takes
what may leave (reason ``upstream_down``), in standby too, and what may not (an
excluded session) gets the upstream's error, as before. Not a 502 for everyone
while a provider and the budget are there."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon_rig import StartRig, free_port, poll
from pool_rig import pool_settings

from brb import control


def test_with_every_upstream_down_what_may_leave_goes_to_the_cloud(start_brb: StartRig) -> None:
    dead_a, dead_b = (f"http://127.0.0.1:{free_port()}" for _ in range(2))  # nothing listens
    rig = start_brb(**pool_settings(dead_a, dead_b))
    assert rig.status()["mode"] == "auto"

    answer = rig.ask("/api/chat", "hello")
    assert answer.status == 200, answer.text
    assert answer.provider == "anthropic"
    assert answer.headers["x-brb-route"] == "upstream_down"
    streamed = rig.ask("/v1/chat/completions", "hello again", stream=True)
    assert streamed.status == 200 and streamed.headers["x-brb-route"] == "upstream_down"
    assert rig.cloud_hits() == 2
    assert [r["status"] for r in rig.settled_rows(2)] == ["settled", "settled"]

    excluded = rig.ask("/api/chat", "secret", session="compliance-audit")
    assert excluded.status == 502, excluded.text  # the upstream's error stands
    assert rig.cloud_hits() == 2  # the excluded session never reached the cloud


def test_with_the_waiting_room_off_the_upstream_error_stands(start_brb: StartRig) -> None:
    """Without the room, the relay has no second turn: the error is the answer."""
    dead_a, dead_b = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    rig = start_brb(**pool_settings(dead_a, dead_b, waiting_room={"enabled": False}))
    answer = rig.ask("/api/chat", "hello")
    assert answer.status == 502
    assert rig.cloud_hits() == 0


def test_a_hold_keeps_everything_local_with_every_upstream_down(start_brb: StartRig) -> None:
    dead_a, dead_b = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    rig = start_brb(**pool_settings(dead_a, dead_b))
    with rig.store() as store:
        control.release(store, now=datetime.now(UTC), hold=True, source="test", who="pytest")
    poll(lambda: rig.get("/healthz").json()["mode"] == "off", timeout_s=10.0)
    answer = rig.ask("/api/chat", "hello")
    assert answer.status == 502, answer.text
    assert rig.cloud_hits() == 0
