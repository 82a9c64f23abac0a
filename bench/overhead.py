"""How much latency and throughput brb costs on the local path, measured side by side.

Starts, each in its own process: the fake Ollama (no service time, many
slots), brb in front of it (no key: nothing is diverted, every request takes
the full local path: body check, routing decision, queue monitor and waiting
room, relay, request log; ``upstream_parallel`` set to the fake's slots), and
a bare aiohttp pass-through proxy (the floor of a Python proxy). The load
generator (this process) then runs interleaved rounds against direct, bare
and brb, non-streaming and streaming, at concurrency 1, 10 and 100, and
prints added latency (p50/p99 over direct) and throughput as ratios, and
each proxy's CPU time per request (from /proc: far steadier than wall-clock
throughput on a shared machine, and what limits throughput when the proxy's
core is the bottleneck).

Both proxies run on the same event loop: uvloop when it is installed (as
``brb serve`` does), else asyncio's; ``--loop`` forces one. The fake Ollama
and the load generator stay on asyncio's loop in every case.

Run:  python bench/overhead.py [--rounds 5] [--requests 400] [--loop auto|uvloop|asyncio]
Results go in bench/RESULTS.md (by hand: copy the printed table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from harness import free_port, pct, spawn, wait_up

SLOTS = 1000  # the fake Ollama's parallel slots, and brb's upstream_parallel


async def run_round(
    session: aiohttp.ClientSession, url: str, *, stream: bool, concurrency: int, n: int
) -> tuple[list[float], float]:
    body = json.dumps(
        {"model": "llama3", "stream": stream, "messages": [{"role": "user", "content": "hello"}]}
    ).encode()
    latencies: list[float] = []
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            t = time.perf_counter()
            async with session.post(
                url + "/api/chat", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                async for _chunk in r.content.iter_any():
                    pass
                if r.status != 200:
                    raise SystemExit(f"{url}: status {r.status}")
            latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, n / (time.perf_counter() - t0)


def cpu_s(pid: int) -> float:
    """CPU seconds a process has run so far, all its threads, to the nanosecond
    (Linux /proc/PID/task/*/schedstat; /proc/PID/stat counts 10 ms ticks)."""
    return (
        sum(int(f.read_text().split()[0]) for f in Path(f"/proc/{pid}/task").glob("*/schedstat"))
        / 1e9
    )


async def bench(
    targets: dict[str, str], pids: dict[str, int], rounds: int, n: int, levels: tuple[int, ...]
) -> list[dict[str, object]]:
    rows = []
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        for url in targets.values():  # warm up connections and code paths
            await run_round(session, url, stream=False, concurrency=10, n=200)
        for stream in (False, True):
            for concurrency in levels:
                lat: dict[str, list[float]] = {k: [] for k in targets}
                tput: dict[str, list[float]] = {k: [] for k in targets}
                cpu: dict[str, list[float]] = {k: [] for k in targets}
                count = max(n, concurrency * 4) if concurrency > 1 else n // 2
                for _ in range(rounds):
                    order = list(targets)
                    random.shuffle(order)
                    for name in order:
                        before = cpu_s(pids[name])
                        ls, t = await run_round(
                            session, targets[name], stream=stream, concurrency=concurrency, n=count
                        )
                        cpu[name].append((cpu_s(pids[name]) - before) / count * 1e6)
                        lat[name].extend(ls)
                        tput[name].append(t)
                d50, d99 = pct(lat["direct"], 50), pct(lat["direct"], 99)
                row: dict[str, object] = {"stream": stream, "concurrency": concurrency}
                for name in targets:
                    row[name] = {
                        "p50_ms": pct(lat[name], 50) * 1e3,
                        "p99_ms": pct(lat[name], 99) * 1e3,
                        "added_p50_ms": (pct(lat[name], 50) - d50) * 1e3,
                        "added_p99_ms": (pct(lat[name], 99) - d99) * 1e3,
                        "rps": statistics.median(tput[name]),
                        "cpu_us_per_request": statistics.median(cpu[name]),
                    }
                rows.append(row)
                print_row(row)
    return rows


def print_row(row: dict[str, object]) -> None:
    b = row["bare"]
    r = row["brb"]
    d = row["direct"]
    assert isinstance(b, dict) and isinstance(r, dict) and isinstance(d, dict)
    print(
        f"{'stream' if row['stream'] else 'whole ':6} c={row['concurrency']:<3} | "
        f"direct p50 {d['p50_ms']:.2f}ms {d['rps']:.0f}/s | "
        f"bare +{b['added_p50_ms']:.2f}ms p50 +{b['added_p99_ms']:.2f}ms p99 {b['rps']:.0f}/s | "
        f"brb +{r['added_p50_ms']:.2f}ms p50 +{r['added_p99_ms']:.2f}ms p99 {r['rps']:.0f}/s | "
        f"brb-bare p50 {r['added_p50_ms'] - b['added_p50_ms']:+.2f}ms, "
        + (
            f"added ratio {r['added_p50_ms'] / b['added_p50_ms']:.2f}x, "
            if b["added_p50_ms"] > 0
            else "added ratio n/a (bare at or under direct), "
        )
        + f"rps ratio {r['rps'] / b['rps']:.2f} (vs direct {r['rps'] / d['rps']:.2f}) | "
        f"CPU/request brb {r['cpu_us_per_request']:.0f} us, bare {b['cpu_us_per_request']:.0f} us",
        flush=True,
    )


def print_goals(rows: list[dict[str, object]]) -> None:
    """Issue 9's goals, row by row: at c=1 brb adds at most 0.1 ms over the bare
    proxy at p50; at c=100 at least its throughput and no more than its added p50."""
    for row in rows:
        b, r = row["bare"], row["brb"]
        assert isinstance(b, dict) and isinstance(r, dict)
        mode = "stream" if row["stream"] else "whole "
        extra = r["added_p50_ms"] - b["added_p50_ms"]
        if row["concurrency"] == 1:
            ok = extra <= 0.1
            print(f"goal {mode} c=1:   brb-bare p50 {extra:+.2f} ms (<= +0.10): {_met(ok)}")
        elif row["concurrency"] == 100:
            rps = r["rps"] / b["rps"]
            ok = rps >= 1.0 and r["added_p50_ms"] <= b["added_p50_ms"]
            cpu = r["cpu_us_per_request"] / b["cpu_us_per_request"]
            print(
                f"goal {mode} c=100: throughput {rps:.2f}x (>= 1.00), added p50 "
                f"{r['added_p50_ms']:.2f} vs {b['added_p50_ms']:.2f} ms (<=): {_met(ok)}; "
                f"CPU per request {cpu:.2f}x the bare proxy's"
            )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=400, help="requests per round")
    p.add_argument("--json", type=Path, help="also write the rows here")
    p.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    p.add_argument("--concurrency", default="1,10,100", help="levels, comma-separated")
    p.add_argument(
        "--priced",
        action="store_true",
        help="give brb a priced provider (Anthropic, a dummy key, never called: nothing is "
        "diverted in standby), so every answer carries X-BRB-Cost-Estimate-USD",
    )
    a = p.parse_args()
    levels = tuple(int(c) for c in a.concurrency.split(","))
    loop = a.loop
    if loop == "auto":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            loop = "asyncio"
        else:
            loop = "uvloop"
    print(
        f"proxies on {loop}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{a.rounds} rounds of {a.requests} requests, interleaved"
        + ("; brb has a priced provider (cost estimate on every answer)" if a.priced else ""),
        flush=True,
    )
    ports = {k: free_port() for k in ("ollama", "bare", "brb")}
    ollama = f"http://127.0.0.1:{ports['ollama']}"
    tmp = tempfile.mkdtemp(prefix="brb-bench-")
    # brb is told the truth about the upstream: the fake's slots (the default, 1,
    # would make brb's waiting room hold all but one request per model in brb)
    config = Path(tmp) / "brb.yaml"
    settings: dict[str, object] = {"upstream_parallel": SLOTS}
    if a.priced:  # a key, a base URL that is never called (nothing is diverted)
        settings["providers"] = {"anthropic": {"base_url": ollama, "api_key_env": "BRB_BENCH_KEY"}}
    config.write_text(json.dumps({"big_red_button": settings}))  # JSON is YAML
    procs = [
        spawn(
            [
                "-m",
                "brb.sim",
                "ollama",
                "--port",
                str(ports["ollama"]),
                "--service-s",
                "0",
                "--num-parallel",
                str(SLOTS),
                "--chunks",
                "3",
            ]
        ),
        spawn(
            [
                "bench/bare_proxy.py",
                "--listen",
                f"127.0.0.1:{ports['bare']}",
                "--upstream",
                ollama,
                "--loop",
                loop,
            ]
        ),
        spawn(
            [
                "-m",
                "brb",
                "serve",
                "--listen",
                f"127.0.0.1:{ports['brb']}",
                "--upstream",
                ollama,
                "--db",
                f"{tmp}/brb.db",
                "--log-level",
                "warning",
                "--loop",
                loop,
            ],
            env={
                "ANTHROPIC_EMERGENCY_KEY": "",
                "ANTHROPIC_API_KEY": "",
                "BRB_BENCH_KEY": "bench-dummy-key" if a.priced else "",
                "BRB_CONFIG": str(config),
            },
        ),
    ]
    targets = {
        "direct": ollama,
        "bare": f"http://127.0.0.1:{ports['bare']}",
        "brb": f"http://127.0.0.1:{ports['brb']}",
    }
    try:

        async def go() -> list[dict[str, object]]:
            for url in targets.values():
                await wait_up(url, timeout_s=180)  # a loaded machine imports slowly
            async with (
                aiohttp.ClientSession() as s,
                s.post(
                    targets["brb"] + "/api/chat",
                    json={
                        "model": "llama3",
                        "stream": False,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                ) as r,
            ):  # what brb adds to an answer (the route; the cost estimate when priced)
                print(
                    "brb answers with "
                    + ", ".join(f"{k}: {v}" for k, v in r.headers.items() if k.startswith("X-BRB")),
                    flush=True,
                )
            pids = {"direct": procs[0].pid, "bare": procs[1].pid, "brb": procs[2].pid}
            return await bench(targets, pids, a.rounds, a.requests, levels)

        rows = asyncio.run(go())
        print_goals(rows)
        if a.json:
            a.json.write_text(json.dumps(rows, indent=2))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
