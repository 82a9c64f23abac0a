"""The Anthropic adapter against the fake: an SDK argument brb got wrong is brb's
ConversionError (the request stays local, the provider is not blamed); a provider
answer is a ProviderError."""

from __future__ import annotations

import asyncio

import pytest

from brb.adapters.anthropic_provider import AnthropicProvider
from brb.errors import ConversionError, ProviderError
from brb.sim.anthropic import DEFAULT_API_KEY, FakeAnthropic
from brb.sim.server import serve_in_thread

PARAMS = {"model": "claude-sonnet-5-5", "max_tokens": 16,
          "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip


async def create_then_stream(url: str, params: dict[str, object]) -> list[BaseException]:
    provider = AnthropicProvider(api_key=DEFAULT_API_KEY, base_url=url, timeout_s=5)
    errors: list[BaseException] = []
    try:
        try:
            await provider.create(params)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            errors.append(exc)
        try:
            async for _ in provider.stream(params):
                pass
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    finally:
        await provider.close()
    return errors


@pytest.mark.parametrize("bad", [{"temperature": 0.5}, {"top_k": 3}, {"no_such_arg": 1}])
def test_an_argument_the_sdk_refuses_is_brbs_fault_not_the_providers(
    bad: dict[str, object],
) -> None:
    fake = FakeAnthropic()
    with serve_in_thread(fake.app()) as url:
        errors = asyncio.run(create_then_stream(url, {**PARAMS, **bad}))
    assert len(errors) == 2
    assert all(isinstance(e, ConversionError) and not isinstance(e, ProviderError) for e in errors)
    assert fake.message_requests == []  # nothing left brb


def test_a_provider_failure_is_still_a_provider_error() -> None:
    fake = FakeAnthropic()
    fake.fail_next(2, status=529)
    with serve_in_thread(fake.app()) as url:
        errors = asyncio.run(create_then_stream(url, PARAMS))
    assert [type(e) for e in errors] == [ProviderError, ProviderError]
    assert all(isinstance(e, ProviderError) and e.retryable for e in errors)
