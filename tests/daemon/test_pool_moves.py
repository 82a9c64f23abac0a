"""Requests waiting in brb are not pinned to the upstream chosen at their arrival.

Two fake Ollama servers with one slot each behind one brb, driven by the official
``ollama`` client: a request waiting behind a long job on one upstream is sent to
the other as soon as that one frees its slot; requests waiting for an upstream
that is marked down move to the other at once (not at the next health check),
and the one it was serving when it went away (nothing relayed yet) is served
there too. None is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import ollama
from daemon_rig import LOCAL_REPLY, MODEL, StartRig, free_port, poll
from pool_rig import (
    fake_at,
    metric,
    never_accepting,
    pool_settings,
    prompts,
    said,
    until,
    upstreams,
)

from brb.sim.ollama import FakeOllama

LONG_S = 30.0  # a job no test waits for: the fake is stopped under it
QUIET = {"health_check_seconds": 30.0}  # no probe during the test: what moves, moves at once


def held_by(word: str) -> Any:
    """A service time: ``LONG_S`` for a request whose body mentions ``word``, else short."""
    return lambda body: LONG_S if word in json.dumps(body) else 0.05


def test_a_waiting_request_goes_to_the_upstream_that_frees_a_slot_first(
    start_brb: StartRig,
) -> None:
    a = FakeOllama(service_s=held_by("long"), reply_text=LOCAL_REPLY)
    b = FakeOllama(service_s=held_by("hold"), chunks=120, reply_text=LOCAL_REPLY)
    with fake_at(a, free_port()) as url_a, fake_at(b, free_port()) as url_b:
        rig = start_brb(
            **pool_settings(url_a, url_b, **QUIET, thresholds={"wait_time_seconds": 120})
        )
        waiters = [f"waiter {i}" for i in range(3)]

        async def scenario() -> list[ollama.ChatResponse]:
            client = ollama.AsyncClient(host=rig.url, timeout=LONG_S / 2)
            long_job = asyncio.create_task(client.chat(model=MODEL, messages=said("long job")))
            await until(lambda: a.queue.in_service == 1)  # gpu-a is busy for LONG_S
            stream = await client.chat(model=MODEL, messages=said("hold"), stream=True)
            await anext(stream)  # gpu-b is busy until this stream is closed
            tasks = [
                asyncio.create_task(client.chat(model=MODEL, messages=said(w))) for w in waiters
            ]
            # all three wait in brb, at least one of them for gpu-a (where it would be
            # served only after the long job) -- what makes this test able to fail
            await until(
                lambda: (
                    metric(rig, "brb_upstream_queue_depth", "gpu-a") >= 1
                    and metric(rig, "brb_upstream_queue_depth", "gpu-a")
                    + metric(rig, "brb_upstream_queue_depth", "gpu-b")
                    == 3
                )
            )
            await stream.aclose()  # gpu-b frees its slot first
            answers = await asyncio.gather(*tasks)
            assert not long_job.done() and a.queue.in_service == 1  # gpu-a is still busy
            long_job.cancel()
            return answers

        answers = asyncio.run(scenario())
        assert all(LOCAL_REPLY in x.message.content for x in answers)
        assert sorted(w for w in prompts(b) if w in waiters) == waiters  # all served by gpu-b
        assert not [w for w in prompts(a) if w in waiters]  # none was ever sent to gpu-a


def test_requests_waiting_for_an_upstream_marked_down_move_at_once(start_brb: StartRig) -> None:
    a = FakeOllama(service_s=LONG_S, reply_text=LOCAL_REPLY)
    b = FakeOllama(service_s=held_by("hold"), chunks=120, reply_text=LOCAL_REPLY)
    port_a = free_port()
    with fake_at(b, free_port()) as url_b, contextlib.ExitStack() as at_a:
        url_a = at_a.enter_context(fake_at(a, port_a))
        # a connect that times out costs 2 s: requests left waiting for gpu-a would
        # each be sent there in turn and time out before going to gpu-b
        timeouts = {"upstream_timeout": {"connect_seconds": 2.0}}
        slow = {"thresholds": {"wait_time_seconds": 120}}
        rig = start_brb(**pool_settings(url_a, url_b, **QUIET, **timeouts, **slow))
        waiters = [f"waiter {i}" for i in range(3)]

        def gpu_a_goes_away() -> None:
            """Its server stops, and its address no longer accepts connections (a
            connect there times out, as to a host that went away)."""
            at_a.close()
            at_a.enter_context(never_accepting(port_a))

        async def scenario() -> list[ollama.ChatResponse]:
            client = ollama.AsyncClient(host=rig.url, timeout=LONG_S)
            first = asyncio.create_task(client.chat(model=MODEL, messages=said("first")))
            await until(lambda: a.queue.in_service == 1)  # gpu-a serves it (for LONG_S)
            stream = await client.chat(model=MODEL, messages=said("hold"), stream=True)
            await anext(stream)  # gpu-b is busy until this stream is closed
            tasks = [
                asyncio.create_task(client.chat(model=MODEL, messages=said(w))) for w in waiters
            ]
            await until(
                lambda: (
                    metric(rig, "brb_upstream_queue_depth", "gpu-a") >= 1
                    and metric(rig, "brb_upstream_queue_depth", "gpu-a")
                    + metric(rig, "brb_upstream_queue_depth", "gpu-b")
                    == 3
                )
            )
            await asyncio.to_thread(gpu_a_goes_away)
            # its dropped answer is probed and it is marked down, long before a health
            # check; at that moment everything that waited for it waits for gpu-b, the
            # dropped "first" included (nothing of it had been relayed), none was sent
            # to gpu-a to time out there, and gpu-b is still busy with the stream
            await until(lambda: upstreams(rig)["gpu-a"]["healthy"] is False)
            assert metric(rig, "brb_upstream_queue_depth", "gpu-b") == 4
            assert metric(rig, "brb_upstream_queue_depth", "gpu-a") == 0
            assert b.queue.in_service == 1
            await stream.aclose()
            return await asyncio.gather(first, *tasks)

        answers = asyncio.run(scenario())
        assert all(LOCAL_REPLY in x.message.content for x in answers)
        assert sorted(w for w in prompts(b) if w in waiters) == waiters
        assert "first" in prompts(b)  # retried on gpu-b
        # the down edge is logged (on the store writer thread: wait for it)
        assert [e.who for e in poll(lambda: rig.events("upstream_down"))] == ["gpu-a"]
