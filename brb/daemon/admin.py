"""The HTTP admin surface: status, press, release, metrics, health.

Owns ``GET /admin/big-red-button/status`` (the original dashboard's fields,
plus what brb knows more), ``POST .../press`` and ``.../release`` (bearer
token from ``admin.token_env``, compared in constant time; with no token
configured they are off: 403), ``GET /metrics`` and ``GET /healthz``.
Presses go through :mod:`brb.control`, the same path as the CLI's.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from brb import control
from brb import status as status_mod
from brb.adapters.store import Store
from brb.config import BrbConfig, read_secret
from brb.core.durations import format_duration, parse_duration
from brb.core.redaction import redact_url
from brb.daemon import dashboard
from brb.daemon.cloud import CloudLeg
from brb.daemon.events import DaemonStarted, EventSink
from brb.daemon.listeners.incidents import IncidentTracker
from brb.daemon.listeners.provider_health import ProviderHealth
from brb.daemon.live_state import LiveState
from brb.daemon.metrics import Metrics
from brb.daemon.pool import UpstreamPool
from brb.daemon.queue_monitor import QueueMonitor
from brb.errors import BadRequest

PREFIX = "/admin/big-red-button"


class Admin:
    """The admin routes, given what they read (the upstream's version comes with
    :class:`DaemonStarted`)."""

    def __init__(
        self,
        cfg: BrbConfig,
        *,
        reader: Store,
        live: LiveState,
        monitor: QueueMonitor,
        cloud: CloudLeg,
        health: ProviderHealth,
        incidents: IncidentTracker,
        metrics: Metrics,
        clock: Callable[[], datetime],
        pool: UpstreamPool | None = None,
    ) -> None:
        self.pool = pool
        self.cfg = cfg
        self.reader = reader
        self.live = live
        self.monitor = monitor
        self.cloud = cloud
        self.health = health
        self.incidents = incidents
        self._metrics = metrics
        self.clock = clock
        self.upstream_version: str | None = None

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(DaemonStarted, self._started)

    def _started(self, e: DaemonStarted) -> None:
        self.upstream_version = e.upstream_version

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/status", self.status),
            web.post(f"{PREFIX}/press", self.press),
            web.post(f"{PREFIX}/release", self.release),
            web.get("/metrics", self.metrics),
            web.get("/healthz", self.healthz),
        ]

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.snapshot))

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        snap = status_mod.snapshot(self.reader, self.cfg, now)
        views = self.monitor.views(time.monotonic())
        active = self.live.is_diverting
        since = snap["since"]
        diverted = snap["diverted_today"]
        spent = snap["spend_today_usd"]
        in_emergency = "N/A"
        if active and since:
            in_emergency = format_duration((now - datetime.fromisoformat(since)).total_seconds())
        events = self.reader.events(limit=10, newest_first=True)
        return {
            # the original dashboard's fields, in its formats
            "status": "ACTIVE" if active else "STANDBY",
            "current_queue_depth": sum(v.waiting for v in views.values()),
            "requests_diverted_today": diverted,
            "cost_today": f"${spent:.2f}",
            "budget_remaining": f"${snap['remaining_usd']:.2f}",
            "average_cost_per_request": f"${(spent / diverted) if diverted else 0:.4f}",
            "time_in_emergency_mode": in_emergency,
            # and what brb knows more
            "mode": snap["mode"],
            "breaker": self.live.phase.value,
            "reason": snap["reason"],
            "override_until": snap["override_until"],
            "spend_today_usd": spent,
            "daily_limit_usd": snap["daily_limit_usd"],
            "remaining_usd": snap["remaining_usd"],
            "budget_exhausted": snap["budget_exhausted"],
            "queue": {
                model: {
                    "queue_depth": v.waiting,
                    "in_service": len(v.in_service_elapsed_s),
                    "slots": v.slots,
                    "oldest_wait_seconds": round(v.oldest_wait_s, 3),
                    "predicted_wait_seconds": round(v.predicted_wait_s(), 3),
                    "service_seconds_avg": None
                    if v.service_ewma_s is None
                    else round(v.service_ewma_s, 3),
                }
                for model, v in views.items()
            },
            "wait_seconds": round(self.live.last_observation.wait_seconds, 3),
            "providers": {
                name: {**breaker, **health}
                for (name, breaker), health in zip(
                    self.cloud.chain.report(now).items(),
                    self.health.report(self.cloud.chain.names, now),
                    strict=True,
                )
            },
            "upstream": {"url": redact_url(self.cfg.upstream), "version": self.upstream_version},
            # refreshed on the loop at each probe and health change (this runs on a thread)
            "upstreams": [] if self.pool is None else list(self.pool.reports),
            "diversion_blocked_by": snap["diversion_blocked_by"],
            "instances": snap["instances"],
            "capacity": snap["capacity"],
            "last_events": [
                {
                    "at": e.at.isoformat(),
                    "kind": e.kind,
                    "source": e.source,
                    "who": e.who,
                    "reason": e.reason,
                }
                for e in events
            ],
            # and what the dashboard page needs
            **dashboard.fields(
                self.reader,
                self.cfg,
                now,
                snap=snap,
                phase=self.live.phase,
                incident=self.incidents.current(),
            ),
        }

    def _authorize(self, request: web.Request) -> None:
        token = read_secret([self.cfg.admin.token_env])
        if not token:
            raise web.HTTPForbidden(
                text=json.dumps(
                    {
                        "error": f"admin endpoints are off: set {self.cfg.admin.token_env}"
                        " to a token to enable them"
                    }
                ),
                content_type="application/json",
            )
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "missing or wrong bearer token"}),
                content_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise BadRequest('body must be JSON like {"for": "10m", "reason": "..."}') from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        return body

    def _until(self, body: dict[str, Any]) -> datetime | None:
        text = body.get("for")
        if text in (None, ""):
            return None
        try:
            return self.clock() + parse_duration(str(text))
        except ValueError as exc:
            raise BadRequest(f"for: {exc}") from None

    async def press(self, request: web.Request) -> web.Response:
        return await self._lever(request, press=True)

    async def release(self, request: web.Request) -> web.Response:
        return await self._lever(request, press=False)

    async def _lever(self, request: web.Request, *, press: bool) -> web.Response:
        """Press or release through :mod:`brb.control`, as the CLI does."""
        self._authorize(request)
        body = await self._body(request)
        hold = not press and bool(body.get("hold", False))
        common: dict[str, Any] = {
            "now": self.clock(),
            "source": "http",
            "who": str(body.get("who") or request.remote or "http"),
            "reason": str(body.get("reason") or ""),
            "until": self._until(body) if press or hold else None,
        }
        if press:
            result = await asyncio.to_thread(control.press, self.reader, **common)
        else:
            result = await asyncio.to_thread(control.release, self.reader, hold=hold, **common)
        self.live.set_override(result.override)
        return web.json_response(
            {"changed": result.changed, **await asyncio.to_thread(self.snapshot)}
        )

    async def metrics(self, request: web.Request) -> web.Response:
        if self.pool is not None:
            self._metrics.upstreams(self.pool.refresh())
        body, content_type = self._metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "mode": self.live.mode.value, "breaker": self.live.phase.value}
        )
