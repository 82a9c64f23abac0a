"""The upstream log: each pool member's health edges and loaded models, to the store.

Owns turning :class:`UpstreamDown`, :class:`UpstreamUp` and :class:`UpstreamModels`
into ``upstream_down`` / ``upstream_up`` / ``upstream_models`` rows of the
store's event log (``who`` is the upstream's name), off the event loop on the
store writer. ``brb status`` reads them back (:func:`brb.status.upstream_states`)
without asking the daemon. Must not decide anything: edges and changes only.
"""

from __future__ import annotations

from brb.daemon.events import EventSink, UpstreamDown, UpstreamModels, UpstreamUp
from brb.daemon.store_writer import StoreWriter
from brb.status import UPSTREAM_DOWN, UPSTREAM_MODELS, UPSTREAM_UP


class UpstreamLog:
    def __init__(self, writer: StoreWriter) -> None:
        self._writer = writer

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(UpstreamDown, self.down)
        sink.subscribe(UpstreamUp, self.up)
        sink.subscribe(UpstreamModels, self.models)

    def down(self, e: UpstreamDown) -> None:
        self._add(UPSTREAM_DOWN, e.at, e.upstream, "refused, timed out or failed a probe",
                  {"url": e.url})  # fmt: skip

    def up(self, e: UpstreamUp) -> None:
        self._add(UPSTREAM_UP, e.at, e.upstream, "answered a probe", {"url": e.url})

    def models(self, e: UpstreamModels) -> None:
        self._add(UPSTREAM_MODELS, e.at, e.upstream, "", {"models": list(e.models)})

    def _add(self, kind: str, at: object, who: str, reason: str, detail: dict[str, object]) -> None:
        store = self._writer.store
        self._writer.submit(
            store.add_event, kind, at=at, source="daemon", who=who, reason=reason, detail=detail
        )
