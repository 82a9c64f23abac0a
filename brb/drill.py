"""``brb drill``: a fire drill of the whole button, in-process, in under a minute.

Owns the scripted scenario: the real daemon code in front of the simulated
Ollama (one slot, slow) and the simulated Anthropic, on loopback, with a
throw-away database and no key, no config, no network. It sends a burst
(some of it from compliance sessions), prints what the button does as it
happens — goes on, diverts the overflow, drains, goes off — then the
summary, the spend and a checklist. Exit 0 when every check passed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from brb.config import BrbConfig, parse

SERVICE_S = 0.25
BURST = 48
BURST_SECONDS = 1.2
COMPLIANCE_EVERY = 6


def drill_config(upstream: str, cloud: str) -> BrbConfig:
    return parse(
        {
            "big_red_button": {
                "listen": "127.0.0.1:0",
                "upstream": upstream,
                "thresholds": {
                    "queue_depth": 6,
                    "wait_time_seconds": 0.75,
                    "release_fraction": 0.5,
                    "min_active_seconds": 3,
                },
                "budget": {"daily_limit_usd": 5, "alert_at_percent": [50, 80]},
                "providers": {"anthropic": {"base_url": cloud, "timeout_seconds": 10}},
                "excluded_sessions": ["compliance-*"],
                "models": {"max_tokens": 256},
            }
        }
    )


@dataclass
class Tally:
    started: float = field(default_factory=time.monotonic)
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"ollama": [], "anthropic": []}
    )
    lost: int = 0
    compliance_to_cloud: int = 0
    errors: list[str] = field(default_factory=list)


async def _one(session: aiohttp.ClientSession, base: str, i: int, tally: Tally) -> None:
    sid = f"compliance-{i}" if i % COMPLIANCE_EVERY == 0 else f"shop-{i}"
    body = {
        "model": "llama3",
        "stream": i % 2 == 0,
        "messages": [
            {"role": "system", "content": "You are the shop's assistant."},
            {"role": "user", "content": f"Where is my order #{1000 + i}?"},
        ],
    }
    t = time.monotonic()
    try:
        async with session.post(f"{base}/api/chat", json=body, headers={"X-Session-ID": sid}) as r:
            raw = await r.read()
            provider = r.headers.get("X-BRB-Provider", "?")
            if r.status != 200 or b'"done": true' not in raw.replace(
                b'"done":true', b'"done": true'
            ):
                tally.lost += 1
                tally.errors.append(f"request {i}: {r.status} {raw[:120]!r}")
                return
    except aiohttp.ClientError as exc:
        tally.lost += 1
        tally.errors.append(f"request {i}: {exc}")
        return
    if provider == "anthropic" and sid.startswith("compliance-"):
        tally.compliance_to_cloud += 1
    tally.latencies.setdefault(provider, []).append(time.monotonic() - t)


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


async def run_drill(out: Callable[[str], None] = print, db: Path | None = None) -> bool:
    from brb.adapters.anthropic_provider import AnthropicProvider
    from brb.daemon.app import Daemon, serve
    from brb.sim.anthropic import FakeAnthropic
    from brb.sim.ollama import FakeOllama
    from brb.sim.server import serve as serve_app

    fake_ollama = FakeOllama(
        num_parallel=1, service_s=SERVICE_S, chunks=4, reply_text="Your order ships today."
    )
    fake_cloud = FakeAnthropic(
        api_key="sk-ant-drill",
        latency_s=0.05,
        reply_text="Your order ships today (answered by the backup AI).",
    )
    tmp = tempfile.TemporaryDirectory(prefix="brb-drill-")
    db_path = db or Path(tmp.name) / "drill.db"
    tally = Tally()
    holder: dict[str, Any] = {}
    async with serve_app(fake_ollama.app()) as ollama_url, serve_app(fake_cloud.app()) as cloud_url:
        cfg = drill_config(ollama_url, cloud_url)
        provider = AnthropicProvider(api_key="sk-ant-drill", base_url=cloud_url, timeout_s=10)
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        daemon_task = asyncio.create_task(
            serve(
                cfg,
                db_path,
                ready=ready.set_result,
                stop=stop,
                providers=[provider],
                on_daemon=lambda d: holder.setdefault("d", d),
            )
        )
        waiters: set[asyncio.Future[Any]] = {ready, daemon_task}
        done, _ = await asyncio.wait(waiters, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if daemon_task in done:
            daemon_task.result()  # raises what went wrong
        base = f"http://{ready.result()}"
        daemon: Daemon = holder["d"]
        out(
            f"drill: brb on {base}, in front of a simulated Ollama (1 slot, {SERVICE_S}s a "
            "request) and a simulated Anthropic; wait threshold "
            f"{cfg.thresholds.wait_time_seconds}s"
        )
        watcher = asyncio.create_task(_watch(daemon, out, tally))
        try:
            async with aiohttp.ClientSession() as session:
                out("t+0.0s  idle traffic: 3 requests")
                for i in range(1, 4):
                    await _one(session, base, i * 7 + 1, tally)
                out(
                    f"t+{time.monotonic() - tally.started:.1f}s  BURST: {BURST} requests in "
                    f"{BURST_SECONDS}s (every {COMPLIANCE_EVERY}th from a compliance-* session)"
                )
                tasks = []
                for i in range(BURST):
                    tasks.append(asyncio.create_task(_one(session, base, 100 + i, tally)))
                    await asyncio.sleep(BURST_SECONDS / BURST)
                await asyncio.gather(*tasks)
                out(
                    f"t+{time.monotonic() - tally.started:.1f}s  every request answered; "
                    "waiting for the queue to drain and the button to go off"
                )
                deadline = time.monotonic() + cfg.thresholds.min_active_seconds + 10
                while daemon.parts.live.is_diverting and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.3)
        finally:
            watcher.cancel()
            stop.set()
            await daemon_task
            await provider.close()
    return _summary(daemon, fake_cloud, tally, db_path, out, tmp)


async def _watch(daemon: Any, out: Callable[[str], None], tally: Tally) -> None:
    was = False
    last = ""
    while True:
        await asyncio.sleep(0.25)
        obs = daemon.parts.live.last_observation
        on = daemon.parts.live.is_diverting
        t = time.monotonic() - tally.started
        if on != was:
            state = "BUTTON ON " if on else "BUTTON OFF"
            out(f"t+{t:.1f}s  {state}  {daemon.parts.live.breaker.reason}")
            was = on
        line = (
            f"queue depth {obs.queue_depth:3d}  wait {obs.wait_seconds:5.2f}s  "
            f"local {len(tally.latencies.get('ollama', [])):3d}  "
            f"cloud {len(tally.latencies.get('anthropic', [])):3d}"
        )
        if line != last:
            out(f"t+{t:.1f}s  {'[ON] ' if on else '[off]'} {line}")
            last = line


def _summary(
    daemon: Any,
    fake_cloud: Any,
    tally: Tally,
    db_path: Path,
    out: Callable[[str], None],
    tmp: tempfile.TemporaryDirectory[str],
) -> bool:
    from brb.adapters.store import Store

    with Store.open(db_path) as store:
        events = [e.kind for e in store.events()]
        rows = store.ledger.rows_between(since=datetime(2000, 1, 1, tzinfo=UTC))
        settled = [r for r in rows if r["status"] == "settled"]
        spend = sum(r["cost_micro_usd"] for r in settled) / 1e6
    local = tally.latencies.get("ollama", [])
    cloud = tally.latencies.get("anthropic", [])
    every = local + cloud
    cloud_sessions = [r.headers.get("x-session-id", "") for r in fake_cloud.message_requests]
    out("")
    out(
        f"summary: {len(every)} answered ({len(local)} local, {len(cloud)} by the cloud), "
        f"{tally.lost} lost"
    )
    out(
        f"  latency p50 {_pct(every, 50):.2f}s  p99 {_pct(every, 99):.2f}s  max "
        f"{max(every, default=0):.2f}s (local p99 {_pct(local, 99):.2f}s, cloud p99 "
        f"{_pct(cloud, 99):.2f}s)"
    )
    out(
        f"  spend ${spend:.4f} over {len(settled)} diverted requests "
        f"(avg ${spend / max(1, len(settled)):.5f}); ledger rows {len(rows)}"
    )
    checks = [
        ("the button went on under the burst", "activated" in events),
        ("the overflow was diverted", len(cloud) > 0),
        ("local capacity kept busy (not everything diverted)", len(local) > 3),
        (
            "compliance sessions never left the building",
            tally.compliance_to_cloud == 0
            and not any(s.startswith("compliance-") for s in cloud_sessions),
        ),
        ("no request lost", tally.lost == 0),
        ("the button went off once the queue drained", "deactivated" in events),
        ("every diverted request is in the ledger", len(settled) == len(cloud)),
    ]
    for name, ok in checks:
        out(f"  {'✓' if ok else '✗'} {name}")
    for err in tally.errors[:5]:
        out(f"  ! {err}")
    ok = all(c for _, c in checks)
    out("drill PASSED: the button works" if ok else "drill FAILED: see the ✗ lines above")
    tmp.cleanup()
    return ok


def main(db: Path | None = None, *, as_json: bool = False) -> int:
    os.environ.pop("BRB_CONFIG", None)
    logging.basicConfig(level=logging.ERROR)  # the drill narrates; the daemon's log would repeat it
    lines: list[str] = []
    ok = asyncio.run(run_drill((lambda s: lines.append(s)) if as_json else print, db))
    if as_json:
        print(json.dumps({"passed": ok, "log": lines}, indent=2))
    return 0 if ok else 1
