"""What a pool of two shows its clients, and an upstream that never answers a connect.

Two fake Ollama servers with different models behind one brb, driven by the
official ``ollama`` client: ``list()`` and ``ps()`` answer the union of the pool
(each model once, its entry's fields as Ollama gave them); the other
non-inference endpoints go to the first healthy upstream. An upstream whose
connect times out (a listener that never accepts) is marked down at once and the
request is served by the other one.
"""

from __future__ import annotations

import ollama
import pytest
from daemon_rig import LOCAL_REPLY, MODEL, StartRig, free_port, poll
from pool_rig import fake_at, never_accepting, pool_settings, prompts, said, upstreams

from brb.sim.ollama import FakeOllama

OTHER = "qwen2.5:latest"
QUIET = {"health_check_seconds": 30.0}  # no probe during the test (only the one at start)


def test_list_and_ps_answer_the_union_of_the_pool(start_brb: StartRig) -> None:
    a = FakeOllama(models=[MODEL, "shared"], reply_text=LOCAL_REPLY)
    b = FakeOllama(models=[OTHER, "shared"], reply_text=LOCAL_REPLY)
    with fake_at(a, free_port()) as url_a, fake_at(b, free_port()) as url_b:
        rig = start_brb(**pool_settings(url_a, url_b))
        client = ollama.Client(host=rig.url)
        listed = client.list()
        names = [m.model for m in listed.models]
        assert sorted(names) == sorted([f"{MODEL}:latest", OTHER, "shared:latest"])
        # each entry as its upstream gave it (the fake dates its list "now")
        direct = {m.model: m for m in ollama.Client(host=url_b).list().models}
        mine = {m.model: m for m in listed.models}
        assert mine[OTHER].model_dump(exclude={"modified_at"}) == direct[OTHER].model_dump(
            exclude={"modified_at"}
        )
        assert mine[OTHER].details and mine[OTHER].details.quantization_level
        # loaded models: one served through brb (on gpu-a), one loaded on gpu-b by
        # another client
        assert client.chat(model=MODEL, messages=said("hi")).message.content
        ollama.Client(host=url_b).chat(model=OTHER, messages=said("hi"))
        ps = client.ps()
        assert sorted(m.model for m in ps.models) == sorted([f"{MODEL}:latest", OTHER])
        assert all(m.size_vram and m.expires_at for m in ps.models)
        # a down upstream's models are not offered
    with fake_at(a, free_port()) as url_a:
        rig = start_brb(**pool_settings(url_a, f"http://127.0.0.1:{free_port()}"))
        poll(lambda: upstreams(rig)["gpu-b"]["healthy"] is False, timeout_s=10.0)
        names = [m.model for m in ollama.Client(host=rig.url).list().models]
        assert sorted(names) == sorted([f"{MODEL}:latest", "shared:latest"])


def test_other_endpoints_go_to_the_first_healthy_upstream(start_brb: StartRig) -> None:
    a, b = FakeOllama(reply_text=LOCAL_REPLY), FakeOllama(reply_text=LOCAL_REPLY)
    port_a = free_port()
    with fake_at(b, free_port()) as url_b:
        with fake_at(a, port_a) as url_a:
            rig = start_brb(**pool_settings(url_a, url_b))
            client = ollama.Client(host=rig.url)
            assert client.show(MODEL).modelfile
            assert len(client.embed(model=MODEL, input="hello").embeddings) == 1
            assert (a.received["/api/show"], a.received["/api/embed"]) == (1, 1)
            assert (b.received["/api/show"], b.received["/api/embed"]) == (0, 0)
        # gpu-a is gone: the same calls are answered by gpu-b
        assert client.show(MODEL).modelfile
        assert len(client.embed(model=MODEL, input="hello").embeddings) == 1
        assert (b.received["/api/show"], b.received["/api/embed"]) == (1, 1)
        assert upstreams(rig)["gpu-a"]["healthy"] is False


@pytest.mark.parametrize("room", [True, False], ids=["waiting_room", "no_room"])
def test_a_connect_timeout_marks_the_upstream_down_and_the_other_serves(
    start_brb: StartRig, room: bool
) -> None:
    b = FakeOllama(reply_text=LOCAL_REPLY)
    port_a = free_port()
    with fake_at(b, free_port()) as url_b:
        with fake_at(FakeOllama(reply_text=LOCAL_REPLY), port_a) as url_a:
            rig = start_brb(
                **pool_settings(
                    url_a,
                    url_b,
                    **QUIET,
                    upstream_timeout={"connect_seconds": 0.3},
                    waiting_room={"enabled": room},
                )
            )
            poll(lambda: upstreams(rig)["gpu-a"]["models_loaded"] is not None)  # probed: up
        with never_accepting(port_a):
            # gpu-a is first and believed healthy (its next probe is 30 s away), so the
            # request goes there first; its connect times out
            assert upstreams(rig)["gpu-a"]["healthy"] is True
            answer = ollama.Client(host=rig.url).chat(model=MODEL, messages=said("hello"))
            assert LOCAL_REPLY in answer.message.content
            assert prompts(b) == ["hello"]
            assert upstreams(rig)["gpu-a"]["healthy"] is False
            # the event reaches the store on the writer thread: wait for it, do not race it
            assert poll(lambda: rig.events("upstream_down"))[0].who == "gpu-a"
