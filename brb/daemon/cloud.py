"""The cloud leg of a diverted request: the provider chain, plan, reserve, then the call.

Owns what happens between "divert this" and a provider's call: where a
request would go now (:meth:`CloudLeg.route`: the admissible providers and
the first priced model), walking the provider chain in order
(:mod:`brb.daemon.chain`: an open breaker is skipped, a half-open one lets
one probe through, a provider whose model has no price is skipped as
``unpriced_model``, one that can't take the request as converted is skipped
too), the conversion to the provider's params, the worst-case reservation at
that provider's model price on disk before the first byte leaves (one budget
across the chain; a store that can't reserve keeps diversions local for a
while), and recording each attempt on its breaker, publishing a breaker
opening, probing or closing. The call itself, the client's answer and
settling the real cost are :mod:`brb.daemon.cloud_call`'s.

An OpenAI client's ``/v1/chat/completions`` body goes to a provider of kind
``openai`` with minimal change (:mod:`brb.core.convert.chat_passthrough`);
every other pairing goes through brb's internal (Anthropic-shaped) request.

A provider that fails before its first content is abandoned for this
request (its reservation released, a failure on its breaker) and the next
one tried, invisibly to the client; when the whole chain fails
:meth:`CloudLeg.serve` declines and the caller sends the request to the
local queue (never dropped).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from brb.config import BrbConfig
from brb.core import pricing
from brb.core.convert import Endpoint
from brb.core.convert.chat_passthrough import chat_passthrough
from brb.core.provider_breaker import Edge, is_admissible
from brb.core.reservation import plan_diversion
from brb.daemon.attempt import Attempt, Plan, capabilities
from brb.daemon.chain import Link, Provider, ProviderChain, Ticket
from brb.daemon.cloud_call import CloudCall, Diversion
from brb.daemon.events import (
    EventSink,
    ProviderClosed,
    ProviderOpened,
    ProviderProbing,
)
from brb.daemon.leg import FALLBACK, CloudRoute, Declined, LegResult
from brb.daemon.spending import Spending
from brb.daemon.store_writer import StoreWriter
from brb.errors import BadRequest, ConversionError, StoreError

__all__ = ["ANTHROPIC_MESSAGES", "CloudLeg", "Diversion", "Provider"]

log = logging.getLogger(__name__)

STORE_UNAVAILABLE = Declined("store_unavailable")

ANTHROPIC_MESSAGES = "/v1/messages"
UNPRICED = Declined("unpriced_model")


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
        self.call = CloudCall(self.spending, clock, sink)
        self._model_cache: dict[tuple[str, str], tuple[str, pricing.ModelPrice | None]] = {}

    def route(self, local_model: str, now: datetime | None = None) -> CloudRoute:
        """Where a request for ``local_model`` would go ``now`` (default: the clock's): the
        providers whose breaker would let it through (in chain order), and the model and
        price of the first of them priced (none: ``unpriced_model``, it stays local)."""
        now = now or self.clock()
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
                result = await self.call.answer(request, plan, d, link, attempt, t0)
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
