"""Anthropic, the first cloud provider, through the official SDK.

Owns the SDK client (async, aiohttp backend, ``base_url`` and timeout from
config, SDK retries OFF: brb owns retry and fall-through) and the
translation of SDK errors into :class:`~brb.errors.ProviderError` with the
provider's status, request id and whether falling back locally is right
(429, 529, 5xx, timeouts and connection errors are; another 4xx is a
conversion or config fault to log, and also falls back — a request is never
dropped because a provider failed). An exception the SDK raises before
anything is sent (a TypeError on an argument, a value it won't encode) is
brb's fault, not the provider's: it becomes a ConversionError (the request
stays local, nothing counts against the provider). The SDK takes seconds to import: it is
imported when the daemon builds this adapter, never by the light CLI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from brb.adapters.provider_failure import error_kind, retry_after_s, short_message
from brb.errors import ConversionError, ProviderError

NAME = "anthropic"


class AnthropicProvider:
    name = NAME

    def __init__(self, *, api_key: str, base_url: str, timeout_s: float) -> None:
        import anthropic

        self._anthropic = anthropic
        try:
            http_client: Any = anthropic.DefaultAioHttpClient()
        except Exception:  # the aiohttp extra missing: the default httpx client works too
            http_client = None
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,
            http_client=http_client,
        )
        self.api_version: str = getattr(anthropic._constants, "ANTHROPIC_API_VERSION", "")

    def _translate_call(self, exc: Exception) -> ProviderError | ConversionError:
        """An exception from starting a call: the provider's, or brb's own."""
        if isinstance(exc, self._anthropic.APIError):
            return self._translate(exc)
        return ConversionError(f"the anthropic SDK refused the request: {short_message(exc)}")

    def _translate(self, exc: Exception) -> ProviderError:
        a = self._anthropic
        if isinstance(exc, a.APIStatusError):
            status = exc.status_code
            kind = error_kind(exc.body, "type")
            retryable = (
                status in (408, 409, 429, 529)
                or status >= 500
                or kind in ("overloaded_error", "rate_limit_error", "api_error")
            )
            return ProviderError(
                f"anthropic answered {status} {kind}: {short_message(exc)}",
                status=status,
                retryable=retryable,
                request_id=exc.request_id,
                retry_after_s=retry_after_s(exc.response.headers.get("retry-after")),
            )
        if isinstance(exc, a.APITimeoutError):
            return ProviderError("anthropic timed out", retryable=True)
        if isinstance(exc, a.APIConnectionError):
            return ProviderError(f"can't reach anthropic: {short_message(exc)}", retryable=True)
        if isinstance(exc, a.APIError):
            # e.g. an `error` event inside a 200 stream
            return ProviderError(f"anthropic error: {short_message(exc)}", retryable=True)
        return ProviderError(
            f"anthropic client failed: {type(exc).__name__}: {exc}", retryable=True
        )

    async def create(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """One non-streamed message: (the Message as a dict, the request id)."""
        try:
            msg = await self._client.messages.create(**params)
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
            raise self._translate_call(exc) from None
        return msg.to_dict(), getattr(msg, "_request_id", None)

    async def stream(self, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The raw SSE events of one streamed message, as dicts."""
        try:
            stream = await self._client.messages.create(**params, stream=True)
        except Exception as exc:  # noqa: BLE001
            raise self._translate_call(exc) from None
        try:
            async for event in stream:
                yield event.to_dict()
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from None
        finally:
            await stream.close()

    async def count_tokens(self, params: dict[str, Any]) -> int:
        try:
            r = await self._client.messages.count_tokens(**params)
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from None
        return int(r.input_tokens)

    async def close(self) -> None:
        await self._client.close()
