"""The pool rig: settings for brb in front of two fake Ollama servers, and what the
pool tests read back (the status API's and ``/metrics``'s view of each upstream).

Tests import from here and from daemon_rig, never from ``conftest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from daemon_rig import Rig

from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread

HEALTH_S = 0.3
POOL = {
    "thresholds": {"queue_depth": 1000, "wait_time_seconds": 0.8, "min_active_seconds": 60},
    "waiting_room": {"enabled": True, "first_content_seconds": 0.1},
    "health_check_seconds": HEALTH_S,
}


def pool_settings(url_a: str, url_b: str, **over: Any) -> dict[str, object]:
    """Two upstreams of one slot each, gpu-a first; ``over``: more keys laid on top."""
    return {
        **POOL,
        "upstreams": [
            {"name": "gpu-a", "url": url_a, "parallel": 1},
            {"name": "gpu-b", "url": url_b, "parallel": 1},
        ],
        **over,
    }


def upstreams(rig: Rig) -> dict[str, dict[str, object]]:
    return {u["name"]: u for u in rig.status()["upstreams"]}


@contextlib.contextmanager
def fake_at(fake: FakeOllama, port: int) -> Iterator[str]:
    with serve_in_thread(fake.app(), port=port) as url:
        yield url


def metric(rig: Rig, name: str, upstream: str) -> float:
    """One per-upstream gauge from ``/metrics`` (the pool's figures, refreshed on read)."""
    text = rig.get("/metrics").text
    found = re.search(rf'^{name}{{upstream="{upstream}"}} (\S+)$', text, re.MULTILINE)
    assert found, f"{name} for {upstream} not in /metrics"
    return float(found.group(1))


def said(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def prompts(fake: FakeOllama) -> list[str]:
    """The last user message of every chat request ``fake`` received."""
    return [b["messages"][-1]["content"] for b in fake.bodies if b.get("messages")]


async def until(check: Callable[[], Any], *, timeout_s: float = 10.0) -> Any:
    """``poll`` for coroutines: ``check`` runs on a thread (it may do blocking HTTP)."""
    end = time.monotonic() + timeout_s
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"condition not met within {timeout_s}s: {check}")
        await asyncio.sleep(0.02)


def status_json(rig: Rig) -> dict[str, Any]:
    """``brb status --json`` run as ops run it: its own process, reading the daemon's
    database (no config: what it shows of the pool comes from the daemon)."""
    env = {k: v for k, v in os.environ.items() if k not in ("BRB_CONFIG", "BRB_DB")}
    done = subprocess.run(
        [sys.executable, "-m", "brb", "status", "--json", "--db", str(rig.db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def cli_upstreams(rig: Rig) -> dict[str, dict[str, Any]]:
    return {u["name"]: u for u in status_json(rig)["upstreams"]}


@contextlib.contextmanager
def never_accepting(port: int) -> Iterator[None]:
    """A listener on ``port`` whose accept queue is full: a connect to it times out."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(0)
        filler.connect(("127.0.0.1", port))  # the one place in the queue, never accepted
        yield
