"""The pool's check, end to end: two fake Ollama servers with one slot each behind one
brb, a burst from the official ``ollama`` client, one upstream killed mid-burst.

No request is lost (each is answered, locally); the killed upstream reads unhealthy
in ``brb status --json`` (the CLI, in its own process, reading the live daemon's
database) and was marked down within ``health_check_seconds`` of the kill; brought
back, it is readmitted and serves again. The CLI shows each upstream's live queue
figures, not nulls.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import ollama
from daemon_rig import LOCAL_REPLY, MODEL, StartRig, free_port, poll
from pool_rig import cli_upstreams, fake_at, pool_settings, said, until

from brb.sim.ollama import FakeOllama

HEALTH_S = 2.0
SERVICE_S = 0.3
FIELDS = {"name", "url", "healthy", "models_loaded", "queue_depth", "predicted_wait_s"}


async def burst(url: str, n: int, tag: str) -> list[ollama.ChatResponse]:
    client = ollama.AsyncClient(host=url, timeout=60)
    return await asyncio.gather(
        *(client.chat(model=MODEL, messages=said(f"{tag}{i}")) for i in range(n))
    )


def test_killing_one_mid_burst_loses_nothing_marks_it_down_and_back_readmits_it(
    start_brb: StartRig,
) -> None:
    a = FakeOllama(service_s=SERVICE_S, reply_text=LOCAL_REPLY)
    b = FakeOllama(service_s=SERVICE_S, reply_text=LOCAL_REPLY)
    port_b = free_port()
    with fake_at(a, free_port()) as url_a, contextlib.ExitStack() as stack:
        url_b = stack.enter_context(fake_at(b, port_b))
        settings = pool_settings(url_a, url_b, health_check_seconds=HEALTH_S)
        rig = start_brb(**{**settings, "thresholds": {"wait_time_seconds": 60}})

        def live_and_up() -> dict[str, dict[str, object]] | None:
            pool = cli_upstreams(rig)
            ok = all(u["healthy"] and u["queue_depth"] is not None for u in pool.values())
            return pool if ok else None

        before = poll(live_and_up, timeout_s=30.0)
        assert sorted(before) == ["gpu-a", "gpu-b"]
        assert before["gpu-b"]["url"] == url_b
        for u in before.values():
            assert set(u) >= FIELDS
            assert isinstance(u["queue_depth"], int) and isinstance(u["predicted_wait_s"], float)

        async def kill_mid_burst() -> tuple[datetime, list[ollama.ChatResponse]]:
            answers = asyncio.create_task(burst(rig.url, 12, "q"))
            await until(lambda: b.queue.served >= 1 and b.queue.in_service == 1)
            killed = datetime.now(UTC)
            await asyncio.to_thread(stack.close)  # gpu-b goes away mid-burst
            return killed, await answers

        killed, answers = asyncio.run(kill_mid_burst())
        # no request lost: every one answered, locally (the cloud fake saw none)
        assert len(answers) == 12 and all(LOCAL_REPLY in x.message.content for x in answers)
        assert a.queue.served + b.queue.served >= 12 and rig.cloud_hits() == 0
        down = poll(lambda: rig.events("upstream_down"), timeout_s=10.0)[0]
        assert down.who == "gpu-b"
        assert down.at - killed <= timedelta(seconds=HEALTH_S)
        after = poll(lambda: (p := cli_upstreams(rig))["gpu-b"]["healthy"] is False and p)
        assert after["gpu-a"]["healthy"] is True

        b2 = FakeOllama(service_s=SERVICE_S, reply_text=LOCAL_REPLY)
        with fake_at(b2, port_b):
            # readmitted by its next probe, and it serves again
            poll(lambda: cli_upstreams(rig)["gpu-b"]["healthy"] is True, timeout_s=30.0)
            assert rig.events("upstream_up")[-1].who == "gpu-b"
            answers = asyncio.run(burst(rig.url, 4, "r"))
            assert all(LOCAL_REPLY in x.message.content for x in answers)
            assert b2.queue.served >= 1
