"""The cloud leg of a diverted request: the provider chain, reserve, convert, call, answer, settle.

Owns what happens between "divert this" and the client's answer: walking
the provider chain in order (:mod:`brb.daemon.chain`: an open breaker is
skipped, a half-open one lets one probe through, a provider whose model has
no price is skipped as ``unpriced_model``, one that can't take the request
as converted is skipped too), the conversion to the provider's params, the
worst-case reservation at that provider's model price on disk before the
first byte leaves (one budget across the chain), the call, the answer
converted back (stream for stream, or whole), settling the real cost (the
money itself is :mod:`brb.daemon.spending`'s), and publishing what came of
it: a settled cost, a provider failure, a breaker opening or closing.

An OpenAI client's ``/v1/chat/completions`` body goes to a provider of kind
``openai`` with minimal change (:mod:`brb.core.convert.chat_passthrough`);
every other pairing goes through brb's internal (Anthropic-shaped) request.
The provider's answer is read by :mod:`brb.core.convert.answers`.

Every provider is read as a stream, whatever the client asked for, so its
first content can be timed: none within ``first_token_timeout_seconds`` and
the provider is abandoned for this request (its reservation released, a
failure on its breaker) and the next one tried. The client's answer is held
until the first real content, so every fall-through is invisible; when the
whole chain fails :meth:`CloudLeg.serve` returns None and the caller sends
the request to the local queue (never dropped). After content has gone out,
a failure ends the stream the way the client's API does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from brb.config import BrbConfig
from brb.core import pricing
from brb.core.convert import Endpoint
from brb.core.convert.answers import ChatReader, MessagesReader
from brb.core.convert.chat_passthrough import chat_passthrough
from brb.core.pricing import Usage
from brb.core.provider_breaker import Edge, Outcome, is_admissible
from brb.core.reservation import plan_diversion
from brb.core.stream_tally import OutputTally, cut_off_usage, worst_case_usage
from brb.daemon.attempt import Attempt, Plan, capabilities, failure, first_content_within
from brb.daemon.chain import Link, Provider, ProviderChain, Ticket
from brb.daemon.events import (
    EventSink,
    ProviderClosed,
    ProviderOpened,
    ProviderProbing,
    Settled,
)
from brb.daemon.leg import FALLBACK, CloudRoute, Declined, Leg, LegResult
from brb.daemon.spending import Spending
from brb.daemon.store_writer import StoreWriter
from brb.errors import BadRequest, ConversionError, ProviderError, StoreError

__all__ = ["ANTHROPIC_MESSAGES", "CloudLeg", "Diversion", "Provider"]

log = logging.getLogger(__name__)

STORE_UNAVAILABLE = Declined("store_unavailable")

ANTHROPIC_MESSAGES = "/v1/messages"
UNPRICED = Declined("unpriced_model")
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


class CloudLeg:
    def __init__(
        self,
        cfg: BrbConfig,
        chain: ProviderChain,
        writer: StoreWriter,
        clock: Callable[[], datetime],
        sink: EventSink,
    ) -> None:
        self.cfg = cfg
        self.chain = chain
        self.writer = writer
        self.clock = clock
        self.sink = sink
        self._prices = cfg.price_overrides()
        self.spending = Spending(cfg, writer, clock, sink)
        self._model_cache: dict[tuple[str, str], tuple[str, pricing.ModelPrice | None]] = {}

    def route(self, local_model: str) -> CloudRoute:
        """Where a request for ``local_model`` would go now: the providers whose breaker
        would let it through (in chain order), and the model and price of the first of
        them whose model has a price (none priced: ``unpriced_model``, it stays local)."""
        now = self.clock()
        names: list[str] = []
        first: tuple[str, pricing.ModelPrice] | None = None
        for link in self.chain:
            if not is_admissible(link.circuit, now):
                continue
            names.append(link.name)
            if first is None:
                model, price = self._model_for(link, local_model)
                if price is not None:
                    first = (model, price)
        if first is None:
            fallback = self.chain.links[0].spec.cloud_model_for(local_model) if names else ""
            return CloudRoute(tuple(names), fallback, None)
        return CloudRoute(tuple(names), first[0], first[1])

    def _model_for(self, link: Link, local_model: str) -> tuple[str, pricing.ModelPrice | None]:
        """The provider's model for ``local_model`` and its price (memoised: every request)."""
        key = (link.name, local_model)
        try:
            return self._model_cache[key]
        except KeyError:
            model = link.spec.cloud_model_for(local_model)
            found = (model, pricing.price_for(model, self._prices))
            if len(self._model_cache) < 4096:
                self._model_cache[key] = found
            return found

    async def serve(self, request: web.Request, d: Diversion) -> LegResult | Declined:
        """Answer from the first provider that can, or decline (nothing sent): the request
        goes local (``fallback`` once a provider was tried; else why none could take it)."""
        t0 = time.monotonic()
        declined: Declined | None = None
        for name in d.route.providers:
            link = self.chain.link(name)
            if not is_admissible(link.circuit, self.clock()):
                continue
            plan = self._plan_for(link, d)
            if isinstance(plan, Declined):
                declined = declined or plan
                continue
            declined = FALLBACK
            if self.spending.is_store_down():
                return STORE_UNAVAILABLE
            ticket = self.chain.admit(link, self.clock())
            if ticket is None:
                continue
            if ticket.is_probe:
                self.sink.publish(ProviderProbing(self.clock(), link.name))
            attempt = Attempt()
            try:
                try:
                    reserved = await self._reserve(plan, d, link)
                except StoreError:
                    # No reservation, no diversion: the budget can't be checked, so the
                    # request stays local (spending said so, once per outage).
                    return STORE_UNAVAILABLE
                if not reserved:
                    continue  # a cheaper provider further down may still fit the budget
                result = await self._call(request, plan, d, link, attempt, t0)
            finally:
                self._record(ticket, attempt)
            if result is not None:
                return result
        return declined or FALLBACK

    def _record(self, ticket: Ticket, attempt: Attempt) -> None:
        link, at = ticket.link, self.clock()
        edge = self.chain.record(ticket, attempt.outcome, at, error=attempt.error)
        c = link.circuit
        if edge in (Edge.OPENED, Edge.REOPENED) and c.open_until is not None:
            self.sink.publish(
                ProviderOpened(at, link.name, (c.open_until - at).total_seconds(), c.failures,
                               c.open_until, c.last_error, reopened=edge is Edge.REOPENED)
            )  # fmt: skip
        elif edge is Edge.CLOSED:
            self.sink.publish(ProviderClosed(at, link.name))

    # --- planning and money ----------------------------------------------------

    def _plan_for(self, link: Link, d: Diversion) -> Plan | Declined:
        """The plan for this provider, or why it is skipped (logged)."""
        cloud_model, price = self._model_for(link, d.local_model)
        if price is None:
            log.info("%s skipped: %s has no price (unpriced_model)", link.name, cloud_model)
            return UNPRICED
        try:
            return self._plan(d, link, cloud_model, price)
        except ConversionError as exc:
            log.info("%s skipped for this %s request: %s", link.name, d.endpoint, exc)
            return Declined(exc.reason)
        except BadRequest as exc:  # the client's body as brb reads it; Ollama has its say
            log.info("%s skipped for this %s request: %s", link.name, d.endpoint, exc)
            return Declined(ConversionError.reason)
        except Exception:  # a conversion bug must not cost the client its answer
            log.exception("converting a %s request for %s failed", d.endpoint, link.name)
            return FALLBACK

    def _plan(self, d: Diversion, link: Link, cloud_model: str, price: pricing.ModelPrice) -> Plan:
        plan = plan_diversion(
            d.endpoint,
            d.body,
            cloud_model=cloud_model,
            price=price,
            caps=capabilities(link, cloud_model),
            default_max_tokens=self.cfg.models.max_tokens,
            max_input_tokens=self.cfg.models.max_input_tokens,
        )
        chat = None
        if d.endpoint == Endpoint.OPENAI_CHAT and link.spec.kind == "openai":
            # An OpenAI client and an OpenAI-compatible provider: the body goes with minimal
            # change; the conversion above still vouches for it and bounds its cost.
            chat = chat_passthrough(d.body, cloud_model, max_tokens=plan.max_tokens)
        return Plan(
            cloud_model, price, plan.params, plan.is_stream, plan.req, plan.worst_usd,
            uuid.uuid4().hex, chat, bool(plan.req and plan.req.include_usage),
        )  # fmt: skip

    async def _reserve(self, plan: Plan, d: Diversion, link: Link) -> bool:
        return await self.spending.reserve(
            plan.request_id,
            plan.worst_usd,
            provider=link.name,
            endpoint=d.endpoint,
            session=d.session,
            local_model=d.local_model,
            cloud_model=plan.cloud_model,
        )

    def _settle(
        self, plan: Plan, link: Link, usage: Usage, started: float, outcome: str
    ) -> Decimal:
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

    # --- the call ----------------------------------------------------------------

    async def _call(
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
            self._settle(plan, link, usage, started, "error_midstream")
            await response.write(reader.error_frame(str(exc)))
            await response.write_eof()
            return self._result(response, plan, d, link, usage, t0, "error")
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            # The client went away: charge what the provider produced, or give it back.
            attempt.outcome = Outcome.SUCCESS if reader.has_content else Outcome.NEUTRAL
            if reader.has_content or reader.usage.input_tokens:  # the provider has started
                # at least what it was seen producing (core/stream_tally.py)
                usage = cut_off_usage(reader.usage, tally, max_tokens=max_tokens)
                self._settle(plan, link, usage, started, "client_gone")
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
                self._settle(plan, link, reader.usage, started, "render_failed")
                return None
            cost = self._settle(plan, link, reader.usage, started, "ok")
            headers = self._headers(plan, link, d)
            headers["X-BRB-Cost-USD"] = f"{cost:.6f}"
            whole = web.Response(body=json.dumps(body).encode(), status=200,
                                 content_type="application/json", headers=headers)  # fmt: skip
            return self._result(whole, plan, d, link, reader.usage, t0)
        if response is None:  # a stream with no content at all (e.g. an empty reply)
            response = await self._open_stream(request, plan, d, link)
        for frame in [*held, *reader.done_frames()]:
            await response.write(frame)
        self._settle(plan, link, reader.usage, started, "ok")
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
