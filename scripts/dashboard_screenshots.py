"""Take the README's dashboard screenshots: docs/dashboard-390.png and docs/dashboard-1920.png.

Runs the real daemon on loopback in front of the simulated Ollama (one slow
slot) and the simulated Anthropic, with a throw-away database seeded with
fifteen minutes of made-up queue samples (so the sparkline has a past: the
only thing here that is not what the daemon saw), sends steady traffic so
the breaker activates and the overflow is diverted and billed, then opens
the dashboard in Debian's headless Chromium at 390 px (a phone) and 1920 px
(a wall screen) and saves both pages.

    .venv/bin/python scripts/dashboard_screenshots.py [OUTDIR]
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from playwright.async_api import async_playwright

from brb.adapters.store import Store
from brb.adapters.store_samples import QueueSample
from brb.config import parse
from brb.daemon.app import serve
from brb.sim.anthropic import DEFAULT_API_KEY, FakeAnthropic
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve as serve_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MODEL = "llama3"
SIZES = ((390, 844), (1920, 1080))


def seed_history(db: Path, now: datetime) -> None:
    """Fifteen minutes of samples: quiet, a bump ten minutes ago, rising now."""
    samples = []
    for i in range(900, 0, -2):
        t = now - timedelta(seconds=i)
        bump = 4 * math.exp(-(((i - 600) / 60) ** 2))
        rise = max(0.0, (180 - i) / 30)
        depth = round(bump + rise)
        samples.append(QueueSample(t, MODEL, depth, depth + 1, depth * 1.6, 1.5))
    with Store.open(db) as store:
        store.add_queue_samples(samples)


async def traffic(base: str, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> None:
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"hi {i}"}]}
            async with session.post(f"{base}/api/chat", json={**body, "stream": False}) as r:
                await r.read()

        tasks: list[asyncio.Task[None]] = []
        i = 0
        while not stop.is_set():
            tasks.append(asyncio.create_task(one(i)))
            i += 1
            await asyncio.sleep(0.25)
        await asyncio.gather(*tasks, return_exceptions=True)


async def main(outdir: Path) -> None:
    os.environ["ANTHROPIC_EMERGENCY_KEY"] = DEFAULT_API_KEY
    os.environ.setdefault("BRB_ADMIN_TOKEN", "screenshot-token")
    tmp = tempfile.TemporaryDirectory(prefix="brb-shots-")
    db = Path(tmp.name) / "brb.db"
    seed_history(db, datetime.now(UTC))
    ollama = FakeOllama(num_parallel=1, service_s=1.0, reply_text="a local answer")
    async with serve_app(ollama.app()) as ou, serve_app(FakeAnthropic().app()) as au:
        cfg = parse(
            {
                "big_red_button": {
                    "listen": "127.0.0.1:0",
                    "upstream": ou,
                    "providers": {"anthropic": {"base_url": au}},
                    "thresholds": {"queue_depth": 3, "wait_time_seconds": 5},
                    "budget": {"daily_limit_usd": 5, "alert_at_percent": [50, 80, 95]},
                    "admin": {"press_for": "1h", "press_reason": "overflow to the cloud"},
                }
            },
            source="screenshots",
        )
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stop_daemon, stop_traffic = asyncio.Event(), asyncio.Event()
        daemon = asyncio.create_task(serve(cfg, db, ready=ready.set_result, stop=stop_daemon))
        base = f"http://{await asyncio.wait_for(ready, 30)}"
        sender = asyncio.create_task(traffic(base, stop_traffic))
        await asyncio.sleep(12)  # the breaker activates; the overflow is diverted and billed
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for width, height in SIZES:
                page = await browser.new_page(viewport={"width": width, "height": height})
                await page.goto(f"{base}/admin/big-red-button/")
                await page.wait_for_selector("#conn[data-conn='live']", timeout=10_000)
                await asyncio.sleep(1.5)
                path = outdir / f"dashboard-{width}.png"
                await page.screenshot(path=str(path), full_page=True)
                print(f"wrote {path}")
                await page.close()
            await browser.close()
        stop_traffic.set()
        await sender
        stop_daemon.set()
        await daemon
    tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs")))
