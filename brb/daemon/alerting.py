"""The alerter: turns what the daemon notices into alerts for the outbox.

Owns the daemon's alert calls (one per situation), building each alert from
:mod:`brb.core.alerts` / :mod:`brb.core.provider_alerts` with the budget day
of its time, the per-provider error rate and when each provider's breaker
opened. Firing each alert once and delivering it to every notifier, in order
and with retries, is :class:`brb.daemon.alert_outbox.Outbox`'s job.

The daemon calls the alert methods synchronously from the event loop; they
return at once and never raise: an alert must never block or fail a request.
``aclose()`` waits a bounded time for what is still in flight.

Must not: decide when the breaker or budget changes (the daemon tells it),
or print a secret (notifier errors arrive redacted; URLs are never logged).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp

from brb.adapters.notifiers import Notifier, enabled_notifiers
from brb.adapters.notifiers.delivery import DeliveryAttempt, RetryPolicy, Sleep
from brb.adapters.store import Store
from brb.config import BrbConfig
from brb.core import alerts, provider_alerts
from brb.core.alerts import Alert
from brb.core.budget import budget_day
from brb.core.provider_alerts import ErrorRate
from brb.daemon.alert_outbox import Outbox


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Alerter:
    """Fire-and-forget alerts for the daemon; see the module docstring."""

    def __init__(
        self,
        cfg: BrbConfig,
        store: Store,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], datetime] = _utcnow,
        *,
        notifiers: Sequence[Notifier] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        unit_random: Callable[[], float] = random.random,
        on_attempt: Callable[[DeliveryAttempt], None] | None = None,
    ) -> None:
        self._cfg = cfg
        self._rates: dict[str, ErrorRate] = {}
        self._provider_opened_at: dict[str, datetime] = {}
        self._outbox = Outbox(
            store,
            notifiers if notifiers is not None else enabled_notifiers(cfg),
            session,
            clock,
            retry=retry,
            sleep=sleep,
            unit_random=unit_random,
            on_attempt=on_attempt,
        )

    @property
    def notifier_names(self) -> list[str]:
        return self._outbox.notifier_names

    # --- what the daemon calls (sync, non-blocking, never raising) -------------

    def activated(
        self,
        at: datetime,
        *,
        reason: str,
        queue_depth: int | None,
        wait_s: float | None,
        source: str,
        who: str,
        incident_id: str,
    ) -> None:
        self._submit(
            lambda: alerts.activated(
                at,
                incident_id=incident_id,
                reason=reason,
                queue_depth=queue_depth,
                wait_s=wait_s,
                source=source,
                who=who,
            )
        )

    def deactivated(
        self,
        at: datetime,
        *,
        duration_s: float,
        diverted: int,
        cost_usd: Decimal | float,
        source: str,
        who: str,
        incident_id: str,
        reason: str = "",
    ) -> None:
        self._submit(
            lambda: alerts.deactivated(
                at,
                incident_id=incident_id,
                duration_s=duration_s,
                diverted=diverted,
                cost_usd=cost_usd,
                source=source,
                who=who,
                reason=reason,
            )
        )

    def budget_percent(
        self,
        at: datetime,
        *,
        day: str,
        percent: float,
        spent_usd: Decimal | float,
        limit_usd: Decimal | float,
    ) -> None:
        self._submit(
            lambda: alerts.budget_percent(
                at, day=day, percent=percent, spent_usd=spent_usd, limit_usd=limit_usd
            )
        )

    def budget_exhausted(
        self, at: datetime, *, day: str, spent_usd: Decimal | float, limit_usd: Decimal | float
    ) -> None:
        self._submit(
            lambda: alerts.budget_exhausted(at, day=day, spent_usd=spent_usd, limit_usd=limit_usd)
        )

    def provider_error(self, at: datetime, *, provider: str, error: str) -> None:
        """Count one failed cloud call; alerts once when a minute holds more than
        ``alerts.provider_errors_per_minute``, again only after it calmed down."""
        threshold = self._cfg.alerts.provider_errors_per_minute
        state, fire = provider_alerts.count_error(
            self._rates.get(provider, ErrorRate()), at, threshold
        )
        self._rates[provider] = state
        if fire and state.alerting_since is not None:
            since = state.alerting_since
            self._submit(
                lambda: provider_alerts.provider_errors(
                    at,
                    day=self._day(at),
                    provider=provider,
                    count=len(state.recent),
                    threshold=threshold,
                    episode_start=since,
                    last_error=error,
                )
            )

    def provider_opened(
        self, at: datetime, *, provider: str, failures: int, resting_s: float, last_error: str
    ) -> None:
        """A provider's breaker opened (not per failure: once per opening)."""
        self._provider_opened_at[provider] = at
        self._submit(
            lambda: provider_alerts.provider_opened(
                at,
                day=self._day(at),
                provider=provider,
                failures=failures,
                resting_s=resting_s,
                last_error=last_error,
            )  # fmt: skip
        )

    def provider_closed(self, at: datetime, *, provider: str) -> None:
        """A provider whose breaker had opened answered again."""
        opened = self._provider_opened_at.pop(provider, None)
        down_s = (at - opened).total_seconds() if opened is not None else None
        self._submit(
            lambda: provider_alerts.provider_closed(
                at, day=self._day(at), provider=provider, down_s=down_s
            )
        )

    def upstream_down(self, at: datetime, *, upstream: str, url: str) -> None:
        self._submit(
            lambda: alerts.upstream_down(at, day=self._day(at), upstream=upstream, url=url)
        )

    def upstream_up(self, at: datetime, *, upstream: str, url: str) -> None:
        self._submit(lambda: alerts.upstream_up(at, day=self._day(at), upstream=upstream, url=url))

    def store_unavailable(self, at: datetime, *, store: str, error: str) -> None:
        self._submit(
            lambda: alerts.store_unavailable(at, day=self._day(at), store=store, error=error)
        )

    def scale_hook_failed(self, at: datetime, *, target: str, error: str) -> None:
        self._submit(
            lambda: alerts.scale_hook_failed(at, day=self._day(at), target=target, error=error)
        )

    def rollover(
        self, at: datetime, *, new_day: str, previous_day: str, previous_spend_usd: Decimal | float
    ) -> None:
        """A new budget day; also resolves the previous day's exhaustion page, if
        one went out."""
        self._submit(
            lambda: alerts.rollover(
                at,
                new_day=new_day,
                previous_day=previous_day,
                previous_spend_usd=previous_spend_usd,
                resolve_exhausted=True,
            )
        )

    def button(
        self, at: datetime, *, event_kind: str, event_id: int, device: str, detail: str
    ) -> None:
        """The button listener (another process) recorded an unplug or a replug."""
        self._submit(
            lambda: alerts.button(
                at, event_kind=event_kind, event_id=event_id, device=device, detail=detail
            )
        )

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Wait up to ``timeout_s`` for pending deliveries, then stop."""
        await self._outbox.aclose(timeout_s)

    # --- intake: build, dedup, fan out ---------------------------------------

    def _day(self, at: datetime) -> str:
        return budget_day(at, self._cfg.tz).isoformat()

    def _submit(self, build: Callable[[], Alert]) -> None:
        self._outbox.submit(build)
