"""The local leg: pass a request through to Ollama, bytes as they arrive.

Owns the transparent pass-through (method, path, query, body, status and
headers minus hop-by-hop; streamed both ways, never buffered whole) and the
queue monitor's view of each inference request: arrival, first byte (the
upstream's response headers: Ollama sends them with its first chunk, and a
non-streamed answer's only chunk), completion, and the service time Ollama
itself reports in its final object.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from brb.adapters.ollama_upstream import OllamaUpstream, forward_headers, response_headers
from brb.daemon.queue_monitor import QueueMonitor

log = logging.getLogger(__name__)

_TAIL_BYTES = 2048
_DURATION = re.compile(rb'"(load_duration|prompt_eval_duration|eval_duration)":\s*(\d+)')


def service_seconds(tail: bytes) -> float | None:
    """Ollama's own service time from the final object's durations (ns), if present.

    Ollama's final object carries total, load, prompt_eval and eval durations;
    what is not load + prompt_eval + eval was spent waiting for a slot.
    """
    found = dict(_DURATION.findall(tail[-_TAIL_BYTES:]))
    if not found:
        return None
    return sum(int(v) for v in found.values()) / 1e9


@dataclass(slots=True)
class Outcome:
    status: int
    wait_s: float | None
    service_s: float | None
    latency_s: float


class LocalLeg:
    def __init__(
        self, upstream: OllamaUpstream, monitor: QueueMonitor, on_change: Callable[[], None]
    ) -> None:
        self.upstream = upstream
        self.monitor = monitor
        self._on_change = on_change  # step the breaker (after arrival / first byte / done)

    async def relay(
        self,
        request: web.Request,
        body: bytes | None,
        *,
        model: str | None,
        extra_headers: dict[str, str] | None = None,
    ) -> tuple[web.StreamResponse, Outcome]:
        """Forward one request; ``model`` set means it is counted in the queue."""
        clock = time.monotonic
        t0 = clock()
        ticket = self.monitor.arrive(model, t0) if model is not None else None
        if ticket is not None:
            self._on_change()
        wait_s: float | None = None
        service_s: float | None = None
        try:
            up = await self.upstream.open(
                request.method,
                request.path_qs,
                forward_headers(request.headers),
                body if body is not None else (request.content if request.can_read_body else None),
            )
        except BaseException:
            if ticket is not None:
                self.monitor.abandon(ticket, model or "")
                self._on_change()
            raise
        try:
            if ticket is not None:
                wait_s = self.monitor.first_byte(ticket, model or "", clock())
            headers = response_headers(up.headers)
            if extra_headers:
                headers.update(extra_headers)
            response = web.StreamResponse(status=up.status, reason=up.reason, headers=headers)
            if up.content_length is not None:
                response.content_length = up.content_length
            await response.prepare(request)
            tail = b""
            async for chunk in up.content.iter_any():
                await response.write(chunk)
                if ticket is not None:
                    tail = (tail + chunk)[-_TAIL_BYTES:]
            await response.write_eof()
            if ticket is not None:
                service_s = service_seconds(tail)
            return response, Outcome(up.status, wait_s, service_s, clock() - t0)
        finally:
            up.release()
            if ticket is not None:
                self.monitor.done(ticket, model or "", clock(), service_s=service_s)
                self._on_change()
