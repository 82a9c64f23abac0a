"""The daemon's life: build, start, serve, drain, stop.

Owns the provider chain from config, the aiohttp application and its
routes, starting the parts :mod:`brb.daemon.components` built (the tick and
poll loops of :mod:`brb.daemon.ticks`, the rollover job; listening even when
Ollama is down, and saying so), publishing the life events (started, ready,
stopping) and a graceful stop on SIGTERM that drains in-flight requests
before exit. Nothing here decides anything: core decides, adapters talk,
components wire, this runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from brb import __version__
from brb.adapters.store import locate
from brb.config import BrbConfig, ProviderSpec, provider_key
from brb.core.redaction import redact_url
from brb.daemon import components
from brb.daemon.chain import Provider, ProviderChain
from brb.daemon.components import Components, Listener
from brb.daemon.connections import FrontRunner
from brb.daemon.events import DaemonReady, DaemonStarted, DaemonStopping
from brb.daemon.front import INFERENCE_PATHS, Front
from brb.daemon.http_errors import errors_middleware

log = logging.getLogger(__name__)
# Beyond the provider timeout, how long a reservation may still be settling (the
# writer queue, a slow disk) before a starting daemon takes it for a crash's leftover.
RECONCILE_MARGIN_S = 60.0
GC_YOUNG = 20_000  # allocations between young garbage collections (Python's default: 700)


# The daemon's clock: datetime.now(UTC) with no Python frame around it (read several
# times a request; a partial calls straight into C, ~40% cheaper than a def).
utc_now: Callable[[], datetime] = functools.partial(datetime.now, UTC)


@dataclass
class Daemon:
    cfg: BrbConfig
    db_path: Path | str  # the SQLite file, or the fleet's postgresql:// URL (never logged)
    clock: Callable[[], datetime] = utc_now
    providers: list[Provider] | None = None  # None: built from config (tests inject fakes)
    drain_timeout_s: float = 30.0
    started_at: datetime = field(default_factory=utc_now)
    listeners: list[Listener] = field(default_factory=list)  # extra ones (tests)

    def build(self) -> web.Application:
        # This daemon's name in the fleet's list of instances (one, with SQLite).
        instance_id = os.environ.get("BRB_INSTANCE_ID") or (
            f"{socket.gethostname()}:{self.cfg.listen_port or os.getpid()}"
        )
        self.parts: Components = components.build(
            self.cfg,
            self.db_path,
            chain=build_chain(self.cfg, self.providers),
            clock=self.clock,
            started_at=self.started_at,
            listeners=self.listeners,
            instance_id=instance_id,
        )
        c = self.parts
        app = web.Application(
            middlewares=[errors_middleware], client_max_size=self.cfg.max_body_bytes
        )
        app.add_routes(c.admin.routes())
        app.add_routes(c.dashboard.routes())
        app.add_routes(c.front.admin_routes())  # the estimate: the front's routing decision
        app.on_shutdown.append(c.dashboard.stream.close)
        app.add_routes(c.dashboard.fallback_routes())  # the rest of the prefix: 404, not Ollama
        app.add_routes(c.front.routes())
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    # --- life --------------------------------------------------------------------

    async def _on_startup(self, app: web.Application) -> None:
        c = self.parts
        c.sink.bind(asyncio.get_running_loop())
        self._tasks = [
            asyncio.create_task(c.ticks.tick_loop(), name="brb-tick"),
            asyncio.create_task(c.ticks.poll_loop(), name="brb-poll"),
            asyncio.create_task(c.pool.watch(self.cfg.health_check_seconds), name="brb-pool"),
        ]
        self._scheduler = AsyncIOScheduler(timezone=self.cfg.tz)
        c.rollover.start(self._scheduler)
        self._scheduler.start()
        self._reconcile_stale_reservations()
        since = self.clock() - timedelta(days=7)
        for model, service_s in c.reader.last_service_estimates(since=since).items():
            c.monitor.seed_service_estimate(model, service_s)
        version = await c.upstream.version()
        if version is None:
            log.warning(
                "Ollama upstream %s is not answering; serving anyway (requests get 502 "
                "until it is up, diverted ones go to the cloud)",
                redact_url(c.upstream.base_url),
            )
        else:
            log.info("Ollama upstream %s is version %s", redact_url(c.upstream.base_url), version)
        c.sink.publish(DaemonStarted(self.clock(), version))
        c.writer.submit(
            c.writer.store.add_event,
            "daemon_start",
            at=self.clock(),
            source="daemon",
            who="brb",
            detail={
                "pid": os.getpid(),
                "version": __version__,
                "listen": self.cfg.listen,
                "upstream": redact_url(c.upstream.base_url),
                "upstream_version": version,
                "providers": c.chain.names,
            },
        )
        c.ticks.heartbeat()

    def _reconcile_stale_reservations(self) -> None:
        """Reservations left by a crash (or a shutdown that outlived its drain) settle at
        their worst case, once older than any provider call could still be running."""
        c = self.parts
        now = self.clock()
        timeout_s = max((p.timeout_s for p in self.cfg.provider_chain()), default=0.0)
        older_than = now - timedelta(seconds=timeout_s + RECONCILE_MARGIN_S)
        rows = c.reader.ledger.reconcile_stale(older_than=older_than, at=now)
        for row in rows:
            log.warning(
                "reservation %s (%s, %s) was left by an earlier run: settled at its worst "
                "case, $%.6f",
                row["request_id"], row["day"], row["provider"], row["cost_micro_usd"] / 1e6,
            )  # fmt: skip
            c.writer.submit(
                c.writer.store.add_event,
                "reservation_reconciled",
                at=now,
                source="daemon",
                who="brb",
                reason="left reserved by an earlier run: settled at its worst case",
                detail=row,
            )

    async def _on_cleanup(self, app: web.Application) -> None:
        c = self.parts
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await c.pool.close()
        for link in c.chain:
            close = getattr(link.provider, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self._scheduler.shutdown(wait=False)
        if c.room is not None:
            c.room.close()
        await c.systemd.aclose()
        if c.capacity is not None:
            await c.capacity.aclose()
        if c.scale_hook is not None:
            await c.scale_hook.aclose()
        await c.alerts.aclose()
        c.ticks.leave()
        c.writer.submit(
            c.writer.store.add_event,
            "daemon_stop",
            at=self.clock(),
            source="daemon",
            who="brb",
            detail={"pid": os.getpid()},
        )
        await c.writer.drain()
        c.writer.close()
        c.writer.store.close()
        c.reader.close()


def build_chain(cfg: BrbConfig, injected: list[Provider] | None = None) -> ProviderChain:
    """The provider chain from config, in order: the entries that have a key.

    ``injected`` adapters (the drill, benches) stand in for the entries of the
    same name; the SDKs are imported only for entries that are used."""
    by_name = {p.name: p for p in injected or []}
    pairs: list[tuple[ProviderSpec, Provider]] = []
    for spec in cfg.provider_chain():
        if injected is not None:
            if spec.name in by_name:
                pairs.append((spec, by_name[spec.name]))
            continue
        key = provider_key(spec)
        if not key:
            log.warning(
                "provider %s has no key (%s / credential %s): it is left out of the chain",
                spec.name, " / ".join(spec.key_env_names), spec.credential,
            )  # fmt: skip
            continue
        pairs.append((spec, _adapter(spec, key)))
    if not pairs:
        log.warning("no cloud provider has a key: nothing will be diverted")
    return ProviderChain.of(pairs)


def _adapter(spec: ProviderSpec, key: str) -> Provider:
    if spec.kind == "anthropic":
        from brb.adapters.anthropic_provider import AnthropicProvider

        provider: Provider = AnthropicProvider(
            api_key=key, base_url=spec.base_url, timeout_s=spec.timeout_s
        )
        provider.name = spec.name
        return provider
    from brb.adapters.openai_provider import OpenAIProvider

    return OpenAIProvider(
        name=spec.name, api_key=key, base_url=spec.base_url, timeout_s=spec.timeout_s
    )


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
    runner = FrontRunner(
        app,
        head_timeout_s=cfg.front.read_timeout_seconds,  # request heads too (Slowloris)
        write_timeout_s=cfg.front.write_timeout_seconds,
        access_log=None,
        shutdown_timeout=daemon.drain_timeout_s,
        # Bodies arrive as sent: the front decodes what it reads (or answers 415),
        # and everything else reaches Ollama byte for byte with its Content-Encoding.
        auto_decompress=False,
    )
    await runner.setup()
    assert runner.server is not None
    runner.server.request_handler = inference_first(
        daemon.parts.front, runner.server.request_handler
    )
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
    address = _bound_address(site, cfg)
    log.info(
        "brb %s listening on http://%s in front of %s",
        __version__,
        address,
        redact_url(cfg.upstream),
    )
    daemon.parts.sink.publish(DaemonReady(address))  # the heartbeat names it from now on
    if ready:
        ready(address)
    await stop.wait()
    log.info(
        "stopping: draining %d in-flight requests (up to %.0fs)",
        daemon.parts.front.in_flight,
        daemon.drain_timeout_s,
    )
    daemon.parts.sink.publish(DaemonStopping(daemon.parts.front.in_flight))
    await runner.cleanup()  # stops listening, waits for in-flight handlers, then on_cleanup
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(sig)


def inference_first(
    front: Front, app_handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """The server's handler: an inference request (a POST to one of the exact paths
    the application's router gives the front, without ``Expect: 100-continue``) goes
    straight to the front, through the same error mapping; all else through the
    application (its router and middleware), as before. It picks the coroutine and
    returns it for aiohttp to await: no level of awaits of its own (each level is
    walked again at every suspension of the request)."""
    paths = frozenset(INFERENCE_PATHS)

    def handle(request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        if (
            request.method == "POST"
            and request.rel_url.path_safe in paths  # what the router matches
            and hdrs.EXPECT not in request.headers
        ):
            return errors_middleware(request, front.inference)  # type: ignore[arg-type]
        return app_handler(request)

    return handle


def settle_heap(address: str = "") -> None:
    """For a process that runs one daemon (``brb serve``), once it listens: what
    start-up built (modules, config, pydantic's schemas) lives as long as the daemon,
    so it leaves the collector's sight (a full collection no longer walks it); and a
    young collection every GC_YOUNG allocations instead of 700, as each one walks
    every request in flight (refcounting frees the rest). Not for a process that
    embeds the daemon among other work (the tests): it changes the whole process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


def _bound_address(site: web.TCPSite, cfg: BrbConfig) -> str:
    server = site._server  # noqa: SLF001 - the only way to learn an ephemeral port
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        host, port = sockets[0].getsockname()[:2]
        return f"{host}:{port}"
    return cfg.listen
