"""The upstream pool, live: two fake Ollama servers with one slot each behind one brb.

Each inference request goes to the healthy upstream where it would start
soonest; a burst keeps both busy and diverts only what neither can start in
time; an upstream that stops is marked down at once (no request is lost: what
it refused goes to the other) and readmitted when a probe finds it again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from daemon_rig import LOCAL_REPLY, Req, StartRig, chat_body, free_port, poll
from pool_rig import HEALTH_S, POOL, fake_at, pool_settings, upstreams

from brb import status
from brb.sim.ollama import FakeOllama


def test_a_lone_upstream_is_named_default(start_brb: StartRig) -> None:
    fake = FakeOllama(reply_text=LOCAL_REPLY)
    rig = start_brb(ollama=fake)
    answer = rig.ask()
    assert answer.provider == "ollama" and answer.headers["x-brb-upstream"] == "default"
    [only] = rig.status()["upstreams"]
    assert only["name"] == "default" and only["url"] == rig.ollama_url and only["healthy"]


def test_concurrent_requests_spread_over_both(start_brb: StartRig) -> None:
    a = FakeOllama(service_s=0.3, reply_text=LOCAL_REPLY)
    b = FakeOllama(service_s=0.3, reply_text=LOCAL_REPLY)
    with fake_at(a, free_port()) as url_a, fake_at(b, free_port()) as url_b:
        rig = start_brb(**pool_settings(url_a, url_b))
        answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(2)])
        assert [a.provider for a in answers] == ["ollama", "ollama"]
        assert sorted(x.headers["x-brb-upstream"] for x in answers) == ["gpu-a", "gpu-b"]
        assert a.queue.served == 1 and b.queue.served == 1
        # each has the model loaded now: the probe sees it
        loaded = poll(
            lambda: all(u["models_loaded"] for u in upstreams(rig).values()) and upstreams(rig)
        )
        assert {u["healthy"] for u in loaded.values()} == {True}


def test_a_burst_keeps_both_busy_and_diverts_only_what_neither_can_start(
    start_brb: StartRig,
) -> None:
    # the service time and the threshold are long enough that a loaded machine's
    # overhead (up to a second per request at load 13 on two cores) does not eat the
    # slots' time
    a = FakeOllama(service_s=1.2, reply_text=LOCAL_REPLY)
    b = FakeOllama(service_s=1.2, reply_text=LOCAL_REPLY)
    with fake_at(a, free_port()) as url_a, fake_at(b, free_port()) as url_b:
        slow = {**POOL["thresholds"], "wait_time_seconds": 3.2}  # type: ignore[dict-item]
        rig = start_brb(**pool_settings(url_a, url_b, thresholds=slow))
        for _ in range(2):  # learn the service time (on both)
            rig.burst([Req("/api/chat", chat_body("/api/chat", "warm")) for _ in range(2)])
        warm_a, warm_b = a.queue.served, b.queue.served
        answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(12)])
        assert [x.status for x in answers] == [200] * 12
        local = [x for x in answers if x.provider == "ollama"]
        cloud = [x for x in answers if x.provider == "anthropic"]
        # about the two-slot oracle: each slot starts 2-4 within the 3.2 s threshold; a
        # loaded machine spreads the burst's arrivals, so a little more may fit locally,
        # but never the whole burst
        assert 4 <= len(local) <= 10 and len(cloud) >= 2 and len(local) + len(cloud) == 12
        by_upstream = [x.headers["x-brb-upstream"] for x in local]
        assert by_upstream.count("gpu-a") >= 2 and by_upstream.count("gpu-b") >= 2
        # nothing diverted was also sent to either
        assert (a.queue.served - warm_a) + (b.queue.served - warm_b) == len(local)
        assert rig.cloud_hits() == len(cloud)


def test_a_stopped_upstream_loses_nothing_is_marked_down_and_readmitted(
    start_brb: StartRig,
) -> None:
    a = FakeOllama(service_s=0.05, reply_text=LOCAL_REPLY)
    port_b = free_port()
    with fake_at(a, free_port()) as url_a:
        with fake_at(FakeOllama(service_s=0.05, reply_text=LOCAL_REPLY), port_b) as url_b:
            rig = start_brb(**pool_settings(url_a, url_b))
            assert rig.ask().provider == "ollama"
            poll(lambda: all(u["healthy"] for u in upstreams(rig).values()))
        # gpu-b is gone: every request is still answered locally, by gpu-a
        answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(6)])
        assert [x.status for x in answers] == [200] * 6
        assert {x.headers["x-brb-upstream"] for x in answers} == {"gpu-a"}
        assert upstreams(rig)["gpu-b"]["healthy"] is False  # marked at once (or by the probe)
        assert upstreams(rig)["gpu-a"]["healthy"] is True
        b2 = FakeOllama(service_s=0.05, reply_text=LOCAL_REPLY)
        with fake_at(b2, port_b):
            poll(lambda: upstreams(rig)["gpu-b"]["healthy"], timeout_s=5 + 10 * HEALTH_S)
            a.service_s = 0.5  # gpu-a stays busy with the first: the second goes to gpu-b
            answers = rig.burst(
                [Req("/api/chat", chat_body("/api/chat", f"r{i}")) for i in range(2)]
            )
            assert sorted(x.headers["x-brb-upstream"] for x in answers) == ["gpu-a", "gpu-b"]
            assert b2.queue.served == 1


def test_brb_status_lists_the_pool_with_the_down_one(start_brb: StartRig) -> None:
    port_b = free_port()
    with fake_at(FakeOllama(reply_text=LOCAL_REPLY), free_port()) as url_a:
        with fake_at(FakeOllama(reply_text=LOCAL_REPLY), port_b) as url_b:
            rig = start_brb(**pool_settings(url_a, url_b))
            assert rig.ask().provider == "ollama"
        poll(lambda: upstreams(rig)["gpu-b"]["healthy"] is False, timeout_s=5 + 10 * HEALTH_S)

        def from_file() -> dict[str, dict[str, object]] | None:
            with rig.store() as store:
                snap = status.snapshot(store, rig.cfg, datetime.now(UTC))
            got = {u["name"]: u for u in snap["upstreams"]}
            return got if got["gpu-b"]["healthy"] is False else None

        got = poll(from_file)
        assert got["gpu-a"]["healthy"] is True and got["gpu-a"]["url"] == url_a
        assert got["gpu-b"]["url"] == url_b
        # the edge is in the event log (the alerts listener pages on the same event)
        assert poll(lambda: rig.events("upstream_down"))[0].who == "gpu-b"


def test_metrics_per_upstream(start_brb: StartRig) -> None:
    a, b = FakeOllama(reply_text=LOCAL_REPLY), FakeOllama(reply_text=LOCAL_REPLY)
    with fake_at(a, free_port()) as url_a, fake_at(b, free_port()) as url_b:
        rig = start_brb(**pool_settings(url_a, url_b))
        text = rig.get("/metrics").text
        for name in ("gpu-a", "gpu-b"):
            assert f'brb_upstream_up{{upstream="{name}"}} 1.0' in text
            assert f'brb_upstream_queue_depth{{upstream="{name}"}} 0.0' in text
