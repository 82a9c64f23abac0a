"""A simulated Ollama: a real aiohttp server that queues and streams like the real one.

Owns: the HTTP surface (`/`, `/api/version`, `/api/tags`, `/api/ps`, `/api/show`,
`/api/chat`, `/api/generate`, `/api/embed`, `/v1/chat/completions`, `/v1/models`),
when bytes go out (a stream's first chunk only once the request holds a slot),
Ollama's error forms, where injected failures strike (armed through
`brb.sim.ollama_faults`: error answers, an error line mid-stream, a connection
cut mid-stream), and the record of requests received.

Must not: pretend to be a language model (the reply is fixed and deterministic), or
know about brb; the queue lives in `brb.sim.ollama_queue`, body shapes in
`brb.sim.ollama_wire`, each reply's text, timings and service time in
`brb.sim.ollama_reply`. Counters are plain attributes, safe to read from another thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from aiohttp import web

from brb.sim import ollama_reply as reply_shape
from brb.sim import ollama_wire as wire
from brb.sim.ollama_faults import MIDSTREAM_MESSAGE, OllamaFaults, cut
from brb.sim.ollama_queue import SlotQueue
from brb.sim.ollama_reply import ServiceTime
from brb.sim.ollama_wire import JSON, Reply, Timings
from brb.sim.token_speed import TokenSpeed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

VERSION = "0.12.6"
MAX_BODY_BYTES = 64 * 1024 * 1024
NOT_FOUND_TEXT = "404 page not found"


class _Refused(Exception):
    """A request answered with an error before it reaches a slot."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FakeOllama:
    """A simulated Ollama server; `app()` builds the aiohttp application to serve.

    `service_s` is the time a request holds its slot (a float, or a function of the
    request body); streams send their first chunk as soon as the slot is taken and
    spread the remaining `chunks - 1` pieces and the final object over that time.
    `models=None` accepts every model name; otherwise others get Ollama's 404.
    """

    def __init__(
        self,
        *,
        models: Sequence[str] | None = None,
        num_parallel: int = 1,
        service_s: ServiceTime = 0.0,
        chunks: int = 3,
        reply_text: str = "ok",
        version: str = VERSION,
        embedding_dimensions: int = 8,
        body_log_size: int = 1000,
        speed: TokenSpeed | None = None,
    ) -> None:
        self.models = None if models is None else tuple(wire.normalize_model(m) for m in models)
        self.service_s = service_s
        self.speed = speed  # set: each reply's length and time follow from its prompt
        self.chunks = chunks
        self.reply_text = reply_text
        self.version = version
        self.embedding_dimensions = embedding_dimensions
        self.queue = SlotQueue(num_parallel, body_log_size)
        self.received: Counter[str] = Counter()
        self.bodies: deque[JSON] = deque(maxlen=body_log_size)
        self.faults = OllamaFaults()

    # -- failure injection (brb.sim.ollama_faults) -------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, body: JSON | str | None = None) -> None:
        """The next `n` valid generation requests get `status` and `body` at once."""
        self.faults.fail_next(n, status, body)

    def error_midstream_next(self, n: int = 1, message: str = MIDSTREAM_MESSAGE) -> None:
        """The next `n` generation requests fail after the 200 (see OllamaFaults)."""
        self.faults.error_midstream_next(n, message)

    def reset_midstream_next(self, n: int = 1) -> None:
        """The next `n` generation requests lose their connection (see OllamaFaults)."""
        self.faults.reset_midstream_next(n)

    # -- application ---------------------------------------------------------------------

    def app(self) -> web.Application:
        """A fresh application; queue slots are made per application (per event loop)."""
        self.queue.reset_slots()
        app = web.Application(middlewares=[self._count_and_404], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self._root)
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/ps", self._ps)
        app.router.add_post("/api/show", self._show)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_post("/api/embed", self._embed)
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_get("/v1/models", self._openai_models)
        return app

    @web.middleware
    async def _count_and_404(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.received[request.path] += 1
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            # Ollama's router (gin) answers any unknown route or method this way.
            return web.Response(status=404, text=NOT_FOUND_TEXT)

    # -- simple endpoints ------------------------------------------------------------------

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": self.version})

    def _listed_models(self) -> list[str]:
        if self.models is not None:
            return list(self.models)
        return sorted(self.queue.loaded | {wire.DEFAULT_MODEL})

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response(wire.tags_body(self._listed_models(), reply_shape.now_rfc3339()))

    async def _ps(self, request: web.Request) -> web.Response:
        expires = datetime.now(UTC) + timedelta(minutes=5)
        return web.json_response(wire.ps_body(sorted(self.queue.loaded), expires.isoformat()))

    async def _openai_models(self, request: web.Request) -> web.Response:
        return web.json_response(wire.openai_models(self._listed_models(), int(time.time())))

    async def _show(self, request: web.Request) -> web.Response:
        try:
            body = await self._json_body(request, "ShowRequest")
            model = body.get("model") or body.get("name")
            if not isinstance(model, str) or not model:
                raise _Refused(400, "model is required")
            if not self._is_known(model):
                raise _Refused(404, f"model '{model}' not found")
        except _Refused as refused:
            return web.json_response({"error": refused.message}, status=refused.status)
        return web.json_response(wire.show_body(reply_shape.now_rfc3339()))

    # -- request checks --------------------------------------------------------------------

    async def _json_body(self, request: web.Request, go_type: str) -> JSON:
        raw = await request.read()
        if not raw.strip():
            raise _Refused(400, "missing request body")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _Refused(400, f"invalid character in request body: {exc}") from None
        if not isinstance(body, dict):
            kind = type(body).__name__.replace("list", "array").replace("str", "string")
            raise _Refused(
                400, f"json: cannot unmarshal {kind} into Go value of type api.{go_type}"
            )
        self.bodies.append(body)
        return body

    def _is_known(self, model: str) -> bool:
        return self.models is None or wire.normalize_model(model) in self.models

    def _checked_model(self, body: JSON) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _Refused(400, "model is required")
        if not self._is_known(model):
            raise _Refused(404, f'model "{model}" not found, try pulling it first')
        return model

    # -- generation endpoints ----------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._generation(request, is_chat=True)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        return await self._generation(request, is_chat=False)

    async def _generation(self, request: web.Request, is_chat: bool) -> web.StreamResponse:
        arrived_s = time.monotonic()
        try:
            body = await self._json_body(request, "ChatRequest" if is_chat else "GenerateRequest")
            model = self._checked_model(body)
            messages = body.get("messages") if is_chat else None
            if is_chat and messages is not None and not isinstance(messages, list):
                raise _Refused(400, "json: cannot unmarshal messages into []api.Message")
        except _Refused as refused:
            return web.json_response({"error": refused.message}, status=refused.status)
        if (is_chat and not messages) or (not is_chat and not body.get("prompt")):
            return web.json_response(reply_shape.load_answer(model, is_chat))
        failure = self.faults.take_failure(is_openai=False)
        if failure is not None:
            return failure
        reply = reply_shape.reply_for(model, body, self.reply_text, self.chunks, self.speed)
        is_stream = body.get("stream", True) is not False
        service_s = reply_shape.service_time(body, self.service_s, self.speed)

        async def serve(wait_s: float) -> web.StreamResponse:
            if is_stream:
                return await self._stream_native(request, reply, is_chat, wait_s, service_s)
            return await self._whole_native(request, reply, is_chat, wait_s, service_s)

        return await self.queue.hold(request.path, wire.normalize_model(model), arrived_s, serve)

    async def _whole_native(
        self, request: web.Request, reply: Reply, is_chat: bool, wait_s: float, service_s: float
    ) -> web.StreamResponse:
        await asyncio.sleep(service_s)
        if self.faults.midstream:
            return web.json_response({"error": self.faults.midstream.popleft()}, status=500)
        if self.faults.take_reset():
            return cut(request)
        final = reply_shape.final_native(
            reply, is_chat, reply.text, reply_shape.timings(reply, wait_s, service_s, self.speed)
        )
        return web.json_response(final)

    async def _stream_native(
        self,
        request: web.Request,
        reply: Reply,
        is_chat: bool,
        wait_s: float,
        service_s: float,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        chunk = wire.chat_chunk if is_chat else wire.generate_chunk
        step_s = service_s / len(reply.pieces)
        for index, piece in enumerate(reply.pieces):
            await response.write(wire.ndjson_line(chunk(reply.model, reply.created_at, piece)))
            if index == 0 and self.faults.midstream:
                await response.write(wire.ndjson_line({"error": self.faults.midstream.popleft()}))
                await response.write_eof()
                return response
            if index == 0 and self.faults.take_reset():
                return cut(request, response)
            await asyncio.sleep(step_s)
        timings = reply_shape.timings(reply, wait_s, service_s, self.speed)
        await response.write(
            wire.ndjson_line(reply_shape.final_native(reply, is_chat, "", timings))
        )
        await response.write_eof()
        return response

    async def _embed(self, request: web.Request) -> web.StreamResponse:
        arrived_s = time.monotonic()
        try:
            body = await self._json_body(request, "EmbedRequest")
            model = self._checked_model(body)
            raw_input = body.get("input", [])
            inputs = [raw_input] if isinstance(raw_input, str) else raw_input
            if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
                raise _Refused(400, "invalid input type")
        except _Refused as refused:
            return web.json_response({"error": refused.message}, status=refused.status)
        failure = self.faults.take_failure(is_openai=False)
        if failure is not None:
            return failure
        service_s = reply_shape.service_time(body, self.service_s, self.speed)

        async def serve(wait_s: float) -> web.StreamResponse:
            await asyncio.sleep(service_s)
            timings = Timings.split(wait_s, service_s)
            return web.json_response(
                {
                    "model": model,
                    "embeddings": wire.embeddings(inputs, self.embedding_dimensions),
                    "total_duration": timings.total_ns,
                    "load_duration": timings.load_ns,
                    "prompt_eval_count": sum(max(1, len(i) // 4) for i in inputs),
                }
            )

        return await self.queue.hold(request.path, wire.normalize_model(model), arrived_s, serve)

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        arrived_s = time.monotonic()
        try:
            body = await self._json_body(request, "ChatCompletionRequest")
            model = self._checked_model(body)
            if not isinstance(body.get("messages"), list) or not body["messages"]:
                raise _Refused(400, "[] is too short - 'messages'")
        except _Refused as refused:
            error = wire.openai_error(refused.status, refused.message)
            return web.json_response(error, status=refused.status)
        failure = self.faults.take_failure(is_openai=True)
        if failure is not None:
            return failure
        reply = reply_shape.reply_for(model, body, self.reply_text, self.chunks, self.speed)
        usage = (reply.prompt_tokens, len(reply.pieces))
        options = body.get("stream_options")
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        service_s = reply_shape.service_time(body, self.service_s, self.speed)

        async def serve(wait_s: float) -> web.StreamResponse:
            if body.get("stream") is not True:
                await asyncio.sleep(service_s)
                if self.faults.midstream:
                    error = wire.openai_error(500, self.faults.midstream.popleft())
                    return web.json_response(error, status=500)
                if self.faults.take_reset():
                    return cut(request)
                completion = wire.openai_completion(
                    reply.completion_id, reply.created, model, reply.text, usage
                )
                return web.json_response(completion)
            return await self._stream_openai(request, reply, service_s, wants_usage)

        return await self.queue.hold(request.path, wire.normalize_model(model), arrived_s, serve)

    async def _stream_openai(
        self, request: web.Request, reply: Reply, service_s: float, wants_usage: bool
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        ident, created, model = reply.completion_id, reply.created, reply.model
        step_s = service_s / len(reply.pieces)
        for index, piece in enumerate(reply.pieces):
            await response.write(
                wire.sse_event(wire.openai_chunk(ident, created, model, piece, None))
            )
            if index == 0 and self.faults.midstream:
                await response.write(
                    wire.sse_event(wire.openai_error(500, self.faults.midstream.popleft()))
                )
                await response.write_eof()
                return response
            if index == 0 and self.faults.take_reset():
                return cut(request, response)
            await asyncio.sleep(step_s)
        await response.write(wire.sse_event(wire.openai_chunk(ident, created, model, "", "stop")))
        if wants_usage:
            usage = (reply.prompt_tokens, len(reply.pieces))
            await response.write(
                wire.sse_event(wire.openai_usage_chunk(ident, created, model, usage))
            )
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
