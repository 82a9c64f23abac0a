"""The HTTP front: every Ollama route, and the one routing decision per request.

Owns the aiohttp routes, reading the bodies of the endpoints brb reads (the
inference ones, checked by :mod:`brb.daemon.request_body`; everything else
goes to Ollama untouched, so Ollama's own 404s come back as they are, except
a pool's ``/api/tags`` and ``/api/ps``: :mod:`brb.daemon.pool_lists`), the routing decision
(:class:`brb.router.Router`: the rules, then the policy) with the
``X-BRB-Cost-Estimate-USD`` every inference answer carries, the read-only
``POST /admin/big-red-button/estimate`` that shares that decision, and
the one mapping from brb errors to an HTTP status with an Ollama-style
``{"error": "..."}`` body: bad input is a 4xx, never a 500, a hang or a
traceback.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from brb.config import BrbConfig
from brb.core import breaker
from brb.core.breaker import Observation, Phase
from brb.core.conversation import Conversation, read_conversation
from brb.core.estimate import quick_cost_usd
from brb.core.policy import Decision
from brb.core.prompt_size import request_shape
from brb.core.queueing import with_arrival
from brb.core.service_model import ReplyLengths, RequestShape
from brb.core.waiting_room import Verdict
from brb.daemon.cloud import ANTHROPIC_MESSAGES, CloudLeg, Diversion
from brb.daemon.connections import cancelled_if_client_leaves
from brb.daemon.events import EventSink, RequestDone, Routed
from brb.daemon.leg import CloudRoute, Declined, LegResult
from brb.daemon.live_state import LiveState
from brb.daemon.pool_lists import pool_passthrough
from brb.daemon.queue_monitor import QueueMonitor
from brb.daemon.relay import LocalLeg
from brb.daemon.request_body import decode_body, is_stream, parse_body
from brb.daemon.store_writer import StoreWriter
from brb.errors import (
    BadRequest,
    BodyTooLarge,
    BrbError,
    ClientGone,
    ClientTooSlow,
    UpstreamRefused,
    UsageError,
)
from brb.estimation import estimate_body, read_body
from brb.router import Router, RouteState

log = logging.getLogger(__name__)

INFERENCE_PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions", ANTHROPIC_MESSAGES)
COST_ESTIMATE_HEADER = "X-BRB-Cost-Estimate-USD"
ADMIN_PREFIX = "/admin/big-red-button"
ESTIMATE_PATH = ADMIN_PREFIX + "/estimate"
_SLASHES = re.compile(r"/+")


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def is_admin_path(path: str) -> bool:
    """Whether ``path`` is, however spelt, under the admin prefix: never forwarded."""
    folded = _SLASHES.sub("/", unquote(path)).lower()
    return folded == ADMIN_PREFIX or folded.startswith(ADMIN_PREFIX + "/")


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ClientTooSlow as exc:
        # answer, then cut the connection: no lingering read of the rest of the body
        response = error_response(exc.http_status, str(exc))
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        request.protocol.force_close()
        return response
    except BrbError as exc:
        if exc.http_status >= 500:
            log.warning("%s %s: %s", request.method, request.path, exc)
        return error_response(exc.http_status, str(exc))
    except web.HTTPException as exc:
        if exc.status == 413:
            return error_response(413, "request body too large")
        raise


@dataclass(frozen=True, slots=True)
class _Turn:
    """A local request waiting in brb's room: what it needs to go either way."""

    path: str
    body: dict[str, Any]
    raw: bytes
    conv: Conversation
    session: str
    shape: RequestShape
    arrived_s: float  # monotonic
    estimate: dict[str, str]


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
        if is_admin_path(request.path) or is_admin_path(request.raw_path):
            # a spelling of the admin prefix the routes did not match (doubled slashes,
            # other case, escapes): still brb's, and its Authorization header stays here
            return error_response(404, f"no such admin endpoint: {request.method} {request.path}")
        self.in_flight += 1
        try:
            answer, body = await pool_passthrough(request, self.local.pool)
            if answer is not None:  # a pool's /api/tags or /api/ps: every model, once
                return answer
            return (await self.local.relay(request, body, model=None)).response
        finally:
            self.in_flight -= 1

    async def _read(self, request: web.Request) -> bytes:
        limit = self.cfg.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise BodyTooLarge(
                f"request body of {request.content_length} bytes is over max_body_bytes ({limit})"
            )
        timeout = self.cfg.front.read_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                raw = await request.read()  # aiohttp enforces client_max_size = max_body_bytes
        except web.HTTPRequestEntityTooLarge:
            raise BodyTooLarge(f"request body is over max_body_bytes ({limit})") from None
        except TimeoutError:
            log.info("%s %s: body not received within %ss", request.method, request.path, timeout)
            raise ClientTooSlow(
                f"the request body did not arrive within {timeout:g}s (front.read_timeout_seconds)"
            ) from None
        return decode_body(raw, request.headers.get("Content-Encoding", ""), limit)

    async def inference(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return await self._inference(request)
        finally:
            self.in_flight -= 1

    def _state(
        self, model: str, now: datetime, shape: RequestShape | None = None
    ) -> tuple[RouteState, CloudRoute, Observation]:
        """The mode, breaker, queue and cloud route this arrival meets (reads only).
        With the waiting room (``shape`` given) it is routed away at once only if
        even its earliest start is too late."""
        mono = time.monotonic()
        room = self.local.room
        if room is None or shape is None:
            would_queue, predicted, obs = self.monitor.arrival(model, mono)
        else:
            would_queue, predicted, typical = room.arrival(model, shape, mono)
            obs = with_arrival(room.observation(mono), typical, would_queue=would_queue)
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
        self,
        request: web.Request,
        body: dict[str, Any],
        conv: Conversation,
        now: datetime,
        shape: RequestShape | None = None,
    ) -> tuple[Decision, CloudRoute]:
        state, route, obs = self._state(body["model"], now, shape)
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

    def _replies(self, model: str) -> ReplyLengths | None:
        """The model's recent reply lengths, when the waiting room has learned some."""
        room = self.local.room
        rates = room.model.models().get(model) if room is not None else None
        return rates.replies if rates is not None and len(rates.replies) else None

    def _cost_estimate(self, route: CloudRoute, conv: Conversation, model: str) -> dict[str, str]:
        """``X-BRB-Cost-Estimate-USD``: what answering in the cloud would about cost."""
        if route.price is None:
            return {}
        cost = quick_cost_usd(
            route.price,
            conv,
            default_max_tokens=self.cfg.models.max_tokens,
            replies=self._replies(model),
        )
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
            replies=self._replies(str(body["model"])),
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
        shape = request_shape(body) if self.local.room is not None else None
        arrived = time.monotonic()
        decision, route = self._decide(request, body, conv, now, shape)
        estimate = self._cost_estimate(route, conv, model)
        if shape is None or decision.divert:  # else the room's verdict is its route
            self.sink.publish(Routed(now, path, model, session, decision.divert, decision.reason))
        reason = decision.reason
        result: LegResult | Declined | None = None
        if decision.divert:
            diversion = Diversion(path, body, model, session, reason, route, estimate)
            result = await self.cloud.serve(request, diversion)
            if isinstance(result, Declined):
                reason = result.reason  # the cloud sent nothing: local, and why
        if not isinstance(result, LegResult):
            try:
                if shape is None:
                    result = await self.local.relay(
                        request, raw, model=model, reason=reason, extra_headers=estimate
                    )
                else:
                    turn = _Turn(path, body, raw, conv, session, shape, arrived, estimate)
                    result = await self._wait_turn(request, turn, reason, not decision.divert)
            except ClientGone as gone:  # before its answer began: its row says so
                result = self.local.gone(gone, model, reason, time.monotonic() - arrived)
        row = result.row(now, self._day(now), path, model, session)
        self.writer.log_request(row)  # the replay's input, buffered off the request path
        self.sink.publish(RequestDone(row))
        return result.response

    def _may_leave(self, request: web.Request, turn: _Turn, phase: Phase | None) -> bool:
        """Would this waiting request be diverted now, if it could not start in time?
        (``phase``: the breaker's as it is, or None for "were it active")."""
        model = turn.body["model"]
        route = self.cloud.route(model)
        if not route.providers or route.price is None:
            return False  # the policy's no_provider / unpriced_model, before any rule
        now = self.clock()
        state = RouteState(
            mode=breaker.effective_mode(self.live.override, now),
            phase=self.live.phase if phase is None else phase,
            predicted_wait_s=math.inf,
            would_queue=True,
            has_provider=bool(route.providers),
            is_model_priced=route.price is not None,
        )
        if phase is not None:
            state = replace(state, mode=breaker.Mode.AUTO)
        sessions = self._sessions(request)
        return self.router.route(
            turn.path, turn.body, turn.conv, sessions=sessions, headers=request.headers, state=state
        ).divert

    async def _wait_turn(
        self, request: web.Request, turn: _Turn, reason: str, is_divertible: bool
    ) -> LegResult:
        """Wait in brb's room, then go to Ollama, or to the cloud if the room says
        so (a provider that fails sends it back to wait, no longer divertible)."""
        room = self.local.room
        assert room is not None
        model: str = turn.body["model"]
        ticket = self.monitor.arrive(model, turn.arrived_s)
        is_divertible = is_divertible and self._may_leave(request, turn, Phase.ACTIVE)
        refused = 0  # upstreams that refused this request (each is down now)
        try:
            while True:
                with cancelled_if_client_leaves(request):  # a client gone leaves the room
                    key, verdict = await room.turn(
                        model,
                        turn.shape,
                        turn.arrived_s,
                        is_divertible=is_divertible,
                        may_divert=lambda: self._may_leave(request, turn, None),
                    )
                now, diverted = self.clock(), verdict is not Verdict.SEND
                if is_divertible:  # one routing event per request: the room's verdict
                    why = verdict.value if diverted else reason
                    self.sink.publish(Routed(now, turn.path, model, turn.session, diverted, why))
                if not diverted:
                    try:
                        return await self.local.relay(
                            request,
                            turn.raw,
                            model=model,
                            reason=reason,
                            extra_headers=turn.estimate,
                            ticket=ticket,
                            room_key=key,
                        )
                    except UpstreamRefused:
                        # that upstream is now down and nothing was sent: wait again, in
                        # the room of one still up (there is none: the error stands)
                        refused += 1
                        members = self.local.pool.members
                        if refused >= len(members) or not any(m.healthy for m in members):
                            raise
                        ticket = self.monitor.arrive(model, turn.arrived_s)
                        is_divertible = False
                        continue
                sent = time.monotonic()
                route = self.cloud.route(model)
                diversion = Diversion(
                    turn.path, turn.body, model, turn.session, verdict.value, route, turn.estimate
                )
                result = await self.cloud.serve(request, diversion)
                if isinstance(result, LegResult):
                    self.monitor.abandon(ticket, model)
                    if not is_stream(turn.path, turn.body) and result.status < 400:
                        room.learn_first_content(time.monotonic() - sent)
                    return result
                is_divertible, reason = False, result.reason
        except BaseException:
            self.monitor.abandon(ticket, model)
            raise

    def _day(self, at: datetime) -> str:
        """The budget day of ``at``, recomputed only when a local midnight passes."""
        until, day = self._day_cache
        if at < until:
            return day
        local = at.astimezone(self.cfg.tz)
        nxt = datetime.combine(local.date() + timedelta(days=1), dtime(0), tzinfo=self.cfg.tz)
        self._day_cache = (nxt, local.date().isoformat())
        return self._day_cache[1]
