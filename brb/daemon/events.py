"""The daemon's happenings as typed events, and the one sink they go to.

Owns the event types (frozen, slotted: a listener can't change what another
sees; the two published on every request are :func:`~brb.core.value_type.value_type`
records, frozen to the type checker and cheap to build) and :class:`EventSink`,
which hands each published event to the listeners subscribed to its type
(or to a base class of it: subscribe to :class:`Event` to see everything).
A listener's exception is logged and never reaches the publisher: an
alerting or metrics bug must not break a request. Publishing from another
thread (the store writer's) hops to the event loop, so listeners always run
on the loop, one at a time.

Must not: decide anything, or hold state about the events (listeners do).
Publishing is a dict lookup and a loop over the handlers: cheap enough for
the request path (no copies: an event carries references, e.g. the tick's
queue views, that listeners must only read).

The events, and who publishes each:

======================  =========================================================
event                   published by
======================  =========================================================
:class:`Routed`         the front, once per inference request, after deciding
:class:`RequestDone`    the front, once per answered inference request (its row)
:class:`Settled`        the cloud leg, when a diverted request's cost is settled
:class:`ProviderFailed` the cloud leg, when a provider call fails
:class:`ProviderOpened` the cloud leg, when a provider's breaker opens (or reopens)
:class:`ProviderProbing` the cloud leg, when an open breaker lets its one probe out
:class:`ProviderClosed` the cloud leg, when a probe succeeds and the breaker closes
:class:`UpstreamDown`   the upstream pool, when an Ollama upstream fails (refused, timed out)
:class:`UpstreamUp`     the upstream pool, when a down upstream answers a probe again
:class:`UpstreamModels` the upstream pool, when a probe finds other models loaded
:class:`BreakerMoved`   the live state, on a breaker transition (active/standby)
:class:`DivertingStarted`  the live state, when brb starts diverting (breaker,
                        press, ...): the "activated" edge
:class:`DivertingStopped`  the live state, the "deactivated" edge
:class:`IncidentOpened` the incident tracker, on DivertingStarted (with its id)
:class:`IncidentClosed` the incident tracker, on DivertingStopped (diverted, dollars)
:class:`ScaleHookCalled` the scale hook listener, after each call of ``scale_hook``
:class:`BudgetCrossed`  spending (store writer thread), an alert percent or exhaustion
:class:`BudgetSeen`     the 1 s tick (store writer thread), today's budget snapshot
:class:`StoreUnavailable`  spending, when the store first fails a reservation in an outage
:class:`Ticked`         the 1 s tick, with the queue views and the live state
:class:`ButtonEvent`    the button watch, for a button unplugged/replugged event
:class:`RolledOver`     the rollover job, when a new budget day begins
:class:`AlertAttempted` the alerts listener, after each notifier delivery attempt
:class:`DaemonStarted`  the daemon, once started (upstream version known)
:class:`DaemonReady`    the daemon, once listening (the bound address)
:class:`DaemonStopping` the daemon, when a stop begins (before draining)
======================  =========================================================
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from brb.adapters.notifiers.delivery import DeliveryAttempt
from brb.core.breaker import Mode, Observation, Phase
from brb.core.budget import BudgetSnapshot
from brb.core.pricing import Usage
from brb.core.queueing import QueueView
from brb.core.request_log import RequestRow
from brb.core.value_type import value_type

log = logging.getLogger(__name__)


class Event:
    """The base of every event (subscribe to it to see them all)."""

    __slots__ = ()


# --- the request path ------------------------------------------------------------------


@value_type
class Routed(Event):
    at: datetime
    endpoint: str
    model: str
    session: str
    divert: bool
    reason: str


@value_type
class RequestDone(Event):
    """An inference request answered (by Ollama or a provider): its request-log row."""

    row: RequestRow

    @property
    def metric_outcome(self) -> str:
        """ok / error, or fallback when a cloud failure was served locally."""
        return "fallback" if self.row.reason == "fallback" else self.row.outcome


@dataclass(frozen=True, slots=True)
class Settled(Event):
    at: datetime
    provider: str
    cloud_model: str
    cost_usd: Decimal
    usage: Usage
    latency_s: float
    outcome: str  # ok, error_midstream, client_gone


@dataclass(frozen=True, slots=True)
class ProviderFailed(Event):
    at: datetime
    provider: str
    status: int | None  # None: no HTTP answer (timeout, refused, reset)
    message: str
    retryable: bool
    request_id: str | None = None
    midstream: bool = False  # after content had gone to the client


@dataclass(frozen=True, slots=True)
class ProviderOpened(Event):
    """A provider's breaker opened after failures in a row: it is skipped until
    ``open_until``, then one request probes it. ``reopened``: a failed probe
    opened it again (still the same outage: no new alert)."""

    at: datetime
    provider: str
    resting_s: float
    failures: int
    open_until: datetime | None = None
    last_error: str | None = None
    reopened: bool = False


@dataclass(frozen=True, slots=True)
class ProviderProbing(Event):
    """A provider's cooldown is over: one request probes it (half-open)."""

    at: datetime
    provider: str


@dataclass(frozen=True, slots=True)
class ProviderClosed(Event):
    """A provider whose breaker had opened answered a probe: it is used again."""

    at: datetime
    provider: str


@dataclass(frozen=True, slots=True)
class UpstreamDown(Event):
    """An Ollama upstream of the pool refused a connection, timed out or failed a
    probe: no request goes to it until it answers again."""

    at: datetime
    upstream: str  # its name in the pool
    url: str


@dataclass(frozen=True, slots=True)
class UpstreamUp(Event):
    """A down Ollama upstream answered a probe: it takes requests again."""

    at: datetime
    upstream: str
    url: str


@dataclass(frozen=True, slots=True)
class UpstreamModels(Event):
    """A probe found a different set of models loaded on an upstream (its /api/ps)."""

    at: datetime
    upstream: str
    models: tuple[str, ...]


# --- the breaker and the operator --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BreakerMoved(Event):
    at: datetime
    kind: str  # "activated" or "deactivated"
    reason: str
    observation: Observation


@dataclass(frozen=True, slots=True)
class DivertingStarted(Event):
    at: datetime
    reason: str
    source: str  # breaker, cli, http, button, ...
    who: str
    observation: Observation


@dataclass(frozen=True, slots=True)
class DivertingStopped(Event):
    at: datetime
    reason: str
    source: str
    who: str


@dataclass(frozen=True, slots=True)
class IncidentOpened(Event):
    at: datetime
    incident_id: str
    reason: str
    source: str
    who: str
    observation: Observation


@dataclass(frozen=True, slots=True)
class IncidentClosed(Event):
    at: datetime
    incident_id: str
    duration_s: float
    diverted: int
    cost_usd: Decimal
    reason: str
    source: str
    who: str


@dataclass(frozen=True, slots=True)
class ScaleHookCalled(Event):
    """``scale_hook`` was called (the breaker active past ``scale_hook_after_seconds``)."""

    at: datetime
    target: str  # the URL without credentials, or "command <program>"
    extra_slots_needed: int
    error: str | None = None  # None: delivered


# --- money -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetCrossed(Event):
    at: datetime
    day: str
    percents: tuple[float, ...]
    spent_usd: Decimal
    limit_usd: Decimal
    exhausted: bool


@dataclass(frozen=True, slots=True)
class BudgetSeen(Event):
    at: datetime
    snapshot: BudgetSnapshot


@dataclass(frozen=True, slots=True)
class StoreUnavailable(Event):
    """The store failed a reservation (locked, full, unreachable): diverted requests
    stay local until it takes one again. Once per outage, not per request."""

    at: datetime
    store: str  # where it is, safe to print (a path, or a URL with no password)
    error: str


@dataclass(frozen=True, slots=True)
class RolledOver(Event):
    at: datetime
    day: date
    previous_day: date
    previous_spend_usd: Decimal
    budget: BudgetSnapshot  # the new day's


# --- the tick, the button, alerts, life ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ticked(Event):
    """The 1 s tick. ``views`` is the monitor's, shared: read it, don't keep or change it."""

    at: datetime
    views: Mapping[str, QueueView]
    observation: Observation
    phase: Phase
    mode: Mode
    is_diverting: bool


@dataclass(frozen=True, slots=True)
class ButtonEvent(Event):
    at: datetime
    kind: str  # button_unplugged, button_replugged
    event_id: int
    device: str
    detail: str


@dataclass(frozen=True, slots=True)
class AlertAttempted(Event):
    attempt: DeliveryAttempt


@dataclass(frozen=True, slots=True)
class DaemonStarted(Event):
    at: datetime
    upstream_version: str | None


@dataclass(frozen=True, slots=True)
class DaemonReady(Event):
    address: str


@dataclass(frozen=True, slots=True)
class DaemonStopping(Event):
    in_flight: int


# --- the sink ----------------------------------------------------------------------------

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], object]


class EventSink:
    """Dispatches each event, by type, to its subscribers; see the module docstring."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Handler]] = {}
        self._table: dict[type, tuple[Handler, ...]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    def subscribe(self, kind: type[E], handler: Callable[[E], object]) -> None:
        """Call ``handler`` with every event of type ``kind`` (or a subclass of it)."""
        self._subscribers.setdefault(kind, []).append(handler)
        self._table.clear()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop listeners run on (call from it): publishing from elsewhere hops to it."""
        self._loop = loop
        self._thread = threading.get_ident()

    def publish(self, event: Event) -> None:
        """Hand ``event`` to its listeners; never raises."""
        if self._thread is not None and threading.get_ident() != self._thread:
            try:
                self._loop.call_soon_threadsafe(self._dispatch, event)  # type: ignore[union-attr]
            except RuntimeError:  # the loop is closed: the daemon has stopped
                log.debug("dropped %s published after the loop closed", type(event).__name__)
            return
        self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        kind = type(event)
        handlers = self._table.get(kind)
        if handlers is None:
            handlers = self._table[kind] = tuple(
                h for base in kind.__mro__ for h in self._subscribers.get(base, ())
            )
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("a listener failed on %s", kind.__name__)
