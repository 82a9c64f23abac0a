"""FakeOllama driven by the official `ollama` and `openai` clients, and by raw HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import openai
import pytest

from brb.sim.ollama import FakeOllama
from brb.sim.ollama_wire import BUSY_MESSAGE, Timings
from brb.sim.server import serve, serve_in_thread

HI = [{"role": "user", "content": "why is the sky blue?"}]


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama()


@pytest.fixture
def base_url(fake: FakeOllama) -> Iterator[str]:
    with serve_in_thread(fake.app()) as url:
        yield url


def test_root_version_and_unknown_paths(base_url: str) -> None:
    assert httpx.get(base_url).text == "Ollama is running"
    assert httpx.get(f"{base_url}/api/version").json() == {"version": "0.12.6"}
    for response in (httpx.get(f"{base_url}/nope"), httpx.get(f"{base_url}/api/chat")):
        assert response.status_code == 404
        assert response.text == "404 page not found"


def test_chat_whole_answer_with_timings(fake: FakeOllama, base_url: str) -> None:
    fake.service_s = 0.05
    answer = ollama.Client(host=base_url).chat(model="llama3.2", messages=HI, stream=False)
    assert answer.message.content == "ok ok ok"
    assert answer.done and answer.done_reason == "stop"
    assert answer.eval_count == 3
    assert answer.prompt_eval_count == 5  # 20 characters / 4
    parts = [answer.load_duration, answer.prompt_eval_duration, answer.eval_duration]
    assert all(isinstance(p, int) and p > 0 for p in parts)
    assert answer.prompt_eval_duration + answer.eval_duration == pytest.approx(0.05e9, rel=0.01)
    assert answer.total_duration >= sum(parts)  # the rest is queue wait


def test_chat_streams_by_default_in_pieces_then_a_final_object(base_url: str) -> None:
    lines = httpx.post(
        f"{base_url}/api/chat", json={"model": "m", "messages": HI}
    ).text.splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["done"] for o in objects] == [False, False, False, True]
    assert "".join(o["message"]["content"] for o in objects) == "ok ok ok"
    assert objects[-1]["done_reason"] == "stop"
    assert {"total_duration", "eval_count", "prompt_eval_duration"} <= objects[-1].keys()


def test_chat_stream_with_the_sync_client(base_url: str) -> None:
    parts = list(ollama.Client(host=base_url).chat(model="llama3.2", messages=HI, stream=True))
    assert "".join(p.message.content for p in parts) == "ok ok ok"
    assert parts[-1].done and parts[-1].eval_count == 3


def test_generate_and_embed_with_the_async_client() -> None:
    fake = FakeOllama(chunks=4, reply_text="yes")

    async def scenario() -> None:
        async with serve(fake.app()) as url:
            client = ollama.AsyncClient(host=url)
            pieces = [
                p.response async for p in await client.generate(model="m", prompt="hi", stream=True)
            ]
            assert pieces == ["yes", " yes", " yes", " yes", ""]
            whole = await client.generate(model="m", prompt="hi", stream=False)
            assert whole.response == "yes yes yes yes" and whole.context == [1, 2, 3]
            first = await client.embed(model="m", input=["a", "b"])
            again = await client.embed(model="m", input="a")
            assert len(first.embeddings) == 2 and len(first.embeddings[0]) == 8
            assert again.embeddings[0] == first.embeddings[0] != first.embeddings[1]

    asyncio.run(scenario())
    assert fake.queue.served == 4


def test_tags_ps_show_and_v1_models() -> None:
    fake = FakeOllama(models=["llama3.2", "qwen3:8b"])
    with serve_in_thread(fake.app()) as url:
        client = ollama.Client(host=url)
        assert [m.model for m in client.list().models] == ["llama3.2:latest", "qwen3:8b"]
        assert client.ps().models == []
        client.chat(model="qwen3:8b", messages=HI, stream=False)
        assert [m.model for m in client.ps().models] == ["qwen3:8b"]
        assert client.show("llama3.2").details.family == "llama"
        with pytest.raises(ollama.ResponseError) as missing:
            client.show("nope")
        assert missing.value.status_code == 404
        ids = [m.id for m in openai.OpenAI(base_url=f"{url}/v1", api_key="x").models.list()]
        assert ids == ["llama3.2:latest", "qwen3:8b"]


def test_empty_messages_only_loads_the_model(fake: FakeOllama, base_url: str) -> None:
    answer = httpx.post(f"{base_url}/api/chat", json={"model": "m", "messages": []}).json()
    assert answer["done"] is True and answer["done_reason"] == "load"
    assert fake.queue.served == 0


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        (b"{not json", 400, "invalid character"),
        (b"", 400, "missing request body"),
        (b"[1]", 400, "cannot unmarshal array"),
        (b'{"messages": []}', 400, "model is required"),
        (
            b'{"model": "ghost", "messages": []}',
            404,
            'model "ghost" not found, try pulling it first',
        ),
    ],
)
def test_bad_requests_get_ollama_errors(payload: bytes, status: int, error: str) -> None:
    with serve_in_thread(FakeOllama(models=["llama3.2"]).app()) as url:
        response = httpx.post(f"{url}/api/chat", content=payload)
    assert response.status_code == status
    assert error in response.json()["error"]


def test_unknown_model_is_a_typed_client_error() -> None:
    with serve_in_thread(FakeOllama(models=["llama3.2"]).app()) as url:
        with pytest.raises(ollama.ResponseError) as caught:
            ollama.Client(host=url).chat(model="ghost", messages=HI)
        assert caught.value.status_code == 404
        with pytest.raises(openai.NotFoundError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0).chat.completions.create(
                model="ghost", messages=HI
            )


def test_fail_next_answers_busy_then_recovers(fake: FakeOllama, base_url: str) -> None:
    client = ollama.Client(host=base_url)
    fake.fail_next(2)
    for _ in range(2):
        with pytest.raises(ollama.ResponseError) as caught:
            client.chat(model="m", messages=HI, stream=False)
        assert caught.value.status_code == 503 and caught.value.error == BUSY_MESSAGE
    assert client.chat(model="m", messages=HI, stream=False).message.content == "ok ok ok"
    assert fake.received["/api/chat"] == 3 and fake.queue.served == 1


def test_error_midstream_sends_one_chunk_then_an_error_line(
    fake: FakeOllama, base_url: str
) -> None:
    fake.error_midstream_next(2)
    response = httpx.post(f"{base_url}/api/generate", json={"model": "m", "prompt": "hi"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["response"] == "ok" and "error" in lines[1] and len(lines) == 2
    got: list[str] = []
    with pytest.raises(ollama.ResponseError):
        for part in ollama.Client(host=base_url).chat(model="m", messages=HI, stream=True):
            got.append(part.message.content)
    assert got == ["ok"]


def test_openai_chat_whole_and_streamed(fake: FakeOllama, base_url: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="ollama")
    completion = client.chat.completions.create(model="llama3.2", messages=HI)
    assert completion.choices[0].message.content == "ok ok ok"
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    chunks = list(
        client.chat.completions.create(
            model="llama3.2", messages=HI, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "ok ok ok"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8
    raw = httpx.post(
        f"{base_url}/v1/chat/completions", json={"model": "m", "messages": HI, "stream": True}
    )
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_bodies_and_counters_are_recorded(fake: FakeOllama, base_url: str) -> None:
    client = ollama.Client(host=base_url)
    client.chat(model="m", messages=HI, stream=False, options={"temperature": 0})
    client.list()
    assert fake.received["/api/chat"] == 1 and fake.received["/api/tags"] == 1
    assert fake.bodies[-1]["options"] == {"temperature": 0}
    assert fake.queue.waiting == 0 and fake.queue.in_service == 0 and fake.queue.served == 1


async def _record_stream(url: str, name: str, events: list[tuple[str, str, float]]) -> None:
    client = ollama.AsyncClient(host=url)
    async for part in await client.chat(model="m", messages=HI, stream=True):
        events.append((name, "done" if part.done else "chunk", time.monotonic()))


def test_five_requests_one_slot_are_served_one_at_a_time() -> None:
    fake = FakeOllama(num_parallel=1, service_s=0.1)

    async def scenario() -> float:
        async with serve(fake.app()) as url:
            client = ollama.AsyncClient(host=url)
            began = time.monotonic()
            await asyncio.gather(
                *(client.chat(model="m", messages=HI, stream=False) for _ in range(5))
            )
            return time.monotonic() - began

    elapsed = asyncio.run(scenario())
    assert fake.queue.served == 5 and fake.queue.max_in_service == 1 and fake.queue.max_waiting >= 4
    records = sorted(fake.queue.service_log, key=lambda r: r.started_s)
    for earlier, later in zip(records, records[1:], strict=False):
        assert later.started_s >= earlier.finished_s  # never two in service at once
    assert records[-1].wait_s >= 0.35  # the last one queued behind four others
    assert elapsed >= 0.45


def test_two_slots_serve_two_at_a_time() -> None:
    fake = FakeOllama(num_parallel=2, service_s=0.1)

    async def scenario() -> None:
        async with serve(fake.app()) as url:
            client = ollama.AsyncClient(host=url)
            await asyncio.gather(
                *(client.generate(model="m", prompt="x", stream=False) for _ in range(4))
            )

    asyncio.run(scenario())
    assert fake.queue.max_in_service == 2 and fake.queue.served == 4


def test_slots_are_per_model() -> None:
    fake = FakeOllama(num_parallel=1, service_s=0.1)

    async def scenario() -> None:
        async with serve(fake.app()) as url:
            client = ollama.AsyncClient(host=url)
            await asyncio.gather(
                client.chat(model="a", messages=HI, stream=False),
                client.chat(model="b", messages=HI, stream=False),
            )

    asyncio.run(scenario())
    assert fake.queue.max_in_service == 2


def test_a_queued_stream_sends_its_first_byte_only_after_getting_a_slot() -> None:
    fake = FakeOllama(num_parallel=1, service_s=0.15)
    events: list[tuple[str, str, float]] = []

    async def scenario() -> None:
        async with serve(fake.app()) as url:
            first = asyncio.create_task(_record_stream(url, "first", events))
            while fake.queue.in_service == 0:
                await asyncio.sleep(0.005)
            await asyncio.gather(first, _record_stream(url, "second", events))

    asyncio.run(scenario())
    order = [(name, kind) for name, kind, _ in events]
    assert order.index(("first", "done")) < order.index(("second", "chunk"))
    # Causal, not timed (a loaded machine once gave a wait of 0.0997 s against > 0.1):
    # the second started only when the first had finished, and so it waited.
    first, second = fake.queue.service_log
    assert second.started_s >= first.finished_s and second.wait_s > 0


def test_service_time_can_depend_on_the_body() -> None:
    def by_length(body: dict[str, Any]) -> float:
        return 0.1 if body.get("prompt") == "long" else 0.0

    fake = FakeOllama(service_s=by_length)
    with serve_in_thread(fake.app()) as url:
        client = ollama.Client(host=url)
        client.generate(model="m", prompt="short", stream=False)
        client.generate(model="m", prompt="long", stream=False)
    short, long = fake.queue.service_log
    assert long.finished_s - long.started_s >= 0.1 > short.finished_s - short.started_s


def test_timings_keep_the_wait_identity() -> None:
    timings = Timings.split(wait_s=0.25, service_s=1.0)
    assert timings.prompt_eval_ns == 200_000_000 and timings.eval_ns == 800_000_000
    inferred_wait = timings.total_ns - timings.load_ns - timings.prompt_eval_ns - timings.eval_ns
    assert inferred_wait == 250_000_000
