"""The daemon's parts, built once and wired explicitly.

Owns constructing every component from the config (store connections, the
monitor, the live state, both legs, the front, the admin routes, the event
sink and its listeners) into one frozen :class:`Components`. Each part is
handed exactly what it reads; nothing gets the daemon itself. Must not start
anything (no loop, no task, no socket): :mod:`brb.daemon.app` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from brb.adapters.ollama_upstream import OllamaUpstream
from brb.adapters.store import Store
from brb.config import BrbConfig
from brb.core.redaction import redact_url
from brb.core.waiting_room import RoomRules
from brb.daemon.admin import Admin
from brb.daemon.chain import ProviderChain
from brb.daemon.cloud import CloudLeg
from brb.daemon.dashboard import Dashboard
from brb.daemon.events import EventSink, UpstreamDown, UpstreamModels, UpstreamUp
from brb.daemon.front import Front
from brb.daemon.listeners.alerts import AlertsListener
from brb.daemon.listeners.button_watch import ButtonWatch
from brb.daemon.listeners.capacity import CapacityAdvisor
from brb.daemon.listeners.dashboard_stream import StatusStream
from brb.daemon.listeners.incidents import IncidentTracker
from brb.daemon.listeners.metrics import MetricsListener
from brb.daemon.listeners.provider_health import ProviderHealth
from brb.daemon.listeners.provider_log import ProviderLog
from brb.daemon.listeners.prune import Pruner
from brb.daemon.listeners.scale_hook import ScaleHookListener
from brb.daemon.listeners.systemd import SystemdListener
from brb.daemon.listeners.upstream_log import UpstreamLog
from brb.daemon.live_state import LiveState
from brb.daemon.local_queue import LocalQueue
from brb.daemon.metrics import Metrics
from brb.daemon.pool import Member, UpstreamPool
from brb.daemon.pool_room import PoolRoom
from brb.daemon.queue_monitor import QueueMonitor
from brb.daemon.relay import LocalLeg
from brb.daemon.rollover import RolloverWatch
from brb.daemon.store_writer import StoreWriter
from brb.daemon.ticks import Ticks

PROBE_EVERY_S = 10.0  # the waiting room looks for more Ollama slots at most this often


class Listener(Protocol):
    def subscribe(self, sink: EventSink) -> None: ...


@dataclass(frozen=True, slots=True)
class Components:
    cfg: BrbConfig
    sink: EventSink
    reader: Store  # reads on the loop (cheap ones)
    writer: StoreWriter  # every write, on its own thread
    monitor: QueueMonitor
    upstream: OllamaUpstream  # the pool's first (its version is logged at start)
    pool: UpstreamPool
    chain: ProviderChain
    live: LiveState
    local: LocalLeg
    cloud: CloudLeg
    front: Front
    admin: Admin
    dashboard: Dashboard
    ticks: Ticks
    rollover: RolloverWatch
    alerts: AlertsListener  # closed at shutdown (pending deliveries)
    systemd: SystemdListener  # closed at shutdown (the watchdog task)
    room: PoolRoom | None = None  # the waiting rooms (closed at shutdown: their timers)
    capacity: CapacityAdvisor | None = None  # closed at shutdown (its worker process)
    scale_hook: ScaleHookListener | None = None  # closed at shutdown (a call in flight)


def build(
    cfg: BrbConfig,
    db: Path | str,
    *,
    chain: ProviderChain,
    clock: Callable[[], datetime],
    started_at: datetime,
    listeners: Sequence[Listener] = (),
    instance_id: str | None = None,
) -> Components:
    """Every part of the daemon, wired; ``listeners`` are extra ones (tests);
    ``instance_id`` names this daemon in the fleet's list of instances."""
    sink = EventSink()
    reader = Store.open(db)
    writer = StoreWriter(Store.open(db))
    specs = cfg.upstream_pool()
    monitor = QueueMonitor(
        slots=sum(spec.parallel for spec in specs), max_models=cfg.max_tracked_models
    )
    live = LiveState(reader=reader, writer=writer, limits=cfg.breaker_thresholds(), clock=clock,
                     sink=sink, instance_id=instance_id)  # fmt: skip
    t = cfg.thresholds
    # A lone upstream's room learns more slots by probing; a pool's members keep the
    # `parallel` they are given: a probe would pin a waiting request inside one of them
    # when another may free a slot for it first.
    probe = PROBE_EVERY_S if len(specs) == 1 else None
    rules = RoomRules(t.wait_time_seconds, cfg.waiting_room.first_content_seconds,
                      probe_every_s=probe)  # fmt: skip
    pool = UpstreamPool(
        [
            Member(
                spec,
                OllamaUpstream(
                    spec.url,
                    connect_timeout_s=cfg.upstream_timeout.connect_seconds,
                    read_idle_s=cfg.upstream_timeout.read_idle_seconds,
                ),
                LocalQueue(slots=spec.parallel, rules=rules, max_models=cfg.max_tracked_models)
                if cfg.waiting_room.enabled
                else None,
            )  # fmt: skip
            for spec in specs
        ],
        on_change=lambda member: sink.publish(
            UpstreamUp(clock(), member.name, redact_url(member.spec.url))
            if member.healthy
            else UpstreamDown(clock(), member.name, redact_url(member.spec.url))
        ),
        on_models=lambda member: sink.publish(
            UpstreamModels(clock(), member.name, tuple(sorted(member.loaded or ())))
        ),
    )
    upstream = pool.members[0].upstream
    room = PoolRoom(pool) if cfg.waiting_room.enabled else None
    local = LocalLeg(pool, monitor, live, room)
    cloud = CloudLeg(cfg, chain, writer, clock, sink)
    front = Front(cfg, live=live, monitor=monitor, local=local, cloud=cloud, writer=writer,
                  clock=clock, sink=sink)  # fmt: skip
    metrics = Metrics()
    metrics.count_dropped_writes(lambda: writer.dropped)
    metrics.providers(chain.names)
    health = ProviderHealth()
    # pressed before this daemon started: the incident goes on under its id
    resumed = (live.override.since or clock()) if live.is_diverting else None
    incidents = IncidentTracker(resumed_since=resumed)
    admin = Admin(cfg, reader=reader, live=live, monitor=monitor, cloud=cloud, health=health,
                  incidents=incidents, metrics=metrics, clock=clock, pool=pool)  # fmt: skip
    dashboard = Dashboard(StatusStream(admin.snapshot))
    ticks = Ticks(cfg, monitor=monitor, live=live, writer=writer, sink=sink, clock=clock,
                  started_at=started_at, room=room, instance_id=instance_id,
                  pool=pool)  # fmt: skip
    alerts = AlertsListener(cfg, writer, clock, sink)
    systemd = SystemdListener()
    capacity = CapacityAdvisor(cfg, db, writer)
    hook = (
        None
        if cfg.scale_hook is None
        else ScaleHookListener(cfg, cfg.scale_hook, writer=writer, sink=sink,
                               pool=lambda: pool.reports, advice=lambda: capacity.latest)
    )  # fmt: skip
    everyone: list[Any] = [
        MetricsListener(metrics),
        incidents,
        alerts,
        systemd,
        health,
        Pruner(cfg.retention_days, writer, clock),
        ProviderLog(writer),
        UpstreamLog(writer),
        ButtonWatch(reader, since=clock()),
        admin,
        dashboard.stream,
        ticks,
        capacity,
        *([hook] if hook is not None else []),
        *listeners,
    ]
    for listener in everyone:
        listener.subscribe(sink)
    rollover = RolloverWatch(cfg, writer.store, sink)
    return Components(
        cfg, sink, reader, writer, monitor, upstream, pool, chain, live, local, cloud,
        front, admin, dashboard, ticks, rollover, alerts, systemd, room, capacity, hook,
    )  # fmt: skip
