"""Any OpenAI-compatible Chat Completions API as a cloud provider, through the official SDK.

Owns the ``openai`` SDK client (``AsyncOpenAI``, ``base_url`` and timeout from
config, SDK retries OFF: brb's chain owns retry and fall-through), the call
in both forms (whole and streamed, with ``stream_options.include_usage`` so
the usage arrives in the last chunk), and the translation of SDK errors into
:class:`~brb.errors.ProviderError` with the status, request id and
``retry-after``. It speaks brb's internal (Anthropic-shaped) params and
events on both sides; :mod:`brb.core.convert.to_openai` and ``from_openai``
do the conversion. The SDK takes long to import: it is imported when the
daemon builds this adapter, never by the light CLI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from brb.adapters.provider_failure import error_kind, retry_after_s, short_message
from brb.core.capabilities import openai_capabilities
from brb.core.convert.from_openai import ChunkReader, completion_to_message
from brb.core.convert.to_openai import to_chat_completions
from brb.errors import ProviderError

KIND = "openai"


class OpenAIProvider:
    api_version = ""  # Chat Completions has no version header

    def __init__(self, *, name: str, api_key: str, base_url: str, timeout_s: float) -> None:
        import openai

        self._openai = openai
        self.name = name
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
        )

    def _translate(self, exc: Exception) -> ProviderError:
        o = self._openai
        if isinstance(exc, o.APIStatusError):
            status = exc.status_code
            code = error_kind(exc.body, "code", "type")
            return ProviderError(
                f"{self.name} answered {status} {code}: {short_message(exc)}",
                status=status,
                retryable=status in (408, 409, 429) or status >= 500,
                request_id=exc.request_id,
                retry_after_s=retry_after_s(exc.response.headers.get("retry-after")),
            )
        if isinstance(exc, o.APITimeoutError):
            return ProviderError(f"{self.name} timed out", retryable=True)
        if isinstance(exc, o.APIConnectionError):
            return ProviderError(f"can't reach {self.name}: {short_message(exc)}", retryable=True)
        if isinstance(exc, o.APIError):  # e.g. an error chunk inside a 200 stream
            return ProviderError(f"{self.name} error: {short_message(exc)}", retryable=True)
        return ProviderError(
            f"{self.name} client failed: {type(exc).__name__}: {short_message(exc)}", retryable=True
        )

    async def create(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """One whole answer, as an Anthropic Message dict, and the request id."""
        chat = to_chat_completions(params, openai_capabilities(str(params["model"])))
        try:
            completion = await self._client.chat.completions.create(**chat.params)
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated
            raise self._translate(exc) from None
        message = completion_to_message(completion.to_dict(), json_tool=chat.json_tool)
        return message, getattr(completion, "_request_id", None)

    async def stream(self, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The answer as Anthropic stream events (dicts)."""
        chat = to_chat_completions(params, openai_capabilities(str(params["model"])))
        try:
            stream = await self._client.chat.completions.create(
                **chat.params, stream=True, stream_options={"include_usage": True}
            )
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from None
        reader = ChunkReader(json_tool=chat.json_tool)
        try:
            async for chunk in stream:
                for event in reader.feed(chunk.to_dict()):
                    yield event
            for event in reader.finish():
                yield event
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from None
        finally:
            await stream.close()

    async def stream_chat(self, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """A Chat Completions body sent as it is (a client's, see chat_passthrough), its
        chunks yielded as they come (dicts), the usage chunk last."""
        rest = {k: v for k, v in params.items() if k not in ("model", "messages")}
        try:
            stream = await self._client.chat.completions.create(
                model=params["model"],
                messages=params["messages"],
                stream=True,
                stream_options={"include_usage": True},
                extra_body=rest,  # the client's fields go as sent, unchecked by the SDK
            )
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from None
        try:
            async for chunk in stream:
                yield chunk.to_dict()
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from None
        finally:
            await stream.close()

    async def close(self) -> None:
        await self._client.close()
