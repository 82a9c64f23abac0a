"""One attempt at one provider: its plan, what came of it, and the first-content timer.

Owns the values the cloud leg keeps per attempt (:class:`Plan`: the provider's
params and model, the worst case reserved, the request id; :class:`Attempt`:
the outcome its breaker records), which capability table a provider kind
uses, and :func:`first_content_within`, which bounds the wait for a
provider's first content by ``first_token_timeout_seconds``. Must not call a
provider or spend anything (:mod:`brb.daemon.cloud` does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from brb.core import pricing
from brb.core.capabilities import ModelCapabilities, capabilities_for, openai_capabilities
from brb.core.convert import CloudRequest
from brb.core.convert.answers import ChatReader, MessagesReader
from brb.core.provider_breaker import Outcome
from brb.daemon.chain import Link, outcome_of
from brb.daemon.events import ProviderFailed
from brb.errors import ProviderError


@dataclass(slots=True)
class Attempt:
    """What came of one admitted attempt, for its breaker."""

    outcome: Outcome = Outcome.NEUTRAL
    error: ProviderError | None = None

    def failed(self, exc: ProviderError) -> None:
        self.outcome, self.error = outcome_of(exc), exc


@dataclass(frozen=True, slots=True)
class Plan:
    cloud_model: str
    price: pricing.ModelPrice
    params: dict[str, Any]
    is_stream: bool
    req: CloudRequest | None
    worst_usd: Decimal
    request_id: str
    chat: dict[str, Any] | None = None  # a /v1/chat/completions body for an openai provider
    include_usage: bool = False  # the OpenAI client asked for the usage chunk


def capabilities(link: Link, cloud_model: str) -> ModelCapabilities:
    if link.spec.kind == "anthropic":
        return capabilities_for(cloud_model, link.provider.api_version)
    return openai_capabilities(cloud_model)


def failure(at: datetime, provider: str, exc: ProviderError, *, midstream: bool = False
             ) -> ProviderFailed:  # fmt: skip
    return ProviderFailed(at, provider, exc.status, str(exc), exc.retryable, exc.request_id,
                          midstream)  # fmt: skip


async def first_content_within(
    items: Any, reader: MessagesReader | ChatReader, link: Link, started: float
) -> AsyncGenerator[dict[str, Any], None]:
    """The provider's stream items; until ``reader`` has seen content, each must come
    within what is left of ``first_token_timeout_seconds`` (then a ProviderError)."""
    iterator = items.__aiter__()
    deadline = started + link.spec.first_token_timeout_s
    try:
        while True:
            try:
                if reader.has_content:
                    item = await iterator.__anext__()
                else:
                    left = max(0.0, deadline - time.monotonic())
                    item = await asyncio.wait_for(iterator.__anext__(), left)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ProviderError(
                    f"{link.name} sent no content within "
                    f"first_token_timeout_seconds ({link.spec.first_token_timeout_s:g})",
                    retryable=True,
                ) from None
            yield item
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:  # stop reading the provider's stream, whatever happened
            await aclose()
