"""One provider's call and the client's answer: streamed or whole, settled either way.

Owns what happens once a provider is chosen, planned and its worst case
reserved: the call (the provider is always read as a stream, so its first
content is timed), the answer converted back and held until its first real
content (so a provider that fails before it is invisible to the client and
the chain can go on), the answer's headers (``X-BRB-Provider``,
``X-BRB-Model``, ``X-BRB-Route``, ``X-BRB-Trimmed``, ``X-BRB-Cost-USD``),
settling the real cost or giving the reservation back, and publishing a
settled cost or a provider failure. Walking the chain, planning and
reserving are :mod:`brb.daemon.cloud`'s; the money is
:mod:`brb.daemon.spending`'s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from brb.core.convert import Endpoint
from brb.core.convert.answers import ChatReader, MessagesReader
from brb.core.pricing import Usage
from brb.core.provider_breaker import Outcome
from brb.core.stream_tally import OutputTally, cut_off_usage, worst_case_usage
from brb.daemon.attempt import Attempt, Plan, failure, first_content_within
from brb.daemon.chain import Link
from brb.daemon.events import EventSink, Settled
from brb.daemon.leg import CloudRoute, Leg, LegResult
from brb.daemon.spending import Spending
from brb.errors import ConversionError, ProviderError

log = logging.getLogger(__name__)

_CONTENT_TYPES = {
    Endpoint.OLLAMA_CHAT: "application/x-ndjson",
    Endpoint.OLLAMA_GENERATE: "application/x-ndjson",
    Endpoint.OPENAI_CHAT: "text/event-stream",
}


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


class CloudCall:
    """Calls one provider and answers the client (one per cloud leg)."""

    def __init__(self, spending: Spending, clock: Callable[[], datetime], sink: EventSink) -> None:
        self.spending = spending
        self.clock = clock
        self.sink = sink

    def settle(self, plan: Plan, link: Link, usage: Usage, started: float, outcome: str) -> Decimal:
        at = self.clock()
        latency = time.monotonic() - started
        cost = self.spending.settle(plan.request_id, plan.price, usage, latency, outcome)
        self.sink.publish(Settled(at, link.name, plan.cloud_model, cost, usage, latency, outcome))
        return cost

    def _failed(self, plan: Plan, link: Link, exc: ProviderError) -> None:
        """The provider failed before anything reached the client: give the money back."""
        self.spending.release(plan.request_id, f"provider_error:{exc.status or 'network'}")
        level = logging.WARNING if exc.retryable else logging.ERROR
        log.log(
            level,
            "%s failed (%s, request-id %s), falling back to the next provider: %s%s",
            link.name,
            exc.status or "no status",
            exc.request_id or "-",
            exc,
            "" if exc.retryable else " — a conversion or config fault, please report",
        )
        self.sink.publish(failure(self.clock(), link.name, exc))

    async def answer(
        self,
        request: web.Request,
        plan: Plan,
        d: Diversion,
        link: Link,
        attempt: Attempt,
        t0: float,
    ) -> LegResult | None:
        """One provider's answer, streamed or whole; None: it failed before any byte went out.
        ``t0``: when the cloud leg took the request (its latency starts there)."""
        started = time.monotonic()
        reader: MessagesReader | ChatReader
        if plan.chat is not None:
            reader = ChatReader(is_stream=plan.is_stream, include_usage=plan.include_usage)
            items = link.provider.stream_chat(plan.chat)  # type: ignore[attr-defined]
        else:
            reader = MessagesReader(d.endpoint, plan.req, is_stream=plan.is_stream,
                                    now=self.clock())  # fmt: skip
            items = link.provider.stream(plan.params)
        held: list[bytes] = []
        response: web.StreamResponse | None = None
        tally = OutputTally()
        max_tokens = int(plan.params["max_tokens"])
        stream = first_content_within(items, reader, link, started)
        try:
            async for item in stream:
                tally = tally.fed(item)
                elapsed = int((time.monotonic() - started) * 1e9)
                frames = reader.feed(item, now=self.clock(), elapsed_ns=elapsed)
                if response is None:
                    held.extend(frames)
                    if not reader.has_content or not plan.is_stream:
                        continue
                    response = await self._open_stream(request, plan, d, link)
                    frames, held = held, []
                for frame in frames:
                    await response.write(frame)
        except ConversionError as exc:  # brb's side of the wire, before anything was sent
            log.warning("%s request not sent to %s: %s", d.endpoint, link.name, exc)
            self.spending.release(plan.request_id, "not_sent")
            return None
        except ProviderError as exc:
            attempt.failed(exc)
            # Cut short: an error event ends what the provider produced (settle at what
            # was seen); a timeout or lost connection may hide more (the worst case).
            if exc.status is None:
                usage = worst_case_usage(reader.usage, max_tokens=max_tokens)
            else:
                usage = cut_off_usage(reader.usage, tally, max_tokens=max_tokens)
            if response is None:
                # The provider had started (content, or message_start reporting its
                # usage): a whole answer cut short, or one that failed before content;
                # its tokens count (core/stream_tally.py), nothing went to the client.
                if reader.has_content or reader.usage.input_tokens:
                    latency = time.monotonic() - started
                    cut = "error_before_answer"
                    self.spending.settle(plan.request_id, plan.price, usage, latency, cut)
                    self.sink.publish(failure(self.clock(), link.name, exc))
                else:
                    self._failed(plan, link, exc)
                return None
            log.warning("%s failed mid-stream after content was sent: %s", link.name, exc)
            self.sink.publish(failure(self.clock(), link.name, exc, midstream=True))
            self.settle(plan, link, usage, started, "error_midstream")
            await response.write(reader.error_frame(str(exc)))
            await response.write_eof()
            return self._result(response, plan, d, link, usage, t0, "error")
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            # The client went away: charge what the provider produced, or give it back.
            attempt.outcome = Outcome.SUCCESS if reader.has_content else Outcome.NEUTRAL
            if reader.has_content or reader.usage.input_tokens:  # the provider has started
                # at least what it was seen producing (core/stream_tally.py)
                usage = cut_off_usage(reader.usage, tally, max_tokens=max_tokens)
                self.settle(plan, link, usage, started, "client_gone")
            else:
                self.spending.release(plan.request_id, "client_gone")
            raise
        finally:
            await stream.aclose()  # and so the provider's stream, whatever happened
        attempt.outcome = Outcome.SUCCESS
        if not plan.is_stream:
            try:
                elapsed = int((time.monotonic() - started) * 1e9)
                body = reader.whole(now=self.clock(), elapsed_ns=elapsed)
            except Exception:  # a rendering bug is brb's: the client still gets an answer
                log.exception("rendering a %s answer failed: it is answered locally", d.endpoint)
                self.settle(plan, link, reader.usage, started, "render_failed")
                return None
            cost = self.settle(plan, link, reader.usage, started, "ok")
            headers = self._headers(plan, link, d)
            headers["X-BRB-Cost-USD"] = f"{cost:.6f}"
            whole = web.Response(body=json.dumps(body).encode(), status=200,
                                 content_type="application/json", headers=headers)  # fmt: skip
            return self._result(whole, plan, d, link, reader.usage, t0)
        if response is None:  # a stream with no content at all (e.g. an empty reply)
            response = await self._open_stream(request, plan, d, link)
        for frame in [*held, *reader.done_frames()]:
            await response.write(frame)
        self.settle(plan, link, reader.usage, started, "ok")
        await response.write_eof()
        return self._result(response, plan, d, link, reader.usage, t0)

    def _result(
        self,
        response: web.StreamResponse,
        plan: Plan,
        d: Diversion,
        link: Link,
        usage: Usage,
        t0: float,
        outcome: str = "ok",
    ) -> LegResult:
        return LegResult(
            response,
            Leg.CLOUD,
            link.name,
            link.name,
            plan.cloud_model,
            response.status,
            d.reason,
            time.monotonic() - t0,
            usage,
            outcome=outcome,
        )

    async def _open_stream(
        self, request: web.Request, plan: Plan, d: Diversion, link: Link
    ) -> web.StreamResponse:
        ctype = _CONTENT_TYPES.get(d.endpoint, "text/event-stream")  # type: ignore[call-overload]
        response = web.StreamResponse(status=200, headers=self._headers(plan, link, d))
        response.content_type = ctype
        await response.prepare(request)
        return response

    def _headers(self, plan: Plan, link: Link, d: Diversion) -> dict[str, str]:
        headers = {**d.headers, "X-BRB-Provider": link.name, "X-BRB-Model": plan.cloud_model}
        if d.reason:
            headers["X-BRB-Route"] = d.reason
        if plan.req is not None and plan.req.trimmed_turns:
            headers["X-BRB-Trimmed"] = str(plan.req.trimmed_turns)
        return headers
