"""The HTTP front: every Ollama route, and the one routing decision per request.

Owns the aiohttp routes, reading and checking the bodies of the endpoints
brb reads (the inference ones; everything else goes to Ollama untouched, so
Ollama's own 404s come back as they are), the routing decision
(:class:`brb.router.Router`: the rules, then the policy) with the
``X-BRB-Cost-Estimate-USD`` every inference answer carries, the read-only
``POST /admin/big-red-button/estimate`` that shares that decision, and
the one mapping from brb errors to an HTTP status with an Ollama-style
``{"error": "..."}`` body: bad input is a 4xx, never a 500, a hang or a
traceback.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any

from aiohttp import web

from brb.config import BrbConfig
from brb.core import breaker
from brb.core.breaker import Observation
from brb.core.conversation import Conversation, read_conversation
from brb.core.convert.passthrough import check_fields
from brb.core.estimate import quick_cost_usd
from brb.core.policy import Decision
from brb.daemon.cloud import ANTHROPIC_MESSAGES, CloudLeg, Diversion
from brb.daemon.events import EventSink, RequestDone, Routed
from brb.daemon.leg import CloudRoute, Declined, LegResult
from brb.daemon.live_state import LiveState
from brb.daemon.queue_monitor import QueueMonitor
from brb.daemon.relay import LocalLeg
from brb.daemon.store_writer import StoreWriter
from brb.errors import BadRequest, BodyTooLarge, BrbError, UsageError
from brb.estimation import estimate_body, read_body
from brb.router import Router, RouteState

log = logging.getLogger(__name__)

INFERENCE_PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions", ANTHROPIC_MESSAGES)
COST_ESTIMATE_HEADER = "X-BRB-Cost-Estimate-USD"
ESTIMATE_PATH = "/admin/big-red-button/estimate"


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except BrbError as exc:
        if exc.http_status >= 500:
            log.warning("%s %s: %s", request.method, request.path, exc)
        return error_response(exc.http_status, str(exc))
    except web.HTTPException as exc:
        if exc.status == 413:
            return error_response(413, "request body too large")
        raise


def parse_body(raw: bytes, path: str) -> dict[str, Any]:
    """The JSON object of an inference request, or a BadRequest saying what is wrong."""
    if not raw.strip():
        raise BadRequest(f"{path}: empty body: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{path}: body is not valid UTF-8 (byte {exc.start})") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"{path}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(body, dict):
        raise BadRequest(f"{path}: the body must be a JSON object, not {type(body).__name__}")
    model = body.get("model")
    if model is None or model == "":
        raise BadRequest(f"{path}: model is required")
    if not isinstance(model, str):
        raise BadRequest(f"{path}: model must be a string")
    field = {
        "/api/chat": "messages",
        "/v1/chat/completions": "messages",
        ANTHROPIC_MESSAGES: "messages",
    }.get(path)
    if field is not None and field in body and not isinstance(body[field], list):
        raise BadRequest(f"{path}: {field} must be a list")
    if path == "/api/generate" and "prompt" in body and not isinstance(body["prompt"], str):
        raise BadRequest(f"{path}: prompt must be a string")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise BadRequest(f"{path}: stream must be true or false")
    if path == ANTHROPIC_MESSAGES:
        check_fields(body)
    return body


class Front:
    def __init__(
        self,
        cfg: BrbConfig,
        *,
        live: LiveState,
        monitor: QueueMonitor,
        local: LocalLeg,
        cloud: CloudLeg,
        writer: StoreWriter,
        clock: Callable[[], datetime],
        sink: EventSink,
    ) -> None:
        self.cfg = cfg
        self.live = live
        self.monitor = monitor
        self.local = local
        self.cloud = cloud
        self.writer = writer
        self.clock = clock
        self.router = Router(cfg)
        self.sink = sink
        self._day_cache: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")
        self.in_flight = 0

    def admin_routes(self) -> list[web.RouteDef]:
        """The front's route under the admin prefix (added before the prefix's 404)."""
        return [web.post(ESTIMATE_PATH, self.estimate)]

    def routes(self) -> list[web.RouteDef]:
        return [
            *(web.post(p, self.inference) for p in INFERENCE_PATHS),
            web.route("*", "/{tail:.*}", self.passthrough),
        ]

    async def passthrough(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return (await self.local.relay(request, None, model=None)).response
        finally:
            self.in_flight -= 1

    async def _read(self, request: web.Request) -> bytes:
        limit = self.cfg.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise BodyTooLarge(
                f"request body of {request.content_length} bytes is over max_body_bytes ({limit})"
            )
        try:
            return await request.read()  # aiohttp enforces client_max_size = max_body_bytes
        except web.HTTPRequestEntityTooLarge:
            raise BodyTooLarge(f"request body is over max_body_bytes ({limit})") from None

    async def inference(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return await self._inference(request)
        finally:
            self.in_flight -= 1

    def _state(self, model: str, now: datetime) -> tuple[RouteState, CloudRoute, Observation]:
        """The mode, breaker, queue and cloud route this arrival meets (reads only)."""
        would_queue, predicted, obs = self.monitor.arrival(model, time.monotonic())
        route = self.cloud.route(model)
        state = RouteState(
            mode=breaker.effective_mode(self.live.override, now),
            phase=self.live.phase,
            predicted_wait_s=predicted,
            would_queue=would_queue,
            queue_depth=obs.queue_depth,
            has_provider=bool(route.providers),
            is_model_priced=route.price is not None,
        )
        return state, route, obs

    def _decide(
        self, request: web.Request, body: dict[str, Any], conv: Conversation, now: datetime
    ) -> tuple[Decision, CloudRoute]:
        state, route, obs = self._state(body["model"], now)
        self.live.observe(obs, now)
        decision = self.router.route(
            request.path,
            body,
            conv,
            sessions=self._sessions(request),
            headers=request.headers,
            state=state,
        )
        if decision.provider in route.providers[1:]:  # a rule's provider: NAME goes first
            rest = tuple(p for p in route.providers if p != decision.provider)
            route = replace(route, providers=(decision.provider, *rest))
        return decision, route

    def _sessions(self, request: web.Request) -> list[str]:
        """Every copy of the session header: one matching value keeps it local."""
        return [s for s in request.headers.getall(self.cfg.session_header, ()) if s.strip()]

    def _cost_estimate(self, route: CloudRoute, conv: Conversation) -> dict[str, str]:
        """``X-BRB-Cost-Estimate-USD``: what answering in the cloud would about cost."""
        if route.price is None:
            return {}
        cost = quick_cost_usd(route.price, conv, default_max_tokens=self.cfg.models.max_tokens)
        return {COST_ESTIMATE_HEADER: f"{cost:.6f}"}

    async def estimate(self, request: web.Request) -> web.Response:
        """``POST /admin/big-red-button/estimate``: the estimate of a body, as ``brb
        estimate --json`` gives it, routed with the live state. No token: it changes
        nothing (the breaker is not stepped, nothing is reserved or logged)."""
        raw = await self._read(request)
        try:
            endpoint, body = read_body(raw.decode("utf-8"), request.query.get("endpoint"))
        except (UsageError, UnicodeDecodeError) as exc:
            raise BadRequest(f"estimate: {exc}") from None
        state, _, _ = self._state(str(body["model"]), self.clock())
        result = estimate_body(
            self.cfg,
            endpoint,
            body,
            state=state,
            sessions=self._sessions(request),
            headers=request.headers,
            router=self.router,
        )
        return web.json_response(result.to_json())

    async def _inference(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        raw = await self._read(request)
        body = parse_body(raw, path)
        model: str = body["model"]
        session = request.headers.get(self.cfg.session_header, "")
        now = self.clock()
        conv = read_conversation(path, body)
        decision, route = self._decide(request, body, conv, now)
        estimate = self._cost_estimate(route, conv)
        self.sink.publish(Routed(now, path, model, session, decision.divert, decision.reason))
        reason = decision.reason
        result: LegResult | Declined | None = None
        if decision.divert:
            diversion = Diversion(path, body, model, session, reason, route, estimate)
            result = await self.cloud.serve(request, diversion)
            if isinstance(result, Declined):
                reason = result.reason  # the cloud sent nothing: local, and why
        if not isinstance(result, LegResult):
            result = await self.local.relay(
                request, raw, model=model, reason=reason, extra_headers=estimate
            )
        row = result.row(now, self._day(now), path, model, session)
        self.writer.log_request(row)  # the replay's input, buffered off the request path
        self.sink.publish(RequestDone(row))
        return result.response

    def _day(self, at: datetime) -> str:
        """The budget day of ``at``, recomputed only when a local midnight passes."""
        until, day = self._day_cache
        if at < until:
            return day
        local = at.astimezone(self.cfg.tz)
        nxt = datetime.combine(local.date() + timedelta(days=1), dtime(0), tzinfo=self.cfg.tz)
        self._day_cache = (nxt, local.date().isoformat())
        return self._day_cache[1]
