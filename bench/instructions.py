"""Instructions per request of a proxy, counted by callgrind: what the load can't move.

On a shared 2-core box, wall-clock throughput and even CPU time per request
swing with what else runs (caches, frequency, context switches). Counting the
instructions the proxy process executes (all its threads) while it serves a
fixed number of requests gives the same figure under load average 0 or 12.
It runs the proxy under ``valgrind --tool=callgrind`` (start-up takes minutes:
everything runs ~50x slower), counting only from after a warm-up until the
requests are done. The fake Ollama and the load generator run natively.

What the count includes besides the requests: brb's background work (the 1 s
tick, the press poll, the pool's probe) for as long as the requests take under
valgrind, about 0.9 M instructions a second here; ``--idle SECONDS`` measures
that rate (counting while no request is sent) and the result line subtracts it.

Run:  python bench/instructions.py [--proxy brb|bare] [--requests 1000] [--concurrency 20]
                                    [--stream] [--priced] [--idle-rate 0.9]
Needs valgrind (apt-get install valgrind). Results go in bench/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from harness import ROOT, free_port, spawn, wait_up
from overhead import SLOTS, run_round


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--proxy", choices=("brb", "bare"), default="brb")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--stream", action="store_true")
    p.add_argument(
        "--priced", action="store_true", help="brb with a priced provider (as overhead.py)"
    )
    p.add_argument("--idle", type=float, default=0.0, help="count SECONDS of idling instead")
    p.add_argument("--idle-rate", type=float, default=0.9, help="M instructions/s to subtract")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="brb-instructions-"))
    ports = {k: free_port() for k in ("ollama", "proxy")}
    ollama = f"http://127.0.0.1:{ports['ollama']}"
    fake = spawn(["-m", "brb.sim", "ollama", "--port", str(ports["ollama"]), "--service-s", "0",
                  "--num-parallel", str(SLOTS), "--chunks", "3"])  # fmt: skip
    out = tmp / "callgrind.out"
    if a.proxy == "bare":
        cmd = ["bench/bare_proxy.py", "--upstream", ollama, "--loop", "uvloop"]
        cmd += ["--listen", f"127.0.0.1:{ports['proxy']}"]
    else:
        cmd = ["-m", "brb", "serve", "--listen", f"127.0.0.1:{ports['proxy']}",
               "--upstream", ollama, "--db", str(tmp / "brb.db"),
               "--log-level", "warning", "--loop", "uvloop"]  # fmt: skip
    settings: dict[str, object] = {"upstream_parallel": SLOTS}
    if a.priced:
        settings["providers"] = {"anthropic": {"base_url": ollama, "api_key_env": "BRB_BENCH_KEY"}}
    (tmp / "brb.yaml").write_text(json.dumps({"big_red_button": settings}))
    env = {**os.environ, "ANTHROPIC_EMERGENCY_KEY": "", "ANTHROPIC_API_KEY": "",
           "BRB_BENCH_KEY": "bench-dummy-key" if a.priced else "",
           "BRB_CONFIG": str(tmp / "brb.yaml")}  # fmt: skip
    proxy = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         sys.executable, *cmd],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{ports['proxy']}"
    took = 0.0

    def callgrind(*args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(proxy.pid)], capture_output=True, check=False
        )

    async def go() -> None:
        nonlocal took
        await wait_up(ollama)
        await wait_up(url, timeout_s=900)  # start-up under valgrind
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            await run_round(s, url, stream=a.stream, concurrency=a.concurrency, n=300)
            callgrind("-i", "on")
            t = time.monotonic()
            if a.idle:
                await asyncio.sleep(a.idle)
            else:
                await run_round(s, url, stream=a.stream, concurrency=a.concurrency, n=a.requests)
            took = time.monotonic() - t
            callgrind("-i", "off")
            callgrind("-d")

    try:
        asyncio.run(go())
    finally:
        proxy.terminate()
        fake.terminate()
        proxy.wait(120)
        fake.wait(10)
    total = max(
        int(line.split()[1])
        for f in tmp.glob("callgrind.out*")
        for line in f.read_text(errors="replace").splitlines()
        if line.startswith(("summary:", "totals:"))
    )
    if a.idle:
        print(f"{a.proxy} idle: {total / 1e6 / took:.2f} M instructions a second")
        return
    background = a.idle_rate * 1e6 * took if a.proxy == "brb" else 0.0
    print(
        f"{a.proxy}{' priced' if a.priced else ''} {'stream' if a.stream else 'whole'} "
        f"c={a.concurrency}: {total / a.requests / 1e3:.0f} k instructions per request "
        f"({(total - background) / a.requests / 1e3:.0f} k net of {took:.0f} s of background "
        f"work at {a.idle_rate} M/s)"
    )


if __name__ == "__main__":
    main()
