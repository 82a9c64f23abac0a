"""The cloud leg of a diverted request: reserve, convert, call, answer, settle.

Owns what happens between "divert this" and the client's answer: the
conversion to the provider's format, the worst-case reservation on disk
before the first byte leaves, the call, the answer converted back (stream
for stream), and settling the real cost (the money itself is
:mod:`brb.daemon.spending`'s). The client's response is held until the
provider's first real content arrives, so a provider failing
before that falls back invisibly: :meth:`CloudLeg.serve` returns None and
the caller sends the request to the local queue. After content has gone
out, a failure ends the stream the way Ollama does (an ``{"error"}`` line).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from aiohttp import web

from brb.config import BrbConfig
from brb.core import pricing
from brb.core.capabilities import capabilities_for
from brb.core.convert import CloudRequest, Endpoint, StreamRenderer, render_message
from brb.core.pricing import Usage
from brb.core.provider_backoff import Backoff, after_failure, after_success
from brb.core.reservation import plan_diversion
from brb.daemon.events import EventSink, ProviderClosed, ProviderFailed, ProviderOpened, Settled
from brb.daemon.leg import FALLBACK, CloudRoute, Declined, Leg, LegResult
from brb.daemon.spending import Spending
from brb.daemon.store_writer import StoreWriter
from brb.errors import ConversionError, ProviderError

log = logging.getLogger(__name__)

ANTHROPIC_MESSAGES = "/v1/messages"
_IDLE = Backoff()
_CONTENT_TYPES = {
    Endpoint.OLLAMA_CHAT: "application/x-ndjson",
    Endpoint.OLLAMA_GENERATE: "application/x-ndjson",
    Endpoint.OPENAI_CHAT: "text/event-stream",
}


class Provider(Protocol):
    name: str
    api_version: str

    async def create(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]: ...

    def stream(self, params: dict[str, Any]) -> Any: ...  # AsyncIterator[dict]


@dataclass(frozen=True, slots=True)
class Diversion:
    """One request on its way to the cloud."""

    endpoint: str  # an Endpoint value, or ANTHROPIC_MESSAGES
    body: dict[str, Any]
    local_model: str
    session: str
    reason: str  # why it is diverted: pressed, breaker_active, overflow, rule:N:cloud
    route: CloudRoute  # computed once, by the routing decision
    headers: Mapping[str, str] = field(default_factory=dict)  # more headers for the answer


class CloudLeg:
    def __init__(
        self,
        cfg: BrbConfig,
        providers: Sequence[Provider],
        writer: StoreWriter,
        clock: Callable[[], datetime],
        sink: EventSink,
    ) -> None:
        self.cfg = cfg
        self.providers = list(providers)
        self.writer = writer
        self.clock = clock
        self.sink = sink
        self._prices = cfg.price_overrides()
        self.spending = Spending(cfg, writer, clock, sink)
        self._by_name = {p.name: p for p in self.providers}
        self._backoff: dict[str, Backoff] = {}
        self._model_cache: dict[str, tuple[str, pricing.ModelPrice | None]] = {}

    def route(self, local_model: str) -> CloudRoute:
        """Where a request for ``local_model`` would go now: the providers not resting
        (in chain order), the cloud model and its price (memoised: on every request)."""
        try:
            cloud_model, price = self._model_cache[local_model]
        except KeyError:
            cloud_model = self.cfg.models.cloud_model_for(local_model)
            price = pricing.price_for(cloud_model, self._prices)
            if len(self._model_cache) < 4096:
                self._model_cache[local_model] = (cloud_model, price)
        now = time.monotonic()
        names = tuple(
            p.name for p in self.providers if not self._backoff.get(p.name, _IDLE).is_resting(now)
        )
        return CloudRoute(names, cloud_model, price)

    def resting_s(self, provider: str) -> float:
        """Seconds ``provider`` still rests after failures (0: it is tried)."""
        b = self._backoff.get(provider, _IDLE)
        return round(max(0.0, b.resting_until - time.monotonic()), 3)

    async def serve(self, request: web.Request, d: Diversion) -> LegResult | Declined:
        """Answer from the cloud, or decline (nothing sent): the request goes local."""
        t0 = time.monotonic()
        for name in d.route.providers:
            provider = self._by_name[name]
            try:
                plan = self._plan(d, provider)
            except ConversionError as exc:
                log.info("not diverting %s request: %s", d.endpoint, exc)
                return Declined(exc.reason)
            except Exception:  # a conversion bug must not cost the client its answer
                log.exception("converting a %s request failed: it stays local", d.endpoint)
                return FALLBACK
            if not await self._reserve(plan, d, provider):
                return FALLBACK
            result = await self._call(request, plan, d, provider, t0)
            if result is not None:
                return result
        return FALLBACK

    # --- planning and money ----------------------------------------------------

    def _plan(self, d: Diversion, provider: Provider) -> _Plan:
        cloud_model, price = d.route.cloud_model, d.route.price
        if price is None:
            raise ConversionError(f"no price known for {cloud_model}")
        plan = plan_diversion(
            d.endpoint,
            d.body,
            cloud_model=cloud_model,
            price=price,
            caps=capabilities_for(cloud_model, provider.api_version),
            default_max_tokens=self.cfg.models.max_tokens,
            max_input_tokens=self.cfg.models.max_input_tokens,
        )
        return _Plan(
            cloud_model, price, plan.params, plan.is_stream, plan.req, plan.worst_usd,
            uuid.uuid4().hex,
        )  # fmt: skip

    async def _reserve(self, plan: _Plan, d: Diversion, provider: Provider) -> bool:
        return await self.spending.reserve(
            plan.request_id,
            plan.worst_usd,
            provider=provider.name,
            endpoint=d.endpoint,
            session=d.session,
            local_model=d.local_model,
            cloud_model=plan.cloud_model,
        )

    def _settle(
        self, plan: _Plan, provider: str, usage: Usage, started: float, outcome: str
    ) -> Decimal:
        at = self.clock()
        before = self._backoff.get(provider)
        if before is not None:
            self._backoff[provider] = after_success(before)
            if before.resting_until:
                self.sink.publish(ProviderClosed(at, provider))
        latency = time.monotonic() - started
        cost = self.spending.settle(plan.request_id, plan.price, usage, latency, outcome)
        self.sink.publish(Settled(at, provider, plan.cloud_model, cost, usage, latency, outcome))
        return cost

    def _release(self, plan: _Plan, outcome: str) -> None:
        self.spending.release(plan.request_id, outcome)

    # --- the call ----------------------------------------------------------------

    def _result(
        self,
        response: web.StreamResponse,
        plan: _Plan,
        d: Diversion,
        provider: Provider,
        usage: Usage,
        t0: float,
        outcome: str = "ok",
    ) -> LegResult:
        return LegResult(
            response,
            Leg.CLOUD,
            provider.name,
            provider.name,
            plan.cloud_model,
            response.status,
            d.reason,
            time.monotonic() - t0,
            usage,
            outcome=outcome,
        )

    async def _call(
        self, request: web.Request, plan: _Plan, d: Diversion, provider: Provider, t0: float
    ) -> LegResult | None:
        """``t0``: when the cloud leg took the request (its latency starts there)."""
        started = time.monotonic()
        try:
            if plan.is_stream:
                return await self._stream(request, plan, d, provider, started, t0)
            message, request_id = await provider.create(plan.params)
        except ProviderError as exc:
            self._failed(plan, provider, exc)
            return None
        except ConversionError as exc:  # brb's side of the wire: not the provider's failure
            log.warning("%s request not sent: %s; it stays local", d.endpoint, exc)
            self._release(plan, "not_sent")
            return None
        usage = Usage().updated(message.get("usage"))
        cost = self._settle(plan, provider.name, usage, started, "ok")
        if plan.req is None:
            body = message
        else:
            try:
                body = render_message(
                    Endpoint(d.endpoint),
                    message,
                    plan.req,
                    now=self.clock(),
                    elapsed_ns=int((time.monotonic() - started) * 1e9),
                )
            except Exception:  # a rendering bug is brb's: the client still gets an answer
                log.exception("rendering a %s answer failed: it is answered locally", d.endpoint)
                return None
        headers = self._headers(plan, provider, d)
        headers["X-BRB-Cost-USD"] = f"{cost:.6f}"
        if request_id:
            headers["X-BRB-Provider-Request-Id"] = request_id
        response = web.Response(
            body=json.dumps(body).encode(),
            status=200,
            content_type="application/json",
            headers=headers,
        )
        return self._result(response, plan, d, provider, usage, t0)

    def _failed(self, plan: _Plan, provider: Provider, exc: ProviderError) -> None:
        self._release(plan, f"provider_error:{exc.status or 'network'}")
        if exc.retryable:
            now = time.monotonic()
            before = self._backoff.get(provider.name, _IDLE)
            b = self._backoff[provider.name] = after_failure(before, now, exc.retry_after_s)
            if b.is_resting(now):
                log.warning("%s rests %.1fs after %d failure(s) in a row", provider.name,
                            b.resting_until - now, b.failures)  # fmt: skip
                if b.resting_until != before.resting_until:
                    opened = ProviderOpened(
                        self.clock(), provider.name, b.resting_until - now, b.failures
                    )
                    self.sink.publish(opened)
        level = logging.WARNING if exc.retryable else logging.ERROR
        log.log(
            level,
            "%s failed (%s, request-id %s), falling back: %s%s",
            provider.name,
            exc.status or "no status",
            exc.request_id or "-",
            exc,
            "" if exc.retryable else " — a conversion or config fault, please report",
        )
        self.sink.publish(_failure(self.clock(), provider.name, exc))

    async def _stream(
        self,
        request: web.Request,
        plan: _Plan,
        d: Diversion,
        provider: Provider,
        started: float,
        t0: float,
    ) -> LegResult | None:
        renderer = (
            StreamRenderer(Endpoint(d.endpoint), plan.req, now=self.clock())
            if plan.req is not None
            else None
        )
        held: list[bytes] = []
        response: web.StreamResponse | None = None
        usage = Usage()
        events = provider.stream(plan.params)
        try:
            async for event in events:
                usage = _merge_usage(usage, event)
                if renderer is None:
                    frames = [_sse(event)]
                    has_content = event.get("type") == "content_block_delta"
                else:
                    frames = renderer.feed(
                        event, now=self.clock(), elapsed_ns=int((time.monotonic() - started) * 1e9)
                    )
                    has_content = renderer.has_content
                if response is None:
                    held.extend(frames)
                    if not has_content:
                        continue
                    response = await self._open_stream(request, plan, d, provider)
                    frames, held = held, []
                for frame in frames:
                    await response.write(frame)
        except ConversionError as exc:  # raised before anything was sent
            log.warning("%s request not sent: %s; it stays local", d.endpoint, exc)
            self._release(plan, "not_sent")
            return None
        except ProviderError as exc:
            if response is None:
                self._failed(plan, provider, exc)
                return None
            log.warning("%s failed mid-stream after content was sent: %s", provider.name, exc)
            self.sink.publish(_failure(self.clock(), provider.name, exc, midstream=True))
            await response.write(_error_frame(renderer, str(exc)))
            self._settle(plan, provider.name, usage, started, "error_midstream")
            await response.write_eof()
            return self._result(response, plan, d, provider, usage, t0, "error")
        except (ConnectionResetError, ConnectionError):
            # The client went away: charge what the provider produced.
            self._settle(plan, provider.name, usage, started, "client_gone")
            raise
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:  # stop reading the provider's stream, whatever happened
                await aclose()
        if response is None:  # a stream with no content at all (e.g. empty reply)
            response = await self._open_stream(request, plan, d, provider)
            for frame in held:
                await response.write(frame)
        self._settle(plan, provider.name, usage, started, "ok")
        await response.write_eof()
        return self._result(response, plan, d, provider, usage, t0)

    async def _open_stream(
        self, request: web.Request, plan: _Plan, d: Diversion, provider: Provider
    ) -> web.StreamResponse:
        ctype = _CONTENT_TYPES.get(d.endpoint, "text/event-stream")  # type: ignore[call-overload]
        response = web.StreamResponse(status=200, headers=self._headers(plan, provider, d))
        response.content_type = ctype
        await response.prepare(request)
        return response

    def _headers(self, plan: _Plan, provider: Provider, d: Diversion) -> dict[str, str]:
        headers = {**d.headers, "X-BRB-Provider": provider.name, "X-BRB-Model": plan.cloud_model}
        if d.reason:
            headers["X-BRB-Route"] = d.reason
        if plan.req is not None and plan.req.trimmed_turns:
            headers["X-BRB-Trimmed"] = str(plan.req.trimmed_turns)
        return headers


@dataclass(frozen=True, slots=True)
class _Plan:
    cloud_model: str
    price: pricing.ModelPrice
    params: dict[str, Any]
    is_stream: bool
    req: CloudRequest | None
    worst_usd: Decimal
    request_id: str


def _failure(at: datetime, provider: str, exc: ProviderError, *, midstream: bool = False
             ) -> ProviderFailed:  # fmt: skip
    return ProviderFailed(at, provider, exc.status, str(exc), exc.retryable, exc.request_id,
                          midstream)  # fmt: skip


def _merge_usage(usage: Usage, event: dict[str, Any]) -> Usage:
    """The usage so far, after one stream event (message_start has the prompt's,
    message_delta the cumulative output)."""
    kind = event.get("type")
    if kind == "message_start":
        return Usage().updated((event.get("message") or {}).get("usage"))
    if kind == "message_delta":
        return usage.updated(event.get("usage"))
    return usage


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event.get('type')}\ndata: {json.dumps(event)}\n\n".encode()


def _error_frame(renderer: StreamRenderer | None, message: str) -> bytes:
    if renderer is not None:
        return renderer.error_frame(message)
    err = {"type": "error", "error": {"type": "api_error", "message": message}}
    return _sse(err)
