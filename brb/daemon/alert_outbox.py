"""The alert outbox: each built alert admitted once, then delivered to every notifier in order.

Owns firing each alert once (``store.mark_alert_once``: once per incident or
per budget day, so a repeated call, a restart or a flapping caller never
causes a storm) and delivery: every enabled notifier gets its own queue and
worker, so its calls keep their order (a PagerDuty resolve never overtakes
its trigger, a Statuspage "operational" never lands before the "degraded" it
undoes) and a slow notifier never holds up the others.

Delivery (:mod:`brb.adapters.notifiers.delivery`) retries connection errors,
timeouts, 429 and 5xx with exponential backoff and jitter, honours
``Retry-After``, gives up on other 4xx and after ``RetryPolicy.max_attempts``.
Every attempt is an ``alert_delivery`` event in the store (detail: notifier,
alert_kind, alert_key, attempt, ok, status, error); store calls run in a
thread so the event loop never waits on SQLite. ``aclose()`` waits a bounded
time for what is still in flight.

Must not: build alerts or decide when one is due (:mod:`brb.daemon.alerting`
does), block or raise into its caller, or print a secret (notifier errors
arrive redacted; URLs are never logged).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime

import aiohttp

from brb.adapters.notifiers import Notifier
from brb.adapters.notifiers.delivery import DeliveryAttempt, RetryPolicy, Sleep, deliver
from brb.adapters.notifiers.http import USER_AGENT, Outcome, Request
from brb.adapters.store import Store
from brb.core import alerts
from brb.core.alerts import Action, Alert, AlertKind
from brb.errors import BrbError

log = logging.getLogger(__name__)

EVENT_KIND = "alert_delivery"
QUEUE_SIZE = 200
# What a store call can raise; an alert path survives all of them.
_STORE_ERRORS = (BrbError, sqlite3.Error)


class Outbox:
    """Dedup, fan-out and ordered delivery; see the module docstring."""

    def __init__(
        self,
        store: Store,
        notifiers: Sequence[Notifier],
        session: aiohttp.ClientSession | None,
        clock: Callable[[], datetime],
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        unit_random: Callable[[], float] = random.random,
        on_attempt: Callable[[DeliveryAttempt], None] | None = None,
    ) -> None:
        self._store = store
        self._session = session
        self._owns_session = session is None
        self._clock = clock
        self._notifiers = list(notifiers)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._random = unit_random
        self._on_attempt = on_attempt
        self._intake: asyncio.Queue[Alert] = asyncio.Queue(QUEUE_SIZE)
        self._queues: dict[str, asyncio.Queue[tuple[Alert, Request]]] = {
            n.name: asyncio.Queue(QUEUE_SIZE) for n in self._notifiers
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @property
    def notifier_names(self) -> list[str]:
        return [n.name for n in self._notifiers]

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Wait up to ``timeout_s`` for pending deliveries, then stop."""
        self._closed = True
        if self._tasks:
            try:
                await asyncio.wait_for(self._drain(), timeout_s)
            except TimeoutError:
                pending = self._intake.qsize() + sum(q.qsize() for q in self._queues.values())
                log.warning(
                    "alerts: stopped with %d deliveries still pending after %.0fs",
                    pending,
                    timeout_s,
                )
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- intake: build, dedup, fan out ---------------------------------------

    def submit(self, build: Callable[[], Alert]) -> None:
        try:
            if self._closed:
                log.warning("alerts: closing, not sending a new alert")
                return
            alert = build()
            self._start()
            self._intake.put_nowait(alert)
        except asyncio.QueueFull:
            log.warning("alerts: queue full, dropping a %s alert", alert.kind)
        except Exception:  # an alert must never fail the caller
            log.exception("alerts: could not queue an alert")

    def _start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        self._tasks.append(loop.create_task(self._intake_worker(), name="brb-alerts-intake"))
        for n in self._notifiers:
            self._tasks.append(
                loop.create_task(self._notifier_worker(n), name=f"brb-alerts-{n.name}")
            )

    async def _drain(self) -> None:
        await self._intake.join()
        for q in self._queues.values():
            await q.join()

    async def _intake_worker(self) -> None:
        while True:
            alert = await self._intake.get()
            try:
                await self._admit(alert)
            except Exception:
                log.exception("alerts: failed to dispatch a %s alert", alert.kind)
            finally:
                self._intake.task_done()

    async def _admit(self, alert: Alert) -> None:
        try:
            first = await asyncio.to_thread(
                self._store.mark_alert_once, alert.once_scope, alert.once_key, alert.at
            )
        except _STORE_ERRORS as exc:
            # A duplicate beats a lost alert: deliver anyway.
            log.warning("alerts: can't record %s as sent (%s); sending anyway", alert.once_key, exc)
            first = True
        if not first:
            log.debug("alerts: %s already sent (%s)", alert.once_key, alert.once_scope)
            return
        if alert.kind is AlertKind.ROLLOVER and alert.incident:
            alert = await self._unless_never_exhausted(alert)
        log.info("alert: %s", alert.title)
        for n in self._notifiers:
            request = n.request_for(alert)
            if request is None:
                continue
            try:
                self._queues[n.name].put_nowait((alert, request))
            except asyncio.QueueFull:
                log.warning("alerts: %s queue full, dropping a %s alert", n.name, alert.kind)

    async def _unless_never_exhausted(self, alert: Alert) -> Alert:
        """A rollover resolves yesterday's exhaustion page only if one was sent."""
        previous = str(alert.fields.get("previous_day") or "")
        try:
            fired = await asyncio.to_thread(self._store.alerts_fired, previous)
        except _STORE_ERRORS:
            return alert  # an unneeded resolve is harmless: PagerDuty drops it
        if alerts.EXHAUSTED_KEY in fired:
            return alert
        return dataclasses.replace(alert, action=Action.NOTIFY, incident=None)

    # --- delivery: one worker per notifier, in order -------------------------

    async def _notifier_worker(self, notifier: Notifier) -> None:
        queue = self._queues[notifier.name]
        while True:
            alert, request = await queue.get()
            try:
                await self._deliver(notifier.name, alert, request)
            except Exception:
                log.exception(
                    "alerts: %s delivery of %s failed unexpectedly", notifier.name, alert.kind
                )
            finally:
                queue.task_done()

    async def _deliver(self, name: str, alert: Alert, request: Request) -> None:
        async def record(attempt: int, outcome: Outcome, final: bool) -> None:
            await self._record(
                DeliveryAttempt(
                    name,
                    alert.kind.value,
                    alert.once_key,
                    attempt,
                    outcome.ok,
                    outcome.status,
                    outcome.error,
                    final,
                )
            )

        assert self._session is not None
        await deliver(
            self._session,
            request,
            self._retry,
            on_attempt=record,
            sleep=self._sleep,
            unit_random=self._random,
        )

    async def _record(self, a: DeliveryAttempt) -> None:
        if a.ok:
            level, what = logging.INFO, "delivered"
        elif a.final:
            level, what = logging.WARNING, "failed, giving up"
        else:
            level, what = logging.INFO, "failed, will retry"
        log.log(
            level,
            "alerts: %s %s attempt %d %s (%s)",
            a.notifier,
            a.alert_kind,
            a.attempt,
            what,
            a.error or f"HTTP {a.status}",
        )
        reason = f"{a.notifier} {a.alert_kind} " + ("delivered" if a.ok else "failed")
        try:
            await asyncio.to_thread(
                self._store.add_event,
                EVENT_KIND,
                at=self._clock(),
                source="alerts",
                who="brb",
                reason=reason,
                detail=a.detail(),
            )
        except _STORE_ERRORS as exc:
            log.warning("alerts: can't record a delivery attempt: %s", exc)
        if self._on_attempt is not None:
            try:
                self._on_attempt(a)
            except Exception:
                log.exception("alerts: the on_attempt callback failed")
