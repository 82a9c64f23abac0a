"""The mixed shape of bench/overload.py: heavy-tailed replies and documents, live.

Traffic from ``brb.sim.mixed_traffic`` (one slot; reply lengths lognormal with
a long tail; a quarter of the prompts documents of 1,000-4,000 tokens; Poisson
arrivals at 1.5x capacity; non-streamed), served by the fake Ollama with
``--mixed`` (prefill and decode time per token; each prompt carries a
``[reply:N]`` marker so the fake serves exactly the trace's reply). Wait
threshold 1 s. For each run: local wait (latency minus Ollama's own service
figures) p50/p99/max, diverted, lost; beside them, on the arrival times
actually sent and the real service times, the online FIFO baseline (divert a
request when its wait reaches the threshold) and the hindsight oracle (a
bound: mixed service times); and the predictor's error: brb's service model
(the daemon's code) replayed over the local answers in order, each request
predicted from its body before its own figures are learned.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import aiohttp
from harness import pct

from brb.core.breaker import Thresholds
from brb.core.conversation import read_conversation, request_shape
from brb.core.replay.oracle import oracle
from brb.core.replay.run import SimParams
from brb.core.replay.trace import TraceRecord
from brb.core.service_model import ServiceFigures, ServiceModel
from brb.sim import ollama_wire as wire
from brb.sim.mixed_traffic import MixedShape, mixed_requests

SHAPE = MixedShape()
WAIT_THRESHOLD_S = 1.0
CLOUD_LATENCY_S = 0.02


def bodies(duration_s: float, seed: int) -> tuple[list[float], list[dict[str, Any]], list[float]]:
    """Arrival offsets, request bodies and each one's real local service time."""
    offsets, out, service = [], [], []
    for i, r in enumerate(mixed_requests(SHAPE, duration_s=duration_s, seed=seed)):
        words = "w " * (2 * r.prompt_tokens)  # four characters a token, as the fake counts
        body = {
            "model": "llama3",
            "stream": False,
            "messages": [{"role": "user", "content": f"#{i} [reply:{r.reply_tokens}] {words}"}],
        }
        offsets.append(r.arrival_offset_s)
        out.append(body)
        service.append(SHAPE.service_s(wire.prompt_tokens(body), r.reply_tokens))
    return offsets, out, service


async def drive(url: str, offsets: list[float], bodies: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(offsets)
    sent = [0.0] * n
    latency: list[float | None] = [None] * n
    provider = [""] * n
    route = [""] * n
    figures: list[dict[str, Any] | None] = [None] * n
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=300)) as s:
        t0 = time.monotonic() + 0.2

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, t0 + offsets[i] - time.monotonic()))
            start = time.monotonic()
            sent[i] = start - t0
            try:
                async with s.post(url + "/api/chat", data=json.dumps(bodies[i])) as r:
                    raw = await r.read()
                    if r.status == 200 and b'"done"' in raw:
                        latency[i] = time.monotonic() - start
                        provider[i] = r.headers.get("X-BRB-Provider", "ollama")
                        route[i] = r.headers.get("X-BRB-Route", "")
                        if provider[i] == "ollama":
                            figures[i] = json.loads(raw)
            except (aiohttp.ClientError, TimeoutError):
                pass

        await asyncio.gather(*(one(i) for i in range(n)))
    return {
        "sent": sent,
        "latency": latency,
        "provider": provider,
        "route": route,
        "figures": figures,
    }


def service_of(final: dict[str, Any]) -> float:
    return (
        sum(final.get(k, 0) for k in ("load_duration", "prompt_eval_duration", "eval_duration"))
        / 1e9
    )


def baselines(sent: list[float], service: list[float]) -> tuple[int, int]:
    """(FIFO baseline diverted, oracle diverted) on the arrivals as sent."""
    order = sorted(range(len(sent)), key=lambda i: sent[i])
    trace = [TraceRecord(sent[i], "llama3", "", 10, 10, service[i]) for i in order]
    params = SimParams(thresholds=Thresholds(10_000, WAIT_THRESHOLD_S), slots=1)
    result = oracle(trace, params)
    return result.fifo_diverted, result.diverted


def predictor_error(
    r: dict[str, Any], bodies: list[dict[str, Any]]
) -> tuple[float, float, float, int]:
    """brb's service model over the local answers: each predicted (mean) from its
    body with what was learned from the answers finished before it was sent.
    Returns (median |error| s, p90 |error| s, median |error| / actual, count)."""
    local = [i for i, f in enumerate(r["figures"]) if f is not None]
    done = sorted(local, key=lambda i: r["sent"][i] + r["latency"][i])
    model = ServiceModel()
    rates = model.rates("llama3")
    errors, relative = [], []
    learned = 0
    for i in sorted(local, key=lambda i: r["sent"][i]):
        while (
            learned < len(done)
            and r["sent"][done[learned]] + r["latency"][done[learned]] <= r["sent"][i]
        ):
            f = r["figures"][done[learned]]
            rates.learn(
                ServiceFigures(
                    prompt_tokens=f.get("prompt_eval_count"),
                    output_tokens=f.get("eval_count"),
                    prompt_eval_s=f.get("prompt_eval_duration", 0) / 1e9,
                    eval_s=f.get("eval_duration", 0) / 1e9,
                    load_s=f.get("load_duration", 0) / 1e9,
                )
            )
            learned += 1
        if rates.learned < 5:
            continue  # a cold start is not what the error is about
        actual = service_of(r["figures"][i])
        predicted = rates.service(request_shape(read_conversation("/api/chat", bodies[i]))).mean_s
        errors.append(abs(predicted - actual))
        relative.append(abs(predicted - actual) / actual if actual > 0 else 0.0)
    return pct(errors, 50), pct(errors, 90), pct(relative, 50), len(errors)


def summarize(
    label: str, r: dict[str, Any], bodies: list[dict[str, Any]], service: list[float]
) -> dict[str, Any]:
    n = len(bodies)
    done = [i for i in range(n) if r["latency"][i] is not None]
    local = [i for i in done if r["provider"][i] == "ollama"]
    waits = [r["latency"][i] - service_of(r["figures"][i]) for i in local]
    fifo, best = baselines(r["sent"], service)
    diverted = sum(1 for i in done if r["provider"][i] == "anthropic")
    cloud_lat = [r["latency"][i] for i in done if r["provider"][i] == "anthropic"]
    med, p90, rel, count = predictor_error(r, bodies) if local else (float("nan"),) * 3 + (0,)
    return {
        "shape": "mixed",
        "policy": label,
        "requests": n,
        "lost": n - len(done),
        "local": len(local),
        "diverted": diverted,
        "wait_p50_s": pct(waits, 50),
        "wait_p99_s": pct(waits, 99),
        "wait_max_s": max(waits, default=float("nan")),
        "cloud_latency_p99_s": pct(cloud_lat, 99),
        "fifo_diverted": fifo,
        "oracle_diverted": best,
        "predictor_median_abs_error_s": med,
        "predictor_p90_abs_error_s": p90,
        "predictor_median_relative_error": rel,
        "predictor_samples": count,
        "routes": dict(sorted(Counter(r["route"][i] for i in done).items())),
    }


def show(row: dict[str, Any]) -> None:
    ratio = row["diverted"] / row["fifo_diverted"] if row["fifo_diverted"] else float("nan")
    print(
        f"mixed     {row['policy']:10} | local wait p50 {row['wait_p50_s']:6.3f}s p99 "
        f"{row['wait_p99_s']:6.3f}s max {row['wait_max_s']:6.3f}s (threshold "
        f"{WAIT_THRESHOLD_S:g}s) | diverted {row['diverted']:3d} (FIFO {row['fifo_diverted']:3d}, "
        f"x{ratio:.2f}; oracle* {row['oracle_diverted']:3d}) | lost {row['lost']} | predictor "
        f"|err| p50 {row['predictor_median_abs_error_s']:.3f}s p90 "
        f"{row['predictor_p90_abs_error_s']:.3f}s ({row['predictor_samples']} local)",
        flush=True,
    )
