"""A provider's streamed answer read into the client's: frames to relay, or the whole body.

Owns the two shapes a provider's answer arrives in, behind one reader
interface (``feed`` -> frames, ``has_content``, ``usage``, ``done_frames``,
``error_frame``, ``whole``), so the cloud leg runs one loop whatever the
provider and the client:

- :class:`MessagesReader`: Anthropic stream events (an OpenAI-compatible
  provider's chunks arrive already converted to them) rendered in the
  client's dialect by :class:`~.streaming.StreamRenderer`, or relayed as they
  are to a ``/v1/messages`` client; for a client that asked for a whole answer,
  the Message is assembled (:mod:`.assemble`) and rendered at the end.
- :class:`ChatReader`: Chat Completions chunks from an OpenAI-compatible
  provider relayed to an OpenAI client with minimal change
  (:mod:`.chat_passthrough`): the usage chunk only if the client asked for it,
  ``data: [DONE]`` at the end, or the whole ``chat.completion``.

``has_content`` turns True at the first real content (text, thinking, a tool
call): until then nothing has reached the client and the caller may still try
another provider. Must not do I/O or read the clock (``now`` comes in).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from brb.core.pricing import Usage
from brb.errors import ProviderError

from .assemble import MessageAssembler
from .chat_passthrough import CompletionAssembler, chunk_has_content, is_usage_only
from .from_openai import anthropic_usage
from .render_openai import DONE_FRAME
from .reply import compact_json
from .request import JSON, CloudRequest, Endpoint
from .streaming import StreamRenderer, render_message


class MessagesReader:
    """Anthropic stream events -> the client's frames or whole answer."""

    def __init__(
        self, endpoint: str, req: CloudRequest | None, *, is_stream: bool, now: datetime
    ) -> None:
        self._endpoint = endpoint
        self._req = req
        self._renderer = StreamRenderer(Endpoint(endpoint), req, now=now) if req else None
        self._whole = None if is_stream else MessageAssembler()
        self.usage = Usage()
        self.has_content = False

    def feed(self, event: JSON, *, now: datetime, elapsed_ns: int) -> list[bytes]:
        self.usage = merge_usage(self.usage, event)
        if self._renderer is None:
            if event.get("type") == "error":
                raise stream_error(event)
            frames = [sse_event(event)]
            self.has_content = self.has_content or event.get("type") == "content_block_delta"
        else:
            frames = self._renderer.feed(event, now=now, elapsed_ns=elapsed_ns)
            self.has_content = self._renderer.has_content
        if self._whole is not None:
            self._whole.feed(event)
            return []
        return frames

    def done_frames(self) -> list[bytes]:
        return []

    def error_frame(self, message: str) -> bytes:
        if self._renderer is not None:
            return self._renderer.error_frame(message)
        return sse_event({"type": "error", "error": {"type": "api_error", "message": message}})

    def whole(self, *, now: datetime, elapsed_ns: int) -> JSON:
        assert self._whole is not None
        message = self._whole.result()
        if self._req is None:
            return message
        return render_message(
            Endpoint(self._endpoint), message, self._req, now=now, elapsed_ns=elapsed_ns
        )


class ChatReader:
    """Chat Completions chunks relayed to an OpenAI client (see chat_passthrough)."""

    def __init__(self, *, is_stream: bool, include_usage: bool) -> None:
        self._is_stream = is_stream
        self._include_usage = include_usage
        self._whole = None if is_stream else CompletionAssembler()
        self.usage = Usage()
        self.has_content = False

    def feed(self, chunk: JSON, *, now: datetime, elapsed_ns: int) -> list[bytes]:
        if isinstance(chunk.get("usage"), dict):
            self.usage = Usage().updated(anthropic_usage(chunk["usage"]))
        self.has_content = self.has_content or chunk_has_content(chunk)
        if self._whole is not None:
            self._whole.feed(chunk)
            return []
        if is_usage_only(chunk) and not self._include_usage:
            return []
        return [b"data: " + compact_json(chunk) + b"\n\n"]

    def done_frames(self) -> list[bytes]:
        return [DONE_FRAME] if self._is_stream else []

    def error_frame(self, message: str) -> bytes:
        error = {"message": message, "type": "api_error", "param": None, "code": None}
        return b"data: " + compact_json({"error": error}) + b"\n\n"

    def whole(self, *, now: datetime, elapsed_ns: int) -> JSON:
        assert self._whole is not None
        return self._whole.result()


def merge_usage(usage: Usage, event: JSON) -> Usage:
    """The usage so far, after one Anthropic stream event (message_start has the
    prompt's, message_delta the cumulative output)."""
    kind = event.get("type")
    if kind == "message_start":
        return Usage().updated((event.get("message") or {}).get("usage"))
    if kind == "message_delta":
        return usage.updated(event.get("usage"))
    return usage


def stream_error(event: JSON) -> ProviderError:
    error = event.get("error") or {}
    kind = str(error.get("type", "api_error"))
    status = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500}.get(kind)
    return ProviderError(
        f"the cloud stream failed: {kind}: {error.get('message') or kind}",
        status=status,
        retryable=kind != "invalid_request_error",
    )


def sse_event(event: dict[str, Any]) -> bytes:
    return f"event: {event.get('type')}\ndata: {json.dumps(event)}\n\n".encode()
