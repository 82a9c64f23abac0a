"""The provider log: each provider breaker edge written to the store's events.

Owns turning :class:`ProviderOpened`, :class:`ProviderProbing` and
:class:`ProviderClosed` into ``provider_opened`` / ``provider_half_open`` /
``provider_closed`` rows of the store's event log (``who`` is the provider
entry's name, the detail its breaker: state, failures, open_until,
last_error), off the event loop on the store writer. ``brb status`` reads
them back (:func:`brb.status.provider_states`), so it shows each breaker
without asking the daemon. Must not decide anything or write per failure:
edges only.
"""

from __future__ import annotations

from brb.daemon.events import EventSink, ProviderClosed, ProviderOpened, ProviderProbing
from brb.daemon.store_writer import StoreWriter
from brb.status import PROVIDER_CLOSED as CLOSED
from brb.status import PROVIDER_HALF_OPEN as HALF_OPEN
from brb.status import PROVIDER_OPENED as OPENED


class ProviderLog:
    def __init__(self, writer: StoreWriter) -> None:
        self._writer = writer

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(ProviderOpened, self.opened)
        sink.subscribe(ProviderProbing, self.probing)
        sink.subscribe(ProviderClosed, self.closed)

    def opened(self, e: ProviderOpened) -> None:
        detail = {
            "state": "open",
            "failures": e.failures,
            "open_until": e.open_until.isoformat() if e.open_until is not None else None,
            "last_error": e.last_error,
            "reopened": e.reopened,
        }
        self._add(OPENED, e, reason=(e.last_error or "")[:300], detail=detail)

    def probing(self, e: ProviderProbing) -> None:
        self._add(HALF_OPEN, e, reason="cooldown over: one request probes it",
                  detail={"state": "half_open"})  # fmt: skip

    def closed(self, e: ProviderClosed) -> None:
        self._add(CLOSED, e, reason="the probe succeeded", detail={"state": "closed"})

    def _add(
        self,
        kind: str,
        e: ProviderOpened | ProviderProbing | ProviderClosed,
        *,
        reason: str,
        detail: dict[str, object],
    ) -> None:
        store = self._writer.store
        self._writer.submit(
            store.add_event, kind, at=e.at, source="daemon", who=e.provider, reason=reason,
            detail=detail,
        )  # fmt: skip
