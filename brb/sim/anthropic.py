"""A simulated Anthropic Messages API: a real aiohttp server, strict like the real one.

Owns: `POST /v1/messages` (JSON or SSE stream) and `POST /v1/messages/count_tokens`,
the prompt cache (which prefixes were written, so a repeat reads them: usage
then reports cache reads and 5-minute and 1-hour cache writes like the real API),
the `request-id` header on every answer, Anthropic's error body, injected failures
(`fail_next`, `error_event_after`, `stall_after`, `reset_next`, `reset_after`,
`latency_s`, `hang`), the record of every request received, for assertions, and
the tally of what each answer produced (`produced`: the usage a bill would show,
cut-off streams included: input and cache tokens once the answer starts, output
tokens as each delta is generated).

Must not: hold request rules or reply shapes itself (`brb.sim.anthropic_rules`,
`brb.sim.anthropic_reply`), or know about brb.

Thread note: state is plain attributes; with `serve_in_thread` a test may arm
failures and read records from its own thread (deque and int operations are atomic).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from aiohttp import web

from brb.sim import anthropic_reply as reply
from brb.sim.anthropic_rules import (
    MAX_BODY_BYTES,
    AnthropicRules,
    ApiError,
    check_headers,
    invalid,
    validate_body,
)
from brb.sim.recorded import RecordedRequest

log = logging.getLogger(__name__)
# Set by the middleware, read by handlers in the same task: the id the answer will carry.
_CURRENT_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

JSON = reply.JSON
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_API_KEY = "sk-ant-sim-key"
DEFAULT_REPLY = "Hello from the simulated Claude."
OVERLOADED = ApiError(529, "overloaded_error", "Overloaded")
DEFAULT_MESSAGES = {
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "overloaded_error": "Overloaded",
    "api_error": "Internal server error",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
}


@dataclass(slots=True)
class Produced:
    """What one answer produced, as a bill would count it: the prompt's split once the
    answer started, and the output tokens generated so far (all of them once whole)."""

    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    finished: bool = False


@dataclass(frozen=True, slots=True)
class _Failure:
    error: ApiError
    retry_after: float | None


class FakeAnthropic:
    """A simulated Anthropic API; `app()` builds the aiohttp application to serve.

    `api_key=None` accepts any key. `models=None` accepts any model id; otherwise
    others get a 404 not_found_error. `thinking=True` starts every answer with a
    thinking block. Knobs are attributes and may be changed while serving.
    """

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        reply_text: str = DEFAULT_REPLY,
        models: Sequence[str] | None = None,
        rules: AnthropicRules | None = None,
        thinking: bool = False,
        latency_s: float = 0.0,
        delta_interval_s: float = 0.0,
        hang: bool = False,
    ) -> None:
        self.api_key = api_key
        self.reply_text = reply_text
        self.models = None if models is None else tuple(models)
        self.rules = rules if rules is not None else AnthropicRules()
        self.thinking = thinking
        self.latency_s = latency_s
        self.delta_interval_s = delta_interval_s
        self.hang = hang
        self.requests: list[RecordedRequest] = []
        self.received: Counter[str] = Counter()
        self.answered: Counter[int] = Counter()
        self._failures: deque[_Failure] = deque()
        self._error_after: deque[int] = deque()
        self._stall_after: deque[int] = deque()
        self._reset_next = 0
        self._reset_after: deque[int] = deque()
        self.produced: dict[str, Produced] = {}  # by request-id
        self._sequence: Counter[str] = Counter()
        self._cached: set[str] = set()  # prefix keys written to the prompt cache

    # -- failure injection -------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 529,
        error_type: str = "overloaded_error",
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """The next `n` valid `/v1/messages` requests get this error instead of an answer."""
        text = message or DEFAULT_MESSAGES.get(error_type, "Simulated failure")
        self._failures.extend([_Failure(ApiError(status, error_type, text), retry_after)] * n)

    def error_event_after(self, n_deltas: int, times: int = 1) -> None:
        """The next `times` streaming requests send a 200, `n_deltas` content deltas, then
        an `event: error` (overloaded_error) and close. Non-streaming requests ignore it."""
        self._error_after.extend([n_deltas] * times)

    def stall_after(self, n_deltas: int, times: int = 1) -> None:
        """The next `times` streaming requests send a 200, `n_deltas` content deltas, then
        nothing more, never closing (a provider gone quiet: the client's timeout ends it)."""
        self._stall_after.extend([n_deltas] * times)

    def reset_next(self, n: int = 1) -> None:
        """The next `n` valid `/v1/messages` requests get no answer at all: the connection
        is cut as soon as the request is read (a reset before any content)."""
        self._reset_next += n

    def reset_after(self, n_deltas: int, times: int = 1) -> None:
        """The next `times` streaming requests send a 200, `n_deltas` content deltas, then
        the connection is cut: no error event, no end (a reset after content)."""
        self._reset_after.extend([n_deltas] * times)

    def produced_usage(self) -> list[Produced]:
        """Every answer's tally, in the order they started."""
        return list(self.produced.values())

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/messages"]

    # -- application ---------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._stamp_request_id], client_max_size=MAX_BODY_BYTES + 1024 * 1024
        )
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        return app

    def _next_id(self, prefix: str) -> str:
        self._sequence[prefix] += 1
        return f"{prefix}_sim{self._sequence[prefix]:020d}"

    @web.middleware
    async def _stamp_request_id(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.received[request.path] += 1
        request_id = self._next_id("req")
        _CURRENT_REQUEST_ID.set(request_id)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # unknown route, wrong method, body over the cap
            kind = {404: "not_found_error", 413: "request_too_large"}
            error_type = kind.get(exc.status, "invalid_request_error")
            message = DEFAULT_MESSAGES.get(error_type, exc.reason)
            response = _error_response(ApiError(exc.status, error_type, message))
        if not response.prepared:
            response.headers["request-id"] = request_id
        self.answered[response.status] += 1
        return response

    # -- endpoints -------------------------------------------------------------------------

    async def _read(self, request: web.Request) -> tuple[object, ApiError | None]:
        """Record the request; return its body and the first header or body problem."""
        raw = await request.read()
        try:
            body: object = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            RecordedRequest(request.method, request.path, headers, body, _CURRENT_REQUEST_ID.get())
        )
        error = check_headers(request.headers, self.api_key)
        if error is not None:
            return body, error
        if len(raw) > MAX_BODY_BYTES:
            return body, ApiError(413, "request_too_large", DEFAULT_MESSAGES["request_too_large"])
        if body is None:
            return body, invalid("There was an error parsing the body of your request as JSON.")
        return body, None

    def _validate(self, request: web.Request, body: object, is_count: bool) -> ApiError | None:
        version = request.headers.get("anthropic-version", "")
        error = validate_body(body, rules=self.rules, api_version=version, is_count_tokens=is_count)
        if error is None and self.models is not None:
            assert isinstance(body, dict)
            if body["model"] not in self.models:
                error = ApiError(404, "not_found_error", f"model: {body['model']}")
        return error

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        body, error = await self._read(request)
        error = error or self._validate(request, body, is_count=True)
        if error is not None:
            return _error_response(error)
        assert isinstance(body, dict)
        return web.json_response({"input_tokens": reply.count_input_tokens(body)})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body, error = await self._read(request)
        error = error or self._validate(request, body, is_count=False)
        if error is not None:
            return _error_response(error)
        assert isinstance(body, dict)
        if self.hang:
            return await self._hang()
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if self._failures:
            failure = self._failures.popleft()
            log.debug("injected failure %s for %s", failure.error.status, _CURRENT_REQUEST_ID.get())
            return _error_response(failure.error, failure.retry_after)
        if self._reset_next > 0:
            self._reset_next -= 1
            return _cut(request)
        message_id = self._next_id("msg")
        plan = reply.plan_reply(
            body,
            reply_text=self.reply_text,
            tool_id=self._next_id("toolu"),
            thinking=self.thinking,
        )
        plan = replace(plan, cache=self._cache_split(body, plan.input_tokens))
        split = plan.split
        tally = Produced(
            str(body["model"]),
            split.input_tokens,
            0,
            split.cache_read_tokens,
            split.cache_write_5m_tokens,
            split.cache_write_1h_tokens,
        )
        self.produced[_CURRENT_REQUEST_ID.get()] = tally
        if body.get("stream") is True:
            return await self._stream(request, plan, message_id, body["model"], tally)
        tally.output_tokens, tally.finished = plan.output_tokens, True
        return web.json_response(reply.message_json(plan, message_id, body["model"]))

    def _cache_split(self, body: JSON, input_tokens: int) -> reply.CacheSplit:
        prefix = reply.cache_prefix(body)
        if prefix is None or prefix.tokens > input_tokens:
            return reply.CacheSplit(input_tokens)
        rest = input_tokens - prefix.tokens
        if prefix.key in self._cached:
            return reply.CacheSplit(rest, cache_read_tokens=prefix.tokens)
        self._cached.add(prefix.key)
        if prefix.ttl == "1h":
            return reply.CacheSplit(rest, cache_write_1h_tokens=prefix.tokens)
        return reply.CacheSplit(rest, cache_write_5m_tokens=prefix.tokens)

    async def _hang(self) -> web.Response:
        """Never answer. The handler ends only when cancelled: by the client going away
        (`serve` turns on handler cancellation) or by the server's short shutdown."""
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def _stream(
        self,
        request: web.Request,
        plan: reply.Plan,
        message_id: str,
        model: str,
        tally: Produced,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "request-id": _CURRENT_REQUEST_ID.get(),
            }
        )
        await response.prepare(request)
        error_after = self._error_after.popleft() if self._error_after else None
        stall_after = self._stall_after.popleft() if self._stall_after else None
        reset_after = self._reset_after.popleft() if self._reset_after else None
        events = reply.stream_events(plan, message_id, model)
        n_deltas = sum(1 for event, _ in events if event == "content_block_delta")
        tally.output_tokens = 1  # what message_start reports
        deltas_sent = 0
        for event, data in events:
            if event == "content_block_delta":
                if error_after is not None and deltas_sent >= error_after:
                    break
                if stall_after is not None and deltas_sent >= stall_after:
                    return await self._hang()
                if reset_after is not None and deltas_sent >= reset_after:
                    return _cut(request, response)
                if self.delta_interval_s > 0:
                    await asyncio.sleep(self.delta_interval_s)
                deltas_sent += 1
                generated = -(-plan.output_tokens * deltas_sent // n_deltas)  # rounded up
                tally.output_tokens = max(tally.output_tokens, generated)
            await response.write(reply.sse(event, data))
        if error_after is not None and deltas_sent >= error_after:
            await response.write(reply.sse("error", OVERLOADED.body()))
        else:
            tally.output_tokens, tally.finished = plan.output_tokens, True
        await response.write_eof()
        return response


def _cut(request: web.Request, response: web.StreamResponse | None = None) -> web.StreamResponse:
    """Cut the connection where it stands (no answer, or no end to one already started).

    The answer returned goes nowhere: aiohttp's write to the closed transport is
    its quiet "client disconnected" path, not a handler error."""
    if request.transport is not None:
        request.transport.abort()
    return response if response is not None else web.Response(status=204)


def _error_response(error: ApiError, retry_after: float | None = None) -> web.Response:
    response = web.json_response(error.body(), status=error.status)
    if retry_after is not None:
        response.headers["retry-after"] = f"{retry_after:g}"
    return response
