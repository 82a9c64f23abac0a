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
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from brb import control
from brb import status as status_mod
from brb.config import read_secret
from brb.core.breaker import Mode
from brb.core.durations import format_duration, parse_duration
from brb.daemon import dashboard
from brb.errors import BadRequest

if TYPE_CHECKING:
    from brb.daemon.app import Daemon

PREFIX = "/admin/big-red-button"


class Admin:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

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
        d = self.d
        now = d.clock()
        snap = status_mod.snapshot(d.reader, d.cfg, now)
        views = d.monitor.views(time.monotonic())
        active = d.live.is_diverting
        since = snap["since"]
        diverted = snap["diverted_today"]
        spent = snap["spend_today_usd"]
        in_emergency = "N/A"
        if active and since:
            in_emergency = format_duration((now - datetime.fromisoformat(since)).total_seconds())
        events = d.reader.events(limit=10, newest_first=True)
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
            "breaker": d.live.phase.value,
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
            "wait_seconds": round(d.live.last_observation.wait_seconds, 3),
            "providers": [
                {**h, "resting_seconds": d.cloud.resting_s(h["name"])}
                for h in d.health.report([p.name for p in d.providers or []], now)
            ],
            "upstream": {"url": d.cfg.upstream, "version": getattr(d, "upstream_version", None)},
            "diversion_blocked_by": snap["diversion_blocked_by"],
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
                d.reader,
                d.cfg,
                now,
                mode=Mode(snap["mode"]),
                phase=d.live.phase,
                spend_today_usd=spent,
                diverted_today=diverted,
                incident=d.incidents.current(),
            ),
        }

    def _authorize(self, request: web.Request) -> None:
        token = read_secret([self.d.cfg.admin.token_env])
        if not token:
            raise web.HTTPForbidden(
                text=json.dumps(
                    {
                        "error": f"admin endpoints are off: set {self.d.cfg.admin.token_env}"
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
            return self.d.clock() + parse_duration(str(text))
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
            "now": self.d.clock(),
            "source": "http",
            "who": str(body.get("who") or request.remote or "http"),
            "reason": str(body.get("reason") or ""),
            "until": self._until(body) if press or hold else None,
        }
        if press:
            result = await asyncio.to_thread(control.press, self.d.reader, **common)
        else:
            result = await asyncio.to_thread(control.release, self.d.reader, hold=hold, **common)
        self.d.live.set_override(result.override)
        return web.json_response(
            {"changed": result.changed, **await asyncio.to_thread(self.snapshot)}
        )

    async def metrics(self, request: web.Request) -> web.Response:
        body, content_type = self.d.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "mode": self.d.live.mode.value, "breaker": self.d.live.phase.value}
        )
