"""Issue 11's "How it will be checked", end to end: a live ``brb serve`` process with two
providers in front of the fakes, the first answering 529, the second healthy.

Pressed requests (official ollama and openai clients, streamed and not) are answered by
the second provider (X-BRB-Provider), priced at its model's price in the ledger; the
first's breaker shows ``open`` in ``brb status --json``, then ``half_open`` after its
cooldown, with exactly one probe reaching it; nothing lost, no 500."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import pytest
import yaml
from daemon_rig import free_port, poll

from brb.adapters.store import Store
from brb.core.pricing import Usage, price_for, usage_cost_usd
from brb.sim.anthropic import DEFAULT_API_KEY as ANTHROPIC_KEY
from brb.sim.anthropic import FakeAnthropic
from brb.sim.ollama import FakeOllama
from brb.sim.openai import DEFAULT_API_KEY as OPENAI_KEY
from brb.sim.openai import DEFAULT_REPLY, FakeOpenAI
from brb.sim.server import serve_in_thread

BRB = [sys.executable, "-m", "brb"]
SECOND_MODEL = "gpt-4.1-mini"
COOLDOWN_S = 3.0


@pytest.fixture
def fakes() -> Iterator[dict[str, Any]]:
    ollama_fake, anthropic_fake, openai_fake = FakeOllama(), FakeAnthropic(), FakeOpenAI()
    with (
        serve_in_thread(ollama_fake.app()) as ou,
        serve_in_thread(anthropic_fake.app()) as au,
        serve_in_thread(openai_fake.app()) as oa,
    ):
        yield {
            "ollama": (ollama_fake, ou),
            "anthropic": (anthropic_fake, au),
            "openai": (openai_fake, oa),
        }


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRB, *args], capture_output=True, text=True, env=env, timeout=60)


def test_first_provider_529s_second_answers_breaker_opens_then_probes(
    fakes: dict[str, Any], tmp_path: Path
) -> None:
    anthropic_fake, au = fakes["anthropic"]
    openai_fake, oa = fakes["openai"]
    port = free_port()
    config = tmp_path / "brb.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "big_red_button": {
                    "listen": f"127.0.0.1:{port}",
                    "upstream": fakes["ollama"][1],
                    "providers": {
                        "anthropic": {
                            "base_url": au,
                            "breaker": {"failure_threshold": 3, "cooldown_seconds": COOLDOWN_S},
                        },
                        "openai": {"base_url": oa + "/v1", "model": SECOND_MODEL},
                    },
                }
            }
        )
    )
    db = tmp_path / "brb.db"
    env = {
        **os.environ,
        "ANTHROPIC_EMERGENCY_KEY": ANTHROPIC_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
        "BRB_CONFIG": str(config),
        "BRB_DB": str(db),
    }
    env.pop("ANTHROPIC_API_KEY", None)
    anthropic_fake.fail_next(1000, 529, "overloaded_error")
    daemon = subprocess.Popen(
        [*BRB, "serve", "--config", str(config), "--db", str(db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # a cold `brb serve` can take over 30 s to listen on a loaded 2-core machine (load 11)
        poll(lambda: daemon.poll() is not None or _healthy(base), timeout_s=90)
        assert daemon.poll() is None, daemon.stderr.read() if daemon.stderr else ""
        assert cli("press", "--reason", "drill", env=env).returncode == 0
        poll(lambda: httpx.get(base + "/healthz").json()["mode"] == "on", timeout_s=5)

        answers: list[tuple[int, str | None]] = []
        for i in range(3):  # three 529s in a row open the first provider's breaker
            raw = httpx.post(
                base + "/api/chat",
                json={"model": "llama3", "stream": i % 2 == 1,
                      "messages": [{"role": "user", "content": f"q{i}"}]},
                timeout=30,
            )  # fmt: skip
            answers.append((raw.status_code, raw.headers.get("x-brb-provider")))
            assert raw.headers.get("x-brb-model") == SECOND_MODEL
        assert anthropic_fake.answered[529] == 3
        status = json.loads(cli("status", "--json", env=env).stdout)
        first = status["providers"]["anthropic"]
        assert (first["state"], first["failures"]) == ("open", 3)
        assert "529" in first["last_error"]
        assert status["providers"]["openai"]["state"] == "closed"

        # the official clients, answered by the second provider
        client = ollama.Client(host=base)
        reply = client.chat(model="llama3", messages=[{"role": "user", "content": "hi"}])
        assert reply["message"]["content"] == DEFAULT_REPLY
        with openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0) as oc:
            done = oc.chat.completions.with_raw_response.create(
                model="llama3", messages=[{"role": "user", "content": "hi"}]
            )
            answers.append((done.status_code, done.headers.get("x-brb-provider")))
        assert answers == [(200, "openai")] * 4  # 0 lost, 0 x 500

        # after the cooldown it reads half_open, and exactly one probe reaches it
        poll(
            lambda: (
                json.loads(cli("status", "--json", env=env).stdout)["providers"]["anthropic"][
                    "state"
                ]
                == "half_open"
            ),
            timeout_s=20,
            every_s=0.3,
        )
        before = anthropic_fake.answered[529]
        probe = httpx.post(
            base + "/api/chat",
            json={"model": "llama3", "stream": False,
                  "messages": [{"role": "user", "content": "probe"}]},
            timeout=30,
        )  # fmt: skip
        assert (probe.status_code, probe.headers["x-brb-provider"]) == (200, "openai")
        assert anthropic_fake.answered[529] == before + 1  # exactly one probe: it failed
        again = httpx.post(
            base + "/api/chat",
            json={"model": "llama3", "messages": [{"role": "user", "content": "next"}]},
            timeout=30,
        )
        assert again.headers["x-brb-provider"] == "openai"
        assert anthropic_fake.answered[529] == before + 1  # open again: not asked
        providers = json.loads(cli("status", "--json", env=env).stdout)["providers"]
        assert providers["anthropic"]["state"] in ("open", "half_open")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            _, stderr = daemon.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            _, stderr = daemon.communicate()
    assert daemon.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr

    # the ledger: every openai answer settled at gpt-4.1-mini's price
    price = price_for(SECOND_MODEL)
    assert price is not None
    with Store.open(db) as store:
        rows = store.ledger.rows_between(_long_ago())
    settled = [r for r in rows if r["status"] == "settled"]
    assert len(settled) == 7 and {r["provider"] for r in settled} == {"openai"}
    for r in settled:
        assert r["cloud_model"] == SECOND_MODEL
        usage = Usage(r["input_tokens"], r["output_tokens"])
        assert Decimal(r["cost_micro_usd"]) / 10**6 == usage_cost_usd(price, usage) > 0
    released = [r for r in rows if r["provider"] == "anthropic"]
    assert len(released) == anthropic_fake.answered[529]
    assert {r["status"] for r in released} == {"released"}
    spend = json.loads(cli("spend", "--json", "--by", "provider", env=env).stdout)
    assert [row["provider"] for row in spend["rows"]] == ["openai"]
    (today,) = json.loads(cli("spend", "--json", env=env).stdout)["rows"]  # by day
    assert list(today["providers"]) == ["openai"]
    assert today["providers"]["openai"] == today["cost_usd"] > 0
    assert len(openai_fake.completion_requests) == 7


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _long_ago() -> Any:
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)
