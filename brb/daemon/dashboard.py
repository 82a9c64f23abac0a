"""The dashboard: the page at ``GET /admin/big-red-button/`` and what it reads.

Owns serving the page, its live stream (:mod:`brb.daemon.listeners.dashboard_stream`)
and its static files (shipped in the package under
``brb/daemon/static/``, no build step, no outside requests: a strict
Content-Security-Policy says so to the browser), the fields the page needs
beyond the original status (the big-type state, 15 minutes of queue
history, the budget's alert thresholds, whether presses are possible, the
press defaults, the current incident), and answering 404 for anything else
under the admin prefix, so nothing there is ever forwarded to Ollama.

Must not: decide anything, write to the store, or ever put the admin token
in an answer (only whether one is configured).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from aiohttp import web

from brb.adapters.store import Store
from brb.config import BrbConfig, read_secret
from brb.core.breaker import Mode, Phase
from brb.core.history import Point, bucket_series
from brb.daemon.listeners.dashboard_stream import StatusStream
from brb.daemon.listeners.incidents import OpenIncident

PREFIX = "/admin/big-red-button"
HISTORY_WINDOW = timedelta(minutes=15)
HISTORY_BUCKETS = 90  # 10 s each
HISTORY_MODELS = 12  # lines in the history; the rest are one, "other"
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Everything the page loads comes from this daemon; the browser refuses anything else.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def big_state(mode: Mode, phase: Phase) -> str:
    """The one word in large type: PRESSED and HELD are the operator's, ACTIVE and
    STANDBY the breaker's."""
    if mode is Mode.ON:
        return "PRESSED"
    if mode is Mode.OFF:
        return "HELD"
    return "ACTIVE" if phase is Phase.ACTIVE else "STANDBY"


def history(store: Store, now: datetime) -> dict[str, Any]:
    """Queue depth and wait per model over the last 15 minutes, in 10 s buckets."""
    samples = store.queue_samples(since=now - HISTORY_WINDOW)
    series = bucket_series(
        (Point(s.at, s.model, s.queue_depth, s.wait_s) for s in samples),
        now=now,
        window=HISTORY_WINDOW,
        buckets=HISTORY_BUCKETS,
        max_models=HISTORY_MODELS,  # a client sending endless model names draws one line
    )
    return {
        "window_seconds": int(HISTORY_WINDOW.total_seconds()),
        "bucket_seconds": HISTORY_WINDOW.total_seconds() / HISTORY_BUCKETS,
        "models": {
            model: {
                "queue_depth": list(s.queue_depth),
                "wait_seconds": [None if w is None else round(w, 3) for w in s.wait_s],
            }
            for model, s in sorted(series.items())
        },
    }


def fields(
    store: Store,
    cfg: BrbConfig,
    now: datetime,
    *,
    snap: dict[str, Any],
    phase: Phase,
    incident: OpenIncident | None,
) -> dict[str, Any]:
    """What the page shows beyond the original status fields; ``snap`` is
    :func:`brb.status.snapshot`'s (the CLI's status, whose fields the page reuses)."""
    spent, diverted = snap["spend_today_usd"], snap["diverted_today"]
    return {
        "now": now.isoformat(),
        "state": big_state(Mode(snap["mode"]), phase),
        "since": snap["since"],
        "override": snap["override"],
        "reserved_usd": snap["reserved_usd"],
        "budget_day": snap["budget_day"],
        "timezone": snap["timezone"],
        "cost_per_request_usd": round(spent / diverted, 6) if diverted else None,
        "alert_at_percent": list(cfg.budget.alert_at_percent),
        "thresholds": {
            "queue_depth": cfg.thresholds.queue_depth,
            "wait_time_seconds": cfg.thresholds.wait_time_seconds,
        },
        "admin": {
            "token_configured": read_secret([cfg.admin.token_env]) is not None,
            "token_env": cfg.admin.token_env,
            "press_for": cfg.admin.press_for,
            "press_reason": cfg.admin.press_reason,
        },
        "incident": None
        if incident is None
        else {
            "id": incident.id,
            "started_at": incident.started_at.isoformat(),
            "duration_seconds": round(max(0.0, (now - incident.started_at).total_seconds()), 3),
            "requests": incident.requests,
            "cost_usd": float(incident.cost_usd),
        },
        "history": history(store, now),
    }


class Dashboard:
    """The page and its files, read once from the package, and the live stream."""

    def __init__(self, stream: StatusStream) -> None:
        self.stream = stream
        root = resources.files("brb.daemon") / "static"
        self._files: dict[str, tuple[bytes, str]] = {}
        for entry in root.iterdir():
            suffix = "." + entry.name.rpartition(".")[2]
            if entry.is_file() and suffix in STATIC_TYPES:
                self._files[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(PREFIX, self.to_page),
            web.get(f"{PREFIX}/", self.page),
            web.get(f"{PREFIX}/static/{{name}}", self.static),
            web.get(f"{PREFIX}/events", self.stream.handle),
        ]

    def fallback_routes(self) -> list[web.RouteDef]:
        """Added after every other admin route: the rest of the prefix is ours, never Ollama's."""
        return [
            web.route("*", PREFIX, self.not_found),  # GET is the redirect to the page
            web.route("*", f"{PREFIX}/{{tail:.*}}", self.not_found),
        ]

    async def to_page(self, request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect(f"{PREFIX}/")

    async def page(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "index.html" or name not in self._files:
            return await self.not_found(request)
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        body, content_type = self._files[name]
        return web.Response(body=body, headers={"Content-Type": content_type, **PAGE_HEADERS})

    async def not_found(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"error": f"no such admin endpoint: {request.method} {request.path}"}, status=404
        )
