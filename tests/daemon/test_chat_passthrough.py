"""An OpenAI client's /v1/chat/completions goes to an OpenAI-compatible provider with minimal
change: its own fields reach the provider as sent, the chunks come back as they were."""

from __future__ import annotations

import json

import openai
from daemon_rig import MODEL, OPENAI_MODEL, StartRig

from brb.sim.openai import DEFAULT_REPLY, FakeOpenAI


def openai_first(start_brb: StartRig) -> tuple[object, FakeOpenAI]:
    fake = FakeOpenAI()
    rig = start_brb(openai=fake, providers={"openai": {}, "anthropic": {}})
    rig.press()
    return rig, fake


def test_the_clients_fields_reach_the_provider_as_sent(start_brb: StartRig) -> None:
    rig, fake = openai_first(start_brb)
    with openai.OpenAI(base_url=rig.url + "/v1", api_key="x", max_retries=0) as client:  # type: ignore[attr-defined]
        done = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
            ],
            temperature=0.3,
            seed=7,
            max_tokens=50,
            user="u-42",
        )
    assert done.headers["x-brb-provider"] == "openai"
    assert done.parse().choices[0].message.content == DEFAULT_REPLY
    (sent,) = fake.completion_requests
    assert sent.body == {
        "model": OPENAI_MODEL,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "temperature": 0.3,
        "seed": 7,
        "max_tokens": 50,
        "user": "u-42",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_a_stream_is_relayed_chunk_by_chunk_and_usage_only_when_asked(
    start_brb: StartRig,
) -> None:
    rig, _ = openai_first(start_brb)
    with openai.OpenAI(base_url=rig.url + "/v1", api_key="x", max_retries=0) as client:  # type: ignore[attr-defined]
        plain = list(
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
        counted = list(
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in plain if c.choices) == DEFAULT_REPLY
    assert all(c.choices for c in plain)  # no usage chunk: the client didn't ask
    assert counted[-1].choices == [] and counted[-1].usage is not None
    rows = rig.settled_rows(2)  # type: ignore[attr-defined]
    assert all(r["provider"] == "openai" and r["output_tokens"] > 0 for r in rows)


def test_an_ollama_client_still_gets_its_own_dialect_from_the_openai_provider(
    start_brb: StartRig,
) -> None:
    rig, fake = openai_first(start_brb)
    answer = rig.ask("/api/chat", "hi", stream=True)  # type: ignore[attr-defined]
    assert answer.provider == "openai"
    assert "".join(line["message"]["content"] for line in answer.lines()) == DEFAULT_REPLY
    assert json.dumps(fake.completion_requests[0].body).count("max_completion_tokens") == 1
