"""The HTTP front: every Ollama route, and the one routing decision per request.

Owns the aiohttp routes, reading the bodies of the endpoints brb reads (the
inference ones, checked by :mod:`brb.daemon.request_body`; everything else
goes to Ollama untouched, so Ollama's own 404s come back as they are, except
a pool's ``/api/tags`` and ``/api/ps``: :mod:`brb.daemon.pool_lists`), the routing decision
(:class:`brb.router.Router`: the rules, then the policy) with the
``X-BRB-Cost-Estimate-USD`` every inference answer carries, the read-only
``POST /admin/big-red-button/estimate`` that shares that decision, and the
request-log row of every inference request. A request routed local while the
waiting room is on takes its turn there (:mod:`brb.daemon.room_turn`); brb
errors become HTTP answers in one place (:mod:`brb.daemon.http_errors`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any

from aiohttp import hdrs, web
from multidict import istr

from brb.config import BrbConfig
from brb.core import breaker
from brb.core.breaker import Observation
from brb.core.conversation import Conversation, read_conversation, request_shape
from brb.core.estimate import quick_cost_usd
from brb.core.policy import Decision
from brb.core.queueing import with_arrival
from brb.core.service_model import ReplyLengths, RequestShape
from brb.daemon.cloud import ANTHROPIC_MESSAGES, CloudLeg, Diversion
from brb.daemon.events import EventSink, RequestDone, Routed
from brb.daemon.http_errors import ADMIN_PREFIX, error_response, is_admin_path
from brb.daemon.leg import CloudRoute, Declined, LegResult
from brb.daemon.live_state import LiveState
from brb.daemon.pool_lists import pool_passthrough
from brb.daemon.queue_monitor import QueueMonitor
from brb.daemon.relay import LocalLeg
from brb.daemon.request_body import decode_body, parse_body
from brb.daemon.room_turn import RoomTurns, Turn
from brb.daemon.store_writer import StoreWriter
from brb.errors import (
    BadRequest,
    BodyTooLarge,
    ClientGone,
    ClientTooSlow,
    UsageError,
)
from brb.estimation import estimate_body, read_body
from brb.router import Router, RouteState

log = logging.getLogger(__name__)

INFERENCE_PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions", ANTHROPIC_MESSAGES)
COST_ESTIMATE_HEADER = "X-BRB-Cost-Estimate-USD"
ESTIMATE_PATH = ADMIN_PREFIX + "/estimate"


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
        self.turns = RoomTurns(
            live=live,
            monitor=monitor,
            local=local,
            cloud=cloud,
            router=self.router,
            clock=clock,
            sink=sink,
        )
        self._day_cache: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")
        self.in_flight = 0
        # header names as multidict's case-insensitive keys: a str is folded at each look-up
        self._session_header = istr(cfg.session_header)

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
        length = request.content_length  # parsed from the header at each read: once here
        if length is not None and length > limit:
            raise BodyTooLarge(f"request body of {length} bytes is over max_body_bytes ({limit})")
        timeout = self.cfg.front.read_timeout_seconds
        content = request.content
        try:
            if content.is_eof():  # all of it is here (a small body): taken at once, no timer
                raw = content.read_nowait()
                if len(raw) > limit:  # chunked: no Content-Length to refuse it up front
                    raise BodyTooLarge(f"request body is over max_body_bytes ({limit})")
            else:
                async with asyncio.timeout(timeout):
                    raw = await request.read()  # aiohttp enforces client_max_size = max_body_bytes
        except web.HTTPRequestEntityTooLarge:
            raise BodyTooLarge(f"request body is over max_body_bytes ({limit})") from None
        except TimeoutError:
            log.info("%s %s: body not received within %ss", request.method, request.path, timeout)
            raise ClientTooSlow(
                f"the request body did not arrive within {timeout:g}s (front.read_timeout_seconds)"
            ) from None
        return decode_body(raw, request.headers.get(hdrs.CONTENT_ENCODING, ""), limit)

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
        route = self.cloud.route(model, now)
        live = self.live
        state = RouteState(  # positional, in the fields' order: keywords cost twice as much
            breaker.effective_mode(live.override, now),  # mode
            live.phase,
            predicted,  # predicted_wait_s
            would_queue,
            obs.queue_depth,
            bool(route.providers),  # has_provider
            route.price is not None,  # is_model_priced
        )
        return state, route, obs

    def _decide(
        self,
        request: web.Request,
        body: dict[str, Any],
        conv: Conversation | None,
        now: datetime,
        sessions: list[str],
        shape: RequestShape | None = None,
    ) -> tuple[Decision, CloudRoute]:
        state, route, obs = self._state(body["model"], now, shape)
        self.live.observe(obs, now)
        decision = self.router.route(
            request.path,
            body,
            conv,
            sessions=sessions,
            headers=request.headers,
            state=state,
        )
        first = decision.provider
        if first is not None and first in route.providers[1:]:  # a rule's: NAME goes first
            rest = tuple(p for p in route.providers if p != first)
            route = replace(route, providers=(first, *rest))
        return decision, route

    def _sessions(self, request: web.Request) -> tuple[str, list[str]]:
        """The session header's first copy (the request log's session), and every
        non-blank copy (one matching value keeps it local)."""
        copies = request.headers.getall(self._session_header, ())
        if not copies:
            return "", []
        return copies[0], [s for s in copies if s.strip()]

    def _replies(self, model: str) -> ReplyLengths | None:
        """The model's recent reply lengths, when the waiting room has learned some."""
        room = self.local.room
        rates = room.model.get(model) if room is not None else None
        return rates.replies if rates is not None and len(rates.replies) else None

    def _cost_estimate(
        self, route: CloudRoute, conv: Conversation | None, path: str, body: dict[str, Any]
    ) -> dict[str, str]:
        """``X-BRB-Cost-Estimate-USD``: what answering in the cloud would about cost
        (``conv``: the body's conversation, read here if it was not yet)."""
        if route.price is None:
            return {}
        model: str = body["model"]
        cost = quick_cost_usd(
            route.price,
            conv if conv is not None else read_conversation(path, body),
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
            sessions=self._sessions(request)[1],
            headers=request.headers,
            replies=self._replies(str(body["model"])),
            router=self.router,
        )
        return web.json_response(result.to_json())

    async def inference(self, request: web.Request) -> web.StreamResponse:
        """An inference request: read, route, answer (Ollama, the room or the cloud), log.
        One coroutine from the server's handler down (each level of awaits is paid at
        every suspension of the request)."""
        self.in_flight += 1
        try:
            path = request.path
            raw = await self._read(request)
            body = parse_body(raw, path)
            model: str = body["model"]
            session, sessions = self._sessions(request)
            now = self.clock()
            # the conversation, read once and only when something needs it: the waiting
            # room (the request's shape), a rule, or the cost estimate of a priced route
            conv, shape = None, None
            if self.local.room is not None:
                conv = read_conversation(path, body)
                shape = request_shape(conv)
            elif self.router.rules.rules:
                conv = read_conversation(path, body)
            arrived = time.monotonic()
            decision, route = self._decide(request, body, conv, now, sessions, shape)
            estimate = self._cost_estimate(route, conv, path, body)
            if shape is None or decision.divert:  # else the room's verdict is its route
                self.sink.publish(
                    Routed(now, path, model, session, decision.divert, decision.reason)
                )
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
                        assert conv is not None  # read for the waiting room, with the shape
                        turn = Turn(
                            path, body, raw, conv, session, shape, arrived, estimate, sessions
                        )
                        result = await self.turns.wait(
                            request, turn, reason, not decision.divert, route
                        )
                except ClientGone as gone:  # before its answer began: its row says so
                    result = self.local.gone(gone, model, reason, time.monotonic() - arrived)
            row = result.row(now, self._day(now), path, model, session)
            self.writer.log_request(row)  # the replay's input, buffered off the request path
            self.sink.publish(RequestDone(row))
            return result.response
        finally:
            self.in_flight -= 1

    def _day(self, at: datetime) -> str:
        """The budget day of ``at``, recomputed only when a local midnight passes."""
        until, day = self._day_cache
        if at < until:  # ``until`` in UTC: the clock's own zone, compared without offsets
            return day
        local = at.astimezone(self.cfg.tz)
        nxt = datetime.combine(local.date() + timedelta(days=1), dtime(0), tzinfo=self.cfg.tz)
        self._day_cache = (nxt.astimezone(UTC), local.date().isoformat())
        return self._day_cache[1]
