"""FakeAnthropic's connection cuts and its tally of what each answer produced (the
provider's side of the bill that bench/faults.py holds brb's ledger against)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from brb.sim.anthropic import DEFAULT_API_KEY, DEFAULT_REPLY, FakeAnthropic
from brb.sim.server import serve_in_thread

MODEL = "claude-sonnet-5-5"
HI = [{"role": "user", "content": "Hello there"}]
CUT = (anthropic.APIConnectionError, httpx.HTTPError)


@pytest.fixture
def fake() -> FakeAnthropic:
    return FakeAnthropic()


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    with serve_in_thread(fake.app()) as url:
        yield anthropic.Anthropic(base_url=url, api_key=DEFAULT_API_KEY, max_retries=0)


def test_a_reset_before_content_is_a_connection_error_and_produces_nothing(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.reset_next(1)
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=100, messages=HI)
    assert fake.produced_usage() == []
    # the next request is answered whole
    assert client.messages.create(model=MODEL, max_tokens=100, messages=HI).content


def test_a_reset_after_content_cuts_the_stream_and_tallies_what_was_generated(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.reset_after(2)
    received: list[str] = []
    with pytest.raises(CUT):
        for event in client.messages.create(model=MODEL, max_tokens=100, messages=HI, stream=True):
            if event.type == "content_block_delta":
                received.append(event.delta.text)
    assert received == ["Hello", " from"]
    [produced] = fake.produced_usage()
    assert produced.output_tokens == 2 and not produced.finished
    assert produced.model == MODEL and produced.input_tokens > 0


def test_an_error_event_tallies_the_deltas_before_it(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.error_event_after(3)
    with pytest.raises(anthropic.APIStatusError):
        for _ in client.messages.create(model=MODEL, max_tokens=100, messages=HI, stream=True):
            pass
    [produced] = fake.produced_usage()
    assert produced.output_tokens == 3 and not produced.finished


def test_the_tally_of_a_whole_answer_is_the_usage_it_reported(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    cached = [{"type": "text", "text": "Long instructions. " * 20,
               "cache_control": {"type": "ephemeral", "ttl": "1h"}}]  # fmt: skip
    whole = client.messages.create(model=MODEL, max_tokens=100, messages=HI, system=cached)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI, system=cached) as s:
        assert s.get_final_text() == DEFAULT_REPLY
        streamed = s.get_final_message()
    first, second = fake.produced_usage()
    assert first.finished and second.finished
    for produced, usage in ((first, whole.usage), (second, streamed.usage)):
        assert produced.input_tokens == usage.input_tokens
        assert produced.output_tokens == usage.output_tokens
        assert produced.cache_read_tokens == usage.cache_read_input_tokens
        assert produced.cache_write_1h_tokens + produced.cache_write_5m_tokens == (
            usage.cache_creation_input_tokens
        )
    assert first.cache_write_1h_tokens > 0 and second.cache_read_tokens > 0
