"""A simulated OpenAI-compatible Chat Completions API: a real aiohttp server, strict as the real.

Owns ``POST /v1/chat/completions`` (JSON, or SSE chunks ending in
``data: [DONE]``, with a usage chunk when ``stream_options.include_usage``),
``GET /v1/models``, bearer-key auth, the ``x-request-id`` header, OpenAI's
error body ``{"error": {"message", "type", "param", "code"}}``, injected
failures like the fake Anthropic's (``fail_next`` with an optional
``retry-after``, ``latency_s`` before the headers, ``first_token_delay_s``
after them, ``hang``, ``error_after`` an in-stream error) and the record of
every request. The request rules live in :mod:`brb.sim.openai_rules`.
``reasoning_field`` names where reasoning is returned when
``reasoning_effort`` is asked (``reasoning_content`` as DeepSeek and vLLM;
the official API returns none).
Must not know about brb.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from brb.sim.anthropic_reply import sample_input, tokens_of
from brb.sim.openai_rules import ApiError, is_reasoning_model, validate_body
from brb.sim.recorded import RecordedRequest

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)

DEFAULT_API_KEY = "sk-openai-sim-key"
DEFAULT_REPLY = "Hello from the simulated GPT."
REASONING_TEXT = "Weighing the question."
_ERROR_TYPES = {
    429: ("rate_limit_exceeded", "requests"),
    500: ("server_error", "server_error"),
    503: ("server_error", "server_error"),
    529: ("overloaded", "server_error"),
}


@dataclass(frozen=True, slots=True)
class _Failure:
    error: ApiError
    retry_after: float | None


class FakeOpenAI:
    """A simulated OpenAI-compatible API; ``app()`` builds the aiohttp application.

    ``api_key=None`` accepts any key; ``models=None`` any model id (else a 404
    ``model_not_found``). Knobs are attributes and may change while serving."""

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        reply_text: str = DEFAULT_REPLY,
        models: list[str] | None = None,
        latency_s: float = 0.0,
        first_token_delay_s: float = 0.0,
        hang: bool = False,
        reasoning_field: str | None = "reasoning_content",
    ) -> None:
        self.api_key = api_key
        self.reply_text = reply_text
        self.models = models
        self.latency_s = latency_s
        self.first_token_delay_s = first_token_delay_s
        self.hang = hang
        self.reasoning_field = reasoning_field
        self.requests: list[RecordedRequest] = []
        self.received: Counter[str] = Counter()
        self.answered: Counter[int] = Counter()
        self._failures: deque[_Failure] = deque()
        self._error_after: deque[int] = deque()
        self._sequence = 0

    # -- failure injection -------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The next ``n`` valid completions get this error instead of an answer."""
        code, kind = _ERROR_TYPES.get(status, ("invalid_request_error", "invalid_request_error"))
        text = message or {429: "Rate limit reached for requests"}.get(status, "Simulated failure")
        error = ApiError(status, text, type=kind, code=code)
        self._failures.extend([_Failure(error, retry_after)] * n)

    def error_after(self, n_chunks: int, times: int = 1) -> None:
        """The next ``times`` streams send ``n_chunks`` content chunks, then an error chunk."""
        self._error_after.extend([n_chunks] * times)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    # -- application ---------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._stamp])
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        return app

    def _next_id(self) -> str:
        self._sequence += 1
        return f"{self._sequence:012d}"

    @web.middleware
    async def _stamp(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.received[request.path] += 1
        request_id = "req_sim" + self._next_id()
        request[REQUEST_ID] = request_id
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = _error_response(ApiError(exc.status, exc.reason, code="not_found"))
        if not response.prepared:
            response.headers["x-request-id"] = request_id
        self.answered[response.status] += 1
        return response

    def _auth(self, request: web.Request) -> ApiError | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
        return None

    async def _models(self, request: web.Request) -> web.StreamResponse:
        error = self._auth(request)
        if error is not None:
            return _error_response(error)
        data = [{"id": m, "object": "model", "owned_by": "sim"} for m in self.models or []]
        return web.json_response({"object": "list", "data": data})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: object = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            RecordedRequest(request.method, request.path, headers, body, request[REQUEST_ID])
        )
        error = self._auth(request) or validate_body(body)
        if error is None and self.models is not None:
            assert isinstance(body, dict)
            if body["model"] not in self.models:
                error = ApiError(
                    404,
                    f"The model `{body['model']}` does not exist or you do not have access to it.",
                    code="model_not_found",
                )
        if error is not None:
            return _error_response(error)
        assert isinstance(body, dict)
        if self.hang:
            await asyncio.Event().wait()
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if self._failures:
            failure = self._failures.popleft()
            return _error_response(failure.error, failure.retry_after)
        answer = _plan(body, self.reply_text, self.reasoning_field)
        completion_id = "chatcmpl-sim" + self._next_id()
        if body.get("stream") is True:
            return await self._stream(request, body, answer, completion_id)
        return web.json_response(_completion(body, answer, completion_id))

    async def _stream(
        self, request: web.Request, body: JSON, answer: _Answer, completion_id: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "x-request-id": request[REQUEST_ID],
            }
        )
        await response.prepare(request)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        envelope: JSON = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": 1764400000,
            "model": body["model"],
        }
        if include_usage:
            envelope["usage"] = None

        async def send(choices: list[JSON], **extra: Any) -> None:
            await response.write(_sse({**envelope, "choices": choices, **extra}))

        def delta(d: JSON, finish: str | None = None) -> list[JSON]:
            return [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]

        error_after = self._error_after.popleft() if self._error_after else None
        await send(delta({"role": "assistant", "content": "", "refusal": None}))
        if self.first_token_delay_s > 0:
            await asyncio.sleep(self.first_token_delay_s)
        for sent, piece in enumerate(answer.stream_deltas()):
            if error_after is not None and sent >= error_after:
                error = ApiError(
                    500,
                    "The server had an error while processing your request.",
                    type="server_error",
                )
                await response.write(_sse(error.body()))
                await response.write_eof()
                return response
            await send(delta(piece))
        await send(delta({}, answer.finish_reason))
        if include_usage:
            await response.write(_sse({**envelope, "choices": [], "usage": answer.usage()}))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


@dataclass(frozen=True, slots=True)
class _Answer:
    content: str | None
    reasoning: tuple[str, str] | None  # (field, text)
    tool_call: JSON | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    def usage(self) -> JSON:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
        }

    def stream_deltas(self) -> list[JSON]:
        out: list[JSON] = []
        if self.reasoning is not None:
            name, text = self.reasoning
            out += [{name: p} for p in tokens_of(text)]
        if self.content:
            out += [{"content": p} for p in tokens_of(self.content)]
        if self.tool_call is not None:
            call = self.tool_call
            args = call["function"]["arguments"]
            head = {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            out.append({"tool_calls": [head]})
            middle = len(args) // 2
            for part in (args[:middle], args[middle:]):
                out.append({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
        return out


def _plan(body: JSON, reply_text: str, reasoning_field: str | None) -> _Answer:
    prompt = math.ceil(len(json.dumps(body.get("messages"))) / 4) + 3
    budget = body.get("max_completion_tokens") or body.get("max_tokens") or 4096
    reasoning = None
    if body.get("reasoning_effort") and is_reasoning_model(body["model"]) and reasoning_field:
        reasoning = (reasoning_field, REASONING_TEXT)
    tool = _forced_tool(body)
    if tool is not None:
        arguments = json.dumps(sample_input(tool.get("parameters")))
        call = {
            "id": "call_sim" + str(abs(hash(arguments)) % 10**8),
            "type": "function",
            "function": {"name": tool["name"], "arguments": arguments},
        }
        return _Answer(None, reasoning, call, "tool_calls", prompt, math.ceil(len(arguments) / 4))
    fmt = (body.get("response_format") or {}).get("type")
    if fmt == "json_object":
        text = json.dumps({"reply": reply_text})
    elif fmt == "json_schema":
        text = json.dumps(sample_input(body["response_format"]["json_schema"].get("schema")))
    else:
        text = reply_text
    pieces = tokens_of(text)
    finish = "stop"
    if len(pieces) > budget:
        pieces, finish = pieces[:budget], "length"
    return _Answer("".join(pieces), reasoning, None, finish, prompt, len(pieces))


def _forced_tool(body: JSON) -> JSON | None:
    tools: list[JSON] = [t["function"] for t in body.get("tools") or []]
    choice = body.get("tool_choice")
    if choice == "required" and tools:
        return tools[0]
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t["name"] == name), None)
    return None


def _completion(body: JSON, answer: _Answer, completion_id: str) -> JSON:
    message: JSON = {"role": "assistant", "content": answer.content, "refusal": None}
    if answer.reasoning is not None:
        message[answer.reasoning[0]] = answer.reasoning[1]
    if answer.tool_call is not None:
        message["tool_calls"] = [answer.tool_call]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1764400000,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": answer.usage(),
    }


def _sse(obj: JSON) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _error_response(error: ApiError, retry_after: float | None = None) -> web.Response:
    response = web.json_response(error.body(), status=error.status)
    if retry_after is not None:
        response.headers["retry-after"] = f"{retry_after:g}"
    return response
