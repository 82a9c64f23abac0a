"""Anthropic replies to client answers: ``render_message`` (whole) and ``StreamRenderer`` (SSE).

Owns reading the Anthropic stream (message_start, content_block_start /
_delta / _stop, message_delta, message_stop, ping, error; REFERENCE.md and
anthropic-sdk-python ``types/raw_message_stream_event.py``): blocks are
tracked by ``index`` and picked by type, so thinking may come first; text
deltas become content; ``input_json_delta`` pieces are accumulated into a
tool call, or in JSON mode are the content itself; ``signature_delta`` and
unknown event types are ignored. The client's framing is delegated to
render_ollama / render_openai.

An ``error`` event raises ``ProviderError`` (status from the error type,
``retryable`` for rate-limit/overload/api errors) from ``feed``. The caller
decides: while ``has_content`` is False nothing real has reached the client
and it may fall back to another provider or the local queue; after that it
ends the answer with ``error_frame(message)``.
Must not do I/O or read the clock: ``now`` and ``elapsed_ns`` come in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from brb.errors import ProviderError

from .render_ollama import OllamaFrames, render_ollama
from .render_openai import OpenAIFrames, render_openai
from .reply import ToolCall, Usage, read_message, tool_input
from .request import JSON, CloudRequest, Endpoint

# Anthropic error types (docs "Errors" page) -> HTTP status, and whether retrying may help.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_RETRYABLE = frozenset({429, 500, 529})


def render_message(
    endpoint: Endpoint, message: JSON, req: CloudRequest, *, now: datetime, elapsed_ns: int
) -> JSON:
    """An Anthropic Message (non-stream) as the full body the client expects."""
    reply = read_message(message, json_mode=req.json_mode)
    if Endpoint(endpoint) == Endpoint.OPENAI_CHAT:
        return render_openai(reply, req, now=now)
    return render_ollama(Endpoint(endpoint), reply, req, now=now, elapsed_ns=elapsed_ns)


class Frames(Protocol):
    """One client dialect's framing of a streamed answer (render_ollama, render_openai)."""

    def start(self, message_id: str, now: datetime) -> list[bytes]: ...
    def text(self, piece: str, now: datetime) -> list[bytes]: ...
    def thinking(self, piece: str, now: datetime) -> list[bytes]: ...
    def tool_start(self, index: int, call_id: str, name: str, now: datetime) -> list[bytes]: ...
    def tool_delta(self, index: int, partial_json: str, now: datetime) -> list[bytes]: ...
    def tool_end(self, index: int, call: ToolCall, now: datetime) -> list[bytes]: ...
    def finish(
        self,
        stop_reason: str | None,
        usage: Usage,
        *,
        has_tool_calls: bool,
        total_ns: int,
        prompt_eval_ns: int,
        now: datetime,
    ) -> list[bytes]: ...
    def error_frame(self, message: str) -> bytes: ...


@dataclass(slots=True)
class _Block:
    kind: str
    call_id: str = ""
    name: str = ""
    tool_index: int = -1
    json_pieces: list[str] = field(default_factory=list)


class StreamRenderer:
    """Turns one Anthropic event stream into the client's frames; one per streamed request."""

    def __init__(self, endpoint: Endpoint, req: CloudRequest, *, now: datetime) -> None:
        endpoint = Endpoint(endpoint)
        self._frames: Frames = (
            OpenAIFrames(req, now=now)
            if endpoint == Endpoint.OPENAI_CHAT
            else OllamaFrames(endpoint, req)
        )
        self._json_mode = req.json_mode
        self._blocks: dict[int, _Block] = {}
        self._usage = Usage()
        self._stop_reason: str | None = None
        self._tool_calls = 0
        self._first_delta_ns: int | None = None
        self._has_content = False
        self._is_finished = False
        self._handlers: dict[str, Callable[[JSON, datetime], list[bytes]]] = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_delta": self._block_delta,
            "content_block_stop": self._block_stop,
            "message_delta": self._message_delta,
        }

    @property
    def has_content(self) -> bool:
        """True once a frame carrying real content (text, thinking, a tool call) was produced."""
        return self._has_content

    @property
    def is_finished(self) -> bool:
        """True once ``message_stop`` was rendered (the answer is complete)."""
        return self._is_finished

    @property
    def usage(self) -> tuple[int, int]:
        """(input_tokens, output_tokens) as reported so far (Anthropic's own fields)."""
        return self._usage.input_tokens, self._usage.output_tokens

    @property
    def usage_detail(self) -> Usage:
        return self._usage

    def error_frame(self, message: str) -> bytes:
        """The frame that ends a broken stream in the client's dialect."""
        return self._frames.error_frame(message)

    def feed(self, event: JSON, *, now: datetime, elapsed_ns: int) -> list[bytes]:
        """One Anthropic SSE event (parsed JSON) -> zero or more framed bytes to send."""
        kind = event.get("type")
        if kind == "error":
            raise _provider_error(event)
        if kind == "message_stop":
            return self._message_stop(now, elapsed_ns)
        handler = self._handlers.get(str(kind))
        if handler is None:  # ping, and event types newer than this code
            return []
        if kind == "content_block_delta" and self._first_delta_ns is None:
            self._first_delta_ns = elapsed_ns
        return handler(event, now)

    def _content(self, frames: list[bytes]) -> list[bytes]:
        if frames:
            self._has_content = True
        return frames

    def _message_start(self, event: JSON, now: datetime) -> list[bytes]:
        message = event.get("message") or {}
        self._usage = self._usage.updated(message.get("usage"))
        return self._frames.start(str(message.get("id", "")), now)

    def _block_start(self, event: JSON, now: datetime) -> list[bytes]:
        start = event.get("content_block") or {}
        block = _Block(kind=str(start.get("type")))
        self._blocks[int(event.get("index", 0))] = block
        if block.kind == "text" and start.get("text") and not self._json_mode:
            return self._content(self._frames.text(str(start["text"]), now))
        if block.kind == "thinking" and start.get("thinking"):
            return self._content(self._frames.thinking(str(start["thinking"]), now))
        if block.kind == "tool_use" and not self._json_mode:
            block.call_id = str(start.get("id", ""))
            block.name = str(start.get("name", ""))
            block.tool_index = self._tool_calls
            self._tool_calls += 1
            return self._content(
                self._frames.tool_start(block.tool_index, block.call_id, block.name, now)
            )
        return []

    def _block_delta(self, event: JSON, now: datetime) -> list[bytes]:
        block = self._blocks.get(int(event.get("index", 0)))
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and not self._json_mode and delta.get("text"):
            return self._content(self._frames.text(str(delta["text"]), now))
        if kind == "thinking_delta" and delta.get("thinking"):
            return self._content(self._frames.thinking(str(delta["thinking"]), now))
        if kind == "input_json_delta" and block is not None and delta.get("partial_json"):
            piece = str(delta["partial_json"])
            if self._json_mode:
                return self._content(self._frames.text(piece, now))
            block.json_pieces.append(piece)
            return self._content(self._frames.tool_delta(block.tool_index, piece, now))
        return []

    def _block_stop(self, event: JSON, now: datetime) -> list[bytes]:
        block = self._blocks.get(int(event.get("index", 0)))
        if block is None or block.kind != "tool_use" or self._json_mode:
            return []
        call = ToolCall(block.call_id, block.name, tool_input("".join(block.json_pieces)))
        return self._content(self._frames.tool_end(block.tool_index, call, now))

    def _message_delta(self, event: JSON, now: datetime) -> list[bytes]:
        delta = event.get("delta") or {}
        if "stop_reason" in delta:
            self._stop_reason = delta["stop_reason"]
        self._usage = self._usage.updated(event.get("usage"))
        return []

    def _message_stop(self, now: datetime, elapsed_ns: int) -> list[bytes]:
        if self._is_finished:
            return []
        self._is_finished = True
        first = self._first_delta_ns if self._first_delta_ns is not None else elapsed_ns
        return self._frames.finish(
            self._stop_reason,
            self._usage,
            has_tool_calls=self._tool_calls > 0,
            total_ns=elapsed_ns,
            prompt_eval_ns=first,
            now=now,
        )


def _provider_error(event: JSON) -> ProviderError:
    error = event.get("error") or {}
    kind = str(error.get("type", "api_error"))
    status = _ERROR_STATUS.get(kind)
    message = str(error.get("message") or kind)
    return ProviderError(
        f"the cloud stream failed: {kind}: {message}",
        status=status,
        retryable=status is None or status in _RETRYABLE,
        request_id=event.get("request_id") if isinstance(event.get("request_id"), str) else None,
    )
