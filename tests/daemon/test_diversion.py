"""Diversion: a burst trips the breaker, the overflow goes to the cloud, it releases.

Small thresholds (queue depth 2, wait 0.3 s, min active 1 s) in front of a
fake Ollama with one slot and 0.2 s of service, so the whole incident plays
out in about two seconds. Diverted answers must be what each client expects:
the ollama client parses them (stream and not), the openai client too on /v1.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import ollama
import openai
import pytest
from daemon_rig import (
    CLOUD_REPLY,
    LOCAL_REPLY,
    MODEL,
    Answer,
    Req,
    Rig,
    StartRig,
    chat_body,
    poll,
)

from brb.core.breaker import Phase
from brb.sim.ollama import FakeOllama

SMALL = {"queue_depth": 2, "wait_time_seconds": 0.3, "min_active_seconds": 1}
PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions")


def scenario(start_brb: StartRig, **settings: Any) -> Rig:
    """brb with small thresholds, warmed by one local request so it knows the
    service time (a cold burst: see test_cold_burst_overflow_is_diverted)."""
    rig = start_brb(
        ollama=FakeOllama(service_s=0.2, num_parallel=1, reply_text=LOCAL_REPLY),
        **{"thresholds": SMALL, **settings},
    )
    assert rig.ask().provider == "ollama"
    return rig


def burst_of(n: int) -> list[Req]:
    """``n`` requests across the three convertible endpoints, stream and not."""
    out = []
    for i in range(n):
        path = PATHS[i % 3]
        out.append(Req(path, chat_body(path, f"burst {i}", stream=i % 2 == 1)))
    return out


def assert_cloud_shape(path: str, answer: Answer, *, stream: bool) -> None:
    """A diverted answer in the exact shape the client asked for."""
    if path == "/v1/chat/completions":
        if stream:
            events = answer.events()
            assert events[-1] == "[DONE]"
            chunks = events[:-1]
            assert all(c["object"] == "chat.completion.chunk" for c in chunks)
            text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        else:
            body = answer.json()
            assert body["object"] == "chat.completion" and body["model"] == MODEL
            text = body["choices"][0]["message"]["content"]
        assert text == CLOUD_REPLY
        return
    key = "message" if path == "/api/chat" else "response"
    lines = answer.lines() if stream else [answer.json()]
    assert all(line["model"] == MODEL for line in lines)
    final = lines[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["prompt_eval_count"] > 0 and final["eval_count"] > 0
    pieces = [line[key]["content"] if key == "message" else line[key] for line in lines]
    assert "".join(pieces) == CLOUD_REPLY


def test_burst_activates_diverts_drains_and_releases(start_brb: StartRig) -> None:
    rig = scenario(start_brb)
    cloud_model = rig.cfg.models.anthropic_model
    requests = burst_of(12)
    t0 = time.monotonic()
    answers = rig.burst(requests)

    assert [a.status for a in answers] == [200] * 12
    by = {p: [a for a in answers if a.provider == p] for p in ("ollama", "anthropic")}
    assert len(by["ollama"]) + len(by["anthropic"]) == 12
    assert by["ollama"], "the free local slot must stay busy (policy overflow)"
    assert len(by["anthropic"]) >= 6, [a.headers.get("x-brb-route") for a in answers]
    for req, answer in zip(requests, answers, strict=True):
        stream = req.body["stream"]
        if answer.provider == "anthropic":
            assert answer.headers["x-brb-model"] == cloud_model
            assert ("x-brb-cost-usd" in answer.headers) is not stream
            assert_cloud_shape(req.path, answer, stream=stream)
        else:
            assert answer.headers["x-brb-model"] == MODEL
    assert rig.cloud_hits() == len(by["anthropic"])

    # the queue drains and the breaker releases once min_active_seconds have passed
    poll(lambda: rig.status()["status"] == "STANDBY", timeout_s=4.0)
    released_after_s = time.monotonic() - t0
    assert released_after_s >= SMALL["min_active_seconds"]
    status = rig.status()
    assert status["current_queue_depth"] == 0
    assert status["queue"][MODEL]["queue_depth"] == 0
    assert status["queue"][MODEL]["in_service"] == 0
    # the store follows a moment later (its writes are off the request path)
    edges = poll(lambda: len(rig.events("activated", "deactivated")) >= 2 and rig.events())
    assert [e.kind for e in edges if e.kind in ("activated", "deactivated")] == [
        "activated",
        "deactivated",
    ]
    with rig.store() as store:
        assert store.read_breaker().phase is Phase.STANDBY
    deactivated = rig.events("deactivated")[0]
    assert deactivated.detail["active_seconds"] >= SMALL["min_active_seconds"]
    # calm again: the next request stays local
    assert rig.ask().provider == "ollama"


def test_diverted_answers_parse_with_the_async_ollama_client(start_brb: StartRig) -> None:
    """Under the burst, through ollama.AsyncClient, both the local and the diverted
    answers parse, streamed and not (provider read from the response headers)."""
    rig = scenario(start_brb)
    providers: list[str] = []

    async def record(response: httpx.Response) -> None:
        providers.append(response.headers.get("x-brb-provider", "?"))

    async def run() -> list[str]:
        client = ollama.AsyncClient(host=rig.url, event_hooks={"response": [record]})
        msgs = [{"role": "user", "content": "hi"}]

        async def one(i: int) -> str:
            if i % 2:
                parts = [p async for p in await client.chat(MODEL, msgs, stream=True)]
                assert parts[-1].done
                return "".join(p.message.content or "" for p in parts)
            return (await client.chat(MODEL, msgs)).message.content or ""

        return list(await asyncio.gather(*(one(i) for i in range(10))))

    texts = asyncio.run(run())
    assert sorted(set(providers)) == ["anthropic", "ollama"]
    assert texts.count(CLOUD_REPLY) == providers.count("anthropic")
    assert all(t == CLOUD_REPLY or t.startswith("a local answer") for t in texts)


@pytest.mark.parametrize("policy", ["overflow", "all"])
def test_policy_decides_what_an_active_breaker_diverts(start_brb: StartRig, policy: str) -> None:
    # min_active long enough that the breaker is still active once the queue is empty
    rig = scenario(start_brb, policy=policy, thresholds={**SMALL, "min_active_seconds": 5})
    answers = rig.burst(burst_of(8))
    assert any(a.provider == "anthropic" for a in answers)
    poll(lambda: rig.status()["queue"][MODEL]["in_service"] == 0, timeout_s=3.0)
    assert rig.status()["status"] == "ACTIVE"

    idle = rig.ask()  # the local queue is empty again, the breaker still active
    if policy == "all":
        assert idle.provider == "anthropic"
    else:
        assert idle.provider == "ollama"
        assert idle.headers["x-brb-route"] == "fits_locally"


def test_a_press_diverts_every_eligible_request_even_when_idle(start_brb: StartRig) -> None:
    rig = start_brb(models={"map": {"tiny*": "claude-haiku-4-5"}})
    assert rig.ask().provider == "ollama"
    rig.press()
    local_before = sum(rig.ollama.received.values())
    assert rig.status()["status"] == "ACTIVE" and rig.status()["mode"] == "on"
    for path in PATHS:
        for stream in (False, True):
            answer = rig.ask(path, stream=stream)
            assert (answer.status, answer.provider) == (200, "anthropic"), path
            assert answer.headers["x-brb-model"] == rig.cfg.models.anthropic_model
            assert_cloud_shape(path, answer, stream=stream)
    mapped = rig.ask(model="tiny-llama")
    assert mapped.headers["x-brb-model"] == "claude-haiku-4-5"
    assert mapped.json()["model"] == "tiny-llama"
    # /v1/messages is Anthropic's own format: diverted as it is
    messages = rig.ask("/v1/messages")
    assert messages.provider == "anthropic"
    assert messages.json()["content"][0]["text"] == CLOUD_REPLY
    assert sum(rig.ollama.received.values()) == local_before


def test_pressed_answers_parse_with_the_official_clients(start_brb: StartRig) -> None:
    rig = start_brb()
    rig.press()
    local_before = sum(rig.ollama.received.values())
    msgs: list[Any] = [{"role": "user", "content": "hi"}]
    client = ollama.Client(host=rig.url)
    assert client.chat(MODEL, msgs).message.content == CLOUD_REPLY
    streamed = client.chat(MODEL, msgs, stream=True)
    assert "".join(p.message.content or "" for p in streamed) == CLOUD_REPLY
    assert client.generate(MODEL, "hi").response == CLOUD_REPLY
    generated = client.generate(MODEL, "hi", stream=True)
    assert "".join(p.response or "" for p in generated) == CLOUD_REPLY

    oa = openai.OpenAI(base_url=rig.url + "/v1", api_key="x", max_retries=0)
    done = oa.chat.completions.create(model=MODEL, messages=msgs)
    assert done.choices[0].message.content == CLOUD_REPLY
    assert done.usage is not None and done.usage.completion_tokens > 0
    chunks = list(oa.chat.completions.create(model=MODEL, messages=msgs, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == CLOUD_REPLY
    assert sum(rig.ollama.received.values()) == local_before


def test_cold_burst_overflow_is_diverted(start_brb: StartRig) -> None:
    rig = start_brb(ollama=FakeOllama(service_s=0.2), thresholds=SMALL)
    answers = rig.burst(burst_of(6))
    assert any(a.provider == "anthropic" for a in answers)


# --- when the provider fails ---------------------------------------------------------

FAILURES = [
    (529, "overloaded_error"),
    (429, "rate_limit_error"),
    (500, "api_error"),
    (400, "invalid_request_error"),
]


def newest_ledger_row(rig: Rig, n: int) -> dict[str, Any]:
    return rig.settled_rows(n)[-1]


@pytest.mark.parametrize(("status", "kind"), FAILURES)
def test_a_provider_failure_before_content_falls_back_to_ollama(
    start_brb: StartRig, status: int, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    rig = start_brb()
    rig.press()
    rows = len(rig.ledger_rows())
    for path in PATHS:
        for stream in (False, True):
            local_before = rig.ollama.received[path]
            rig.anthropic.fail_next(1, status, kind)
            answer = rig.ask(path, f"fails {status} {path} {stream}", stream=stream)
            assert (answer.status, answer.provider) == (200, "ollama"), (path, stream)
            assert answer.headers["x-brb-route"] == "fallback"
            assert answer.headers["x-brb-model"] == MODEL
            assert LOCAL_REPLY in answer.text  # the whole local answer: nothing lost
            assert rig.ollama.received[path] == local_before + 1
            rows += 1
            row = newest_ledger_row(rig, rows)
            assert (row["status"], row["cost_micro_usd"]) == ("released", 0)
            assert row["outcome"] == f"provider_error:{status}"
            # one healthy answer between failures: no run of failures rests the provider
            assert rig.ask(path, "fine").provider == "anthropic"
            rows += 1
    assert rig.anthropic.answered[status] == 6
    faults = [
        r
        for r in caplog.records
        if r.name == "brb.daemon.cloud_call" and "falling back" in r.message
    ]
    assert len(faults) == 6
    assert all("req_sim" in r.getMessage() for r in faults)  # the provider's request id
    if status == 400:  # not retryable: a conversion or config fault, logged as an error
        assert all(r.levelname == "ERROR" for r in faults)


def test_an_error_event_before_content_falls_back_invisibly(start_brb: StartRig) -> None:
    rig = start_brb()
    rig.press()
    for path in PATHS:
        rig.anthropic.error_event_after(0)  # 200, message_start, then an error event
        answer = rig.ask(path, stream=True)
        assert (answer.status, answer.provider) == (200, "ollama")
        assert "error" not in answer.text
        assert LOCAL_REPLY in answer.text
    rows = rig.settled_rows(3)
    # message_start had reported the prompt's usage: charged for it, never released
    assert [(r["status"], r["outcome"]) for r in rows] == [("settled", "error_before_answer")] * 3
    assert all(0 < r["cost_micro_usd"] <= r["reserved_micro_usd"] for r in rows)


def test_an_error_event_after_content_ends_the_stream_as_ollama_does(start_brb: StartRig) -> None:
    rig = start_brb()
    rig.press()
    rig.anthropic.error_event_after(2)
    answer = rig.ask("/api/chat", "two words then trouble", stream=True)
    assert (answer.status, answer.provider) == (200, "anthropic")
    lines = answer.lines()
    assert "".join(line["message"]["content"] for line in lines[:-1]) == " ".join(
        CLOUD_REPLY.split()[:2]
    )
    assert set(lines[-1]) == {"error"} and "Overloaded" in lines[-1]["error"]
    assert not any(line.get("done") for line in lines)
    [row] = rig.settled_rows(1)
    assert (row["status"], row["outcome"]) == ("settled", "error_midstream")
    assert row["input_tokens"] > 0 and row["cost_micro_usd"] > 0  # what the provider used

    rig.anthropic.error_event_after(1)
    oa = rig.ask("/v1/chat/completions", stream=True)
    assert oa.provider == "anthropic"
    assert "error" in oa.events()[-1]
