"""A capture server for notifier tests: accepts any write on any path and remembers it.

Owns: recording POST/PUT/PATCH requests (method, path, headers, JSON body), answering
with a configurable status and body (Slack answers 200 "ok"; PagerDuty's Events API
answers 202 {"status": "success", "dedup_key": ...}), and injected failures.

Must not: know any notifier's payload rules; tests assert on what was captured.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

SLACK_OK = "ok"


@dataclass(frozen=True, slots=True)
class Captured:
    """One request: lower-cased header names; `body` is parsed JSON, else the text."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: object


def pagerduty_success(dedup_key: str = "srv01/brb") -> JSON:
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


class CaptureServer:
    """Records every write; answers `status` with `body` (a dict goes out as JSON)."""

    def __init__(self, *, status: int = 200, body: JSON | str = SLACK_OK) -> None:
        self.status = status
        self.body = body
        self.captured: list[Captured] = []
        self._failures: deque[tuple[int, JSON | str]] = deque()

    @classmethod
    def like_slack(cls) -> CaptureServer:
        return cls(status=200, body=SLACK_OK)

    @classmethod
    def like_pagerduty(cls) -> CaptureServer:
        return cls(status=202, body=pagerduty_success())

    def fail_next(self, n: int = 1, status: int = 500, body: JSON | str = "error") -> None:
        """The next `n` writes are recorded, then answered with `status` and `body`."""
        self._failures.extend([(status, body)] * n)

    def app(self) -> web.Application:
        app = web.Application()
        for method in ("POST", "PUT", "PATCH"):
            app.router.add_route(method, "/{tail:.*}", self._capture)
        return app

    async def _capture(self, request: web.Request) -> web.Response:
        raw = await request.text()
        try:
            body: object = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.captured.append(
            Captured(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        status, answer = self._failures.popleft() if self._failures else (self.status, self.body)
        if isinstance(answer, dict):
            return web.json_response(answer, status=status)
        return web.Response(status=status, text=answer)
