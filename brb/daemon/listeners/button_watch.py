"""The button watch: the button listener's unplug/replug events, as daemon events.

The button listener is another process; it records ``button_unplugged`` and
``button_replugged`` events in the store. This listener looks for new ones on
each 1 s tick and publishes each once as a :class:`ButtonEvent` (the alerts
listener pages on them). Owns the "seen up to" mark; must not alert itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from brb.adapters.store import Store
from brb.daemon.events import ButtonEvent, EventSink, Ticked
from brb.errors import StoreError

KINDS = ["button_unplugged", "button_replugged"]


class ButtonWatch:
    def __init__(self, reader: Store, since: datetime) -> None:
        self._reader = reader
        self._seen_at = since
        self._sink: EventSink | None = None

    def subscribe(self, sink: EventSink) -> None:
        self._sink = sink
        sink.subscribe(Ticked, self.ticked)

    def ticked(self, _e: Ticked) -> None:
        try:
            found = self._reader.events(kinds=KINDS, since=self._seen_at)
        except StoreError:
            return  # the database is down (said elsewhere): the next tick looks again
        for e in found:
            self._seen_at = max(self._seen_at, e.at + timedelta(microseconds=1))
            if self._sink is not None:
                self._sink.publish(
                    ButtonEvent(
                        e.at,
                        e.kind,
                        e.id,
                        str(e.detail.get("device", "")),
                        str(e.detail.get("error", e.reason)),
                    )
                )
