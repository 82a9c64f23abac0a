"""FakeOllama cutting its connections (reset_midstream_next), driven by the official
ollama and openai clients: a stream stops after its first chunk with no error line
and no final object; a whole answer gets no byte at all; the next request is whole."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import openai
import pytest

from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread

MODEL = "llama3"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama(chunks=4, service_s=0.05, reply_text="one two three four")


@pytest.fixture
def base_url(fake: FakeOllama) -> Iterator[str]:
    with serve_in_thread(fake.app()) as url:
        yield url


def test_a_native_stream_is_cut_after_its_first_chunk(fake: FakeOllama, base_url: str) -> None:
    fake.reset_midstream_next(1)
    client = ollama.Client(host=base_url)
    got: list[str] = []
    with pytest.raises((httpx.HTTPError, ollama.ResponseError)):
        for part in client.chat(model=MODEL, messages=HI, stream=True):
            got.append(part["message"]["content"])
            assert not part.get("done")
    assert len(got) == 1
    whole = client.chat(model=MODEL, messages=HI, stream=False)
    assert whole["done"] and whole["message"]["content"].startswith("one two three four")


def test_a_whole_answer_gets_no_byte(fake: FakeOllama, base_url: str) -> None:
    fake.reset_midstream_next(1)
    with pytest.raises(httpx.HTTPError):
        httpx.post(base_url + "/api/generate", json={"model": MODEL, "prompt": "hi",
                                                     "stream": False})  # fmt: skip
    answer = httpx.post(base_url + "/api/generate",
                        json={"model": MODEL, "prompt": "hi", "stream": False})  # fmt: skip
    assert answer.status_code == 200 and answer.json()["done"]


def test_an_openai_stream_is_cut_with_no_done_marker(fake: FakeOllama, base_url: str) -> None:
    fake.reset_midstream_next(1)
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)
    got: list[str] = []
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        for chunk in client.chat.completions.create(model=MODEL, messages=HI, stream=True):
            got.append(chunk.choices[0].delta.content or "")
    assert len(got) == 1
