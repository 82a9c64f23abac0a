"""The upstream pool: every Ollama server brb sits in front of, and which one serves.

Owns the pool's members (each an :class:`~brb.adapters.ollama_upstream.OllamaUpstream`
with its own waiting room, :class:`~brb.daemon.local_queue.LocalQueue`, so one
queue model per upstream and model), their health (down at once when one
refuses a connection or times out; readmitted when a probe answers) and the
models each has loaded (its ``/api/ps``, polled with the probe), and the one
choice: an inference request goes to the healthy upstream where it would start
soonest (least predicted wait; a cold load costs the learned load time).
The pool's waiting rooms seen as one live in :mod:`brb.daemon.pool_room`.
Must not route or talk to the cloud, and holds no HTTP server: the front and
the local leg do that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from brb.adapters.ollama_upstream import OllamaUpstream
from brb.config_views import UpstreamSpec
from brb.core.redaction import redact_url
from brb.core.service_model import RequestShape
from brb.daemon.local_queue import LocalQueue

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Member:
    """One upstream of the pool and what brb knows of it now."""

    spec: UpstreamSpec
    upstream: OllamaUpstream
    room: LocalQueue | None
    healthy: bool = True
    loaded: frozenset[str] | None = None  # models in memory (/api/ps); None: not polled yet
    in_flight: int = 0  # requests brb has sent it that have not ended

    @property
    def name(self) -> str:
        return self.spec.name

    def cold_s(self, model: str) -> float:
        """What loading ``model`` first would add to a start here (the learned load)."""
        if self.loaded is None or self.room is None:
            return 0.0
        if model in self.loaded or f"{model}:latest" in self.loaded:
            return 0.0
        return self.room.model.peek(model).expected_load_s

    def predicted_wait_s(self, now: float) -> float:
        """When a small request of the busiest model here would start, seconds from now
        (0: a slot is free for every model brb has sent it)."""
        if self.room is None:
            return 0.0
        waits = [
            q.predicted_start_s(RequestShape(), now)
            for q in self.room.queues.values()
            if q.waiting or not q.has_free_slot
        ]
        return max(waits, default=0.0)

    def report(self, now: float) -> dict[str, object]:
        """This member as ``status`` shows it."""
        return {
            "name": self.name,
            "url": redact_url(self.spec.url),
            "healthy": self.healthy,
            "models_loaded": None if self.loaded is None else sorted(self.loaded),
            "queue_depth": self.queue_depth(),
            "in_flight": self.in_flight,
            "predicted_wait_s": round(self.predicted_wait_s(now), 3),
        }

    def queue_depth(self) -> int:
        if self.room is None:
            return max(0, self.in_flight - self.spec.parallel)
        return sum(len(q.waiting) for q in self.room.queues.values())


class UpstreamPool:
    """The members in config order; health and loaded models kept up to date."""

    def __init__(
        self,
        members: Sequence[Member],
        *,
        on_change: Callable[[Member], None] = lambda member: None,
        on_models: Callable[[Member], None] = lambda member: None,
    ) -> None:
        self.members = list(members)
        self.on_change = on_change  # a member went down or came back up
        self.on_models = on_models  # a probe found other models loaded on a member
        # called after on_change on the loop (the pool's room moves waiting requests)
        self.watchers: list[Callable[[Member], None]] = []
        self.probe_timeout_s = 3.0  # a probe's patience (set from health_check_seconds)
        self.by_name = {m.name: m for m in self.members}
        self._healthy = self._find_healthy()
        # what status shows, computed on the loop (the status snapshot runs on a thread)
        self.reports: list[dict[str, object]] = []
        self.refresh()

    def refresh(self) -> list[dict[str, object]]:
        """Recompute :attr:`reports` now (on the event loop)."""
        now = time.monotonic()
        self.reports = [m.report(now) for m in self.members]
        return self.reports

    @property
    def healthy(self) -> list[Member]:
        """The members that may take a request (all of them when none is healthy:
        trying one beats refusing the request outright). Kept, not rebuilt per
        request: it changes only in :meth:`mark` (read it, don't change it)."""
        return self._healthy

    def _find_healthy(self) -> list[Member]:
        return [m for m in self.members if m.healthy] or self.members

    def first(self) -> Member:
        """Where a non-inference request goes: the first healthy member."""
        return self.healthy[0]

    def least_busy(self, model: str) -> Member:
        """Without waiting rooms: the healthy member with the most free slots,
        the model already loaded breaking ties, config order after that."""
        return min(
            self.healthy,
            key=lambda m: (m.in_flight / m.spec.parallel, m.cold_s(model) > 0),
        )

    def mark(self, member: Member, healthy: bool) -> None:
        if member.healthy != healthy:
            member.healthy = healthy
            self._healthy = self._find_healthy()
            log.warning("upstream %s (%s) is %s", member.name, redact_url(member.spec.url),
                        "up again" if healthy else "down")  # fmt: skip
            self.on_change(member)
            for watcher in self.watchers:
                watcher(member)
            self.refresh()

    async def probe(self, member: Member, timeout_s: float) -> None:
        """Ask one member for its loaded models: an answer readmits it, none marks it down."""
        url = member.upstream.base_url + "/api/ps"
        try:
            async with member.upstream.session.get(
                url, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as r:
                data = await r.json(content_type=None) if r.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            self.mark(member, False)
            return
        if isinstance(data, dict) and isinstance(data.get("models"), list):
            loaded = frozenset(
                str(m.get("name") or m.get("model"))
                for m in data["models"]
                if isinstance(m, dict) and (m.get("name") or m.get("model"))
            )
            if loaded != member.loaded:
                member.loaded = loaded
                self.on_models(member)
        self.mark(member, True)

    async def watch(self, every_s: float) -> None:
        """Probe every member every ``every_s`` seconds, until cancelled."""
        self.probe_timeout_s = max(0.2, min(every_s, 3.0))
        while True:
            await asyncio.gather(*(self.probe(m, self.probe_timeout_s) for m in self.members))
            self.refresh()
            await asyncio.sleep(every_s)

    async def close(self) -> None:
        for m in self.members:
            if m.room is not None:
                m.room.close()
            await m.upstream.close()
