"""The fleet check of issue 14, end to end: a real PostgreSQL, two ``brb serve``
processes on different ports with the same ``BRB_DATABASE_URL``, each in front
of its own fake Ollama, one fake Anthropic for the diversions.

``brb press`` (another process, no daemon involved) puts both in mode ``on``;
200 concurrent diversions split across both against a budget that covers about
half of them settle to no more than the daily limit; ``brb release`` returns
both to ``auto``; ``brb incidents`` shows one incident, not two; ``brb status``
lists both instances and ``brb spend`` sums the fleet.

Prices make every reservation exactly $0.10 (input free, output $1000 per
million tokens, ``max_tokens: 100``) and every answer cost $0.04; the fake
holds each answer 0.5 s, so the 200 reservations overlap and the $10.00 day
admits about 100 of them at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from daemon_rig import KEY_ENV, LOCAL_REPLY, chat_body, free_port
from pg_cluster import Cluster

from brb.adapters.store import Store
from brb.sim.anthropic import DEFAULT_API_KEY, FakeAnthropic
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread

CLOUD_MODEL = "claude-sonnet-5-5"
PRICES = {
    CLOUD_MODEL: {
        "input_per_mtok": "0",
        "output_per_mtok": "1000",
        "cache_write_per_mtok": "0",
        "cache_read_per_mtok": "0",
    }
}
WORST = Decimal("0.10")
LIMIT = Decimal("10.00")  # about 100 of the 200 overlapping reservations
LONG_REPLY = " ".join(f"w{i}" for i in range(40))  # $0.04 an answer
REQUESTS = 200


@dataclass
class Instance:
    url: str
    proc: subprocess.Popen[bytes]
    stderr: Path

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:  # noqa: S310
            return dict(json.loads(resp.read()))

    def healthz(self) -> dict[str, Any] | None:
        if self.proc.poll() is not None:
            pytest.fail(f"brb serve exited with {self.proc.returncode}: {self.stderr.read_text()}")
        try:
            return self.get("/healthz")
        except (urllib.error.URLError, OSError):
            return None


def wait_for(check: Any, what: str, bound_s: float = 20.0) -> None:
    """Poll ``check()`` until true; a generous bound, so a loaded machine can't fail it."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def brb_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brb", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def fleet(tmp_path: Path, pg_url: str) -> Iterator[tuple[list[Instance], FakeAnthropic, dict]]:
    cloud = FakeAnthropic(reply_text=LONG_REPLY, latency_s=0.5)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRB_", "NOTIFY_"))}
    env.update({KEY_ENV: DEFAULT_API_KEY, "BRB_DATABASE_URL": pg_url, "HOME": str(tmp_path)})
    instances: list[Instance] = []
    with ExitStack() as stack:
        anthropic_url = stack.enter_context(serve_in_thread(cloud.app()))
        for n in range(2):
            ollama = FakeOllama(num_parallel=8, reply_text=LOCAL_REPLY)
            ollama_url = stack.enter_context(serve_in_thread(ollama.app()))
            config = tmp_path / f"brb-{n}.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "big_red_button": {
                            "upstream": ollama_url,
                            "upstream_parallel": 8,
                            "providers": {"anthropic": {"base_url": anthropic_url}},
                            "models": {"anthropic_model": CLOUD_MODEL, "max_tokens": 100},
                            "pricing": PRICES,
                            "budget": {"daily_limit_usd": str(LIMIT)},
                            "thresholds": {"queue_depth": 100000, "wait_time_seconds": 3600},
                        }
                    }
                )
            )
            port = free_port()
            stderr = tmp_path / f"stderr-{n}.txt"
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "brb",
                    "serve",
                    "--config",
                    str(config),
                    "--listen",
                    f"127.0.0.1:{port}",
                ],  # fmt: skip
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr.open("wb"),
            )
            stack.callback(_stop, proc)
            instances.append(Instance(f"http://127.0.0.1:{port}", proc, stderr))
        for inst in instances:
            # A loaded CI machine (load 10+ on 2 CPUs) was seen needing over 20 s to start
            # `brb serve`; a process that died says so at once, with its stderr.
            wait_for(
                lambda i=inst: i.healthz() is not None or i.proc.poll() is not None,
                f"{inst.url} to listen",
                bound_s=90.0,
            )
            if inst.proc.poll() is not None:
                pytest.fail(f"brb serve exited early: {inst.stderr.read_text()[-2000:]}")
        yield instances, cloud, env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def burst(urls: list[str]) -> list[tuple[int, str]]:
    """200 chat requests at once, alternating between the instances."""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def one(i: int) -> tuple[int, str]:
            url = urls[i % len(urls)] + "/api/chat"
            async with session.post(url, json=chat_body("/api/chat", f"q{i}")) as resp:
                await resp.read()
                return resp.status, resp.headers.get("X-BRB-Provider", "")

        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))


def test_two_instances_share_one_button_one_budget_and_one_incident(
    fleet: tuple[list[Instance], FakeAnthropic, dict], pg_url: str, pg_cluster: Cluster
) -> None:
    instances, cloud, env = fleet
    cli_env = {**env}

    # One button: a press from the CLI (no daemon involved) reaches both.
    pressed = brb_cli(cli_env, "press", "--reason", "fleet drill", "--json")
    assert pressed.returncode == 0, pressed.stderr
    wait_for(
        lambda: all((i.healthz() or {}).get("mode") == "on" for i in instances),
        "both instances in mode on",
    )

    # One budget: 200 overlapping diversions, split across both, never past the limit.
    answers = asyncio.run(burst([i.url for i in instances]))
    assert [status for status, _ in answers] == [200] * REQUESTS
    diverted = [n for n, (_, provider) in enumerate(answers) if provider == "anthropic"]
    assert 0 < len(diverted) < REQUESTS  # the budget really was contended...
    assert {n % 2 for n in diverted} == {0, 1}  # ...by both instances
    with Store.open(pg_url) as store:
        # an answer is settled just after it is sent: wait for the last of them
        wait_for(
            lambda: not store.query("SELECT id FROM ledger WHERE status = 'reserved'"),
            "every diversion settled",
        )
        rows = store.query("SELECT status, reserved_micro_usd, cost_micro_usd FROM ledger")
        snap = store.ledger.snapshot(store_day(store), LIMIT)
    assert len(rows) == len(diverted) == len(cloud.message_requests)
    assert {r["status"] for r in rows} == {"settled"}
    assert snap.settled_usd <= LIMIT and snap.reserved_usd == 0
    assert snap.settled_usd == Decimal("0.04") * len(diverted)
    assert all(Decimal(r["reserved_micro_usd"]) / 1_000_000 == WORST for r in rows)

    # Fleet status and spend: both instances listed, the spend is the fleet's.
    status = json.loads(brb_cli(cli_env, "status", "--json").stdout)
    assert len(status["instances"]) == 2
    assert {i["stale"] for i in status["instances"]} == {False}
    assert {i["listen"] for i in status["instances"]} == {i.url[7:] for i in instances}
    spend = json.loads(brb_cli(cli_env, "spend", "--json").stdout)
    assert Decimal(str(spend["total_usd"])) == snap.settled_usd

    # Release: both back to auto.
    assert brb_cli(cli_env, "release", "--json").returncode == 0
    wait_for(
        lambda: all((i.healthz() or {}).get("mode") == "auto" for i in instances),
        "both instances back in auto",
    )

    # One pager: one incident for the fleet, not one per instance.
    report = json.loads(brb_cli(cli_env, "incidents", "--json").stdout)
    assert len(report["incidents"]) == 1, report
    assert report["incidents"][0]["requests_diverted"] == len(diverted)
    assert pg_cluster.password not in pressed.stdout + pressed.stderr
    for inst in instances:
        assert pg_cluster.password not in inst.stderr.read_text()


def store_day(store: Store) -> date:
    (row,) = store.query("SELECT DISTINCT day FROM ledger")
    return date.fromisoformat(row["day"])
