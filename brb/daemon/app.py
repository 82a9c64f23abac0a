"""The composition root: builds the running daemon from config and wires it.

Owns object construction and the daemon's life: start (listening even when
Ollama is down, and saying so), the background ticks (breaker tick, store
polling for a CLI press, queue samples, heartbeat, flushing logs), and a
graceful stop on SIGTERM that drains in-flight requests before exit.
Components get the one :class:`~brb.daemon.events.EventSink` and publish to
it; the listeners (:mod:`brb.daemon.listeners`) are built and subscribed here.
Nothing here decides anything: core decides, adapters talk, this wires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from brb import __version__
from brb.adapters.ollama_upstream import OllamaUpstream
from brb.adapters.store import QueueSample, Store, locate
from brb.config import BrbConfig, anthropic_key
from brb.core.breaker import Thresholds
from brb.core.budget import budget_day
from brb.core.queueing import QueueView, observe
from brb.daemon.cloud import CloudLeg, Provider
from brb.daemon.dashboard import Dashboard
from brb.daemon.events import (
    BudgetSeen,
    DaemonReady,
    DaemonStarted,
    DaemonStopping,
    EventSink,
    RolledOver,
    Ticked,
)
from brb.daemon.front import Front, errors_middleware
from brb.daemon.listeners.alerts import AlertsListener
from brb.daemon.listeners.button_watch import ButtonWatch
from brb.daemon.listeners.dashboard_stream import StatusStream
from brb.daemon.listeners.incidents import IncidentTracker
from brb.daemon.listeners.metrics import MetricsListener
from brb.daemon.listeners.provider_health import ProviderHealth
from brb.daemon.listeners.prune import Pruner
from brb.daemon.listeners.systemd import SystemdListener
from brb.daemon.live_state import LiveState
from brb.daemon.metrics import Metrics
from brb.daemon.queue_monitor import QueueMonitor
from brb.daemon.relay import LocalLeg
from brb.daemon.rollover import Rollover, RolloverWatch
from brb.daemon.store_writer import StoreWriter

log = logging.getLogger(__name__)

TICK_S = 1.0
POLL_S = 0.2
HEARTBEAT_S = 2.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Daemon:
    cfg: BrbConfig
    db_path: Path | str  # the SQLite file, or the fleet's postgresql:// URL (never logged)
    clock: Callable[[], datetime] = utc_now
    providers: list[Provider] | None = None  # None: built from config (tests inject fakes)
    drain_timeout_s: float = 30.0
    started_at: datetime = field(default_factory=utc_now)
    _idle_sampled: dict[str, bool] = field(default_factory=dict)
    address: str = ""  # host:port actually bound (the config may say port 0)
    listeners: list[Any] = field(default_factory=list)  # extra ones (tests): subscribe(sink)

    def build(self) -> web.Application:
        cfg = self.cfg
        self.sink = sink = EventSink()
        self.reader = Store.open(self.db_path)
        self.writer = StoreWriter(Store.open(self.db_path))
        self.monitor = QueueMonitor(slots=cfg.upstream_parallel)
        self.upstream = OllamaUpstream(cfg.upstream)
        if self.providers is None:
            self.providers = build_providers(cfg)
        t = cfg.thresholds
        self.live = LiveState(
            reader=self.reader,
            writer=self.writer,
            limits=Thresholds(
                t.queue_depth, t.wait_time_seconds, t.release_fraction, t.min_active_seconds
            ),
            clock=self.clock,
            sink=sink,
        )
        self.metrics = Metrics()
        self.health = ProviderHealth()
        self.alerts = AlertsListener(cfg, self.writer.store, self.clock, sink)
        self.systemd = SystemdListener()
        resumed = (self.live.override.since or self.clock()) if self.live.is_diverting else None
        self.incidents = IncidentTracker(resumed_since=resumed)  # pressed before this start
        for listener in (
            MetricsListener(self.metrics),
            self.incidents,
            self.alerts,
            self.systemd,
            self.health,
            Pruner(cfg.retention_days, self.writer, self.clock),
            ButtonWatch(self.reader, since=self.clock()),
            *self.listeners,
        ):
            listener.subscribe(sink)
        self.rollover = RolloverWatch(cfg, self.writer.store, self._rolled_over)
        self.local = LocalLeg(self.upstream, self.monitor, self.live, self.clock)
        self.cloud = CloudLeg(cfg, self.providers, self.writer, self.clock, sink)
        self.front = Front(
            cfg,
            live=self.live,
            monitor=self.monitor,
            local=self.local,
            cloud=self.cloud,
            writer=self.writer,
            clock=self.clock,
            sink=sink,
        )
        app = web.Application(middlewares=[errors_middleware], client_max_size=cfg.max_body_bytes)
        from brb.daemon.admin import Admin

        self.admin = Admin(self)
        app.add_routes(self.admin.routes())
        self.dashboard = Dashboard(StatusStream(self.admin.snapshot))
        self.dashboard.stream.subscribe(sink)
        app.add_routes(self.dashboard.routes())
        app.on_shutdown.append(self.dashboard.stream.close)
        app.add_routes(self.dashboard.fallback_routes())  # the rest of the prefix: 404, not Ollama
        app.add_routes(self.front.routes())
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    def _rolled_over(self, r: Rollover) -> None:
        self.sink.publish(RolledOver(r.at, r.day, r.previous_day, r.previous_spend_usd, r.budget))

    # --- life --------------------------------------------------------------------

    async def _on_startup(self, app: web.Application) -> None:
        self.sink.bind(asyncio.get_running_loop())
        self._tasks = [
            asyncio.create_task(self._tick_loop(), name="brb-tick"),
            asyncio.create_task(self._poll_loop(), name="brb-poll"),
        ]
        self._scheduler = AsyncIOScheduler(timezone=self.cfg.tz)
        self.rollover.start(self._scheduler)
        self._scheduler.start()
        since = self.clock() - timedelta(days=7)
        for model, service_s in self.reader.last_service_estimates(since=since).items():
            self.monitor.seed_service_estimate(model, service_s)
        version = await self.upstream.version()
        self.upstream_version = version
        if version is None:
            log.warning(
                "Ollama upstream %s is not answering; serving anyway (requests get 502 "
                "until it is up, diverted ones go to the cloud)",
                self.cfg.upstream,
            )
        else:
            log.info("Ollama upstream %s is version %s", self.cfg.upstream, version)
        self.sink.publish(DaemonStarted(self.clock(), version))
        self.writer.submit(
            self.writer.store.add_event,
            "daemon_start",
            at=self.clock(),
            source="daemon",
            who="brb",
            detail={
                "pid": os.getpid(),
                "version": __version__,
                "listen": self.cfg.listen,
                "upstream": self.cfg.upstream,
                "upstream_version": version,
                "providers": [p.name for p in self.providers or []],
            },
        )
        self._heartbeat()

    async def _on_cleanup(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.upstream.close()
        for p in self.providers or []:
            close = getattr(p, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self._scheduler.shutdown(wait=False)
        await self.systemd.aclose()
        await self.alerts.aclose()
        self.writer.submit(
            self.writer.store.add_event,
            "daemon_stop",
            at=self.clock(),
            source="daemon",
            who="brb",
            detail={"pid": os.getpid()},
        )
        await self.writer.drain()
        self.writer.close()
        self.writer.store.close()
        self.reader.close()

    def _heartbeat(self) -> None:
        self.writer.submit(
            self.writer.store.write_heartbeat,
            at=self.clock(),
            pid=os.getpid(),
            version=__version__,
            listen=self.address or self.cfg.listen,
            started_at=self.started_at,
        )

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self.live.poll()
            except Exception:
                log.exception("polling the store failed")

    async def _tick_loop(self) -> None:
        beats = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            try:
                views = self.monitor.views(time.monotonic())  # once per tick, shared below
                self.live.observe(observe(views.values()), self.clock())
                self._sample(views)
                self.writer.flush()
                self._publish_tick(views)
                beats += TICK_S
                if beats >= HEARTBEAT_S:
                    beats = 0.0
                    self._heartbeat()
            except Exception:
                log.exception("the 1 s tick failed")

    def _publish_tick(self, views: dict[str, QueueView]) -> None:
        live, now = self.live, self.clock()
        self.sink.publish(
            Ticked(now, views, live.last_observation, live.phase, live.mode, live.is_diverting)
        )
        day, limit = budget_day(now, self.cfg.tz), self.cfg.budget.daily_limit_usd
        store, sink = self.writer.store, self.sink
        self.writer.submit(lambda: sink.publish(BudgetSeen(now, store.ledger.snapshot(day, limit))))

    def _sample(self, views: dict[str, QueueView]) -> None:
        """A queue sample per model a second; an idle model is sampled once, not every second."""
        now = self.clock()
        for model, v in views.items():
            in_flight = v.waiting + len(v.in_service_elapsed_s)
            if in_flight == 0 and self._idle_sampled.get(model):
                continue
            self._idle_sampled[model] = in_flight == 0
            self.writer.add_sample(
                QueueSample(
                    now,
                    model,
                    v.waiting,
                    in_flight,
                    max(v.oldest_wait_s, v.predicted_wait_s()),
                    v.service_ewma_s,
                )
            )


def build_providers(cfg: BrbConfig) -> list[Provider]:
    """The provider chain from config: those with a key, in order."""
    providers: list[Provider] = []
    a = cfg.anthropic_provider()
    key = anthropic_key(cfg)
    if a is not None and key:
        from brb.adapters.anthropic_provider import AnthropicProvider

        providers.append(AnthropicProvider(api_key=key, base_url=a.base_url, timeout_s=a.timeout_s))
    elif a is not None:
        log.warning(
            "no Anthropic key (%s / credential %s): nothing will be diverted",
            " / ".join(a.key_env_names),
            a.credential,
        )
    return providers


async def serve(
    cfg: BrbConfig,
    db: Path | None = None,
    *,
    ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    on_daemon: Callable[[Daemon], None] | None = None,
    **kwargs: Any,
) -> None:
    """Run the daemon until SIGTERM/SIGINT (or ``stop`` is set), then drain and exit.

    ``ready`` gets the bound address once listening; ``on_daemon`` gets the built
    daemon (the drill watches its live state)."""
    daemon = Daemon(cfg, locate(db, cfg), **kwargs)
    app = daemon.build()
    if on_daemon is not None:
        on_daemon(daemon)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=daemon.drain_timeout_s
    )
    await runner.setup()
    site = web.TCPSite(runner, cfg.listen_host, cfg.listen_port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        from brb.errors import BrbError

        raise BrbError(f"can't listen on {cfg.listen}: {exc.strerror}") from None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    address = daemon.address = _bound_address(site, cfg)
    daemon._heartbeat()
    log.info("brb %s listening on http://%s in front of %s", __version__, address, cfg.upstream)
    daemon.sink.publish(DaemonReady(address))
    if ready:
        ready(address)
    await stop.wait()
    log.info(
        "stopping: draining %d in-flight requests (up to %.0fs)",
        daemon.front.in_flight,
        daemon.drain_timeout_s,
    )
    daemon.sink.publish(DaemonStopping(daemon.front.in_flight))
    await runner.cleanup()  # stops listening, waits for in-flight handlers, then on_cleanup
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(sig)


def _bound_address(site: web.TCPSite, cfg: BrbConfig) -> str:
    server = site._server  # noqa: SLF001 - the only way to learn an ephemeral port
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        host, port = sockets[0].getsockname()[:2]
        return f"{host}:{port}"
    return cfg.listen
