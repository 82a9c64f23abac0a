"""How long ``brb status --json`` takes from a cold process, next to the floor.

Runs ``brb status --json`` and ``python -c "import sqlite3"`` (the least any
Python CLI over SQLite can cost) interleaved, so both see the same machine
load, against a throwaway database; prints median and p90 of each and the
ratio, plus the median CPU time of each (steadier than wall-clock on a busy
machine). The goal (issue 2): median under 0.25 s on a 2-core machine.

    python bench/cli_startup.py [--runs 30] [--brb PATH] [--importtime] [--no-pyc]

Bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, so the tree
stays clean) as it is on a real install, even when the shell sets
``PYTHONDONTWRITEBYTECODE``; ``--no-pyc`` measures the uncached case.

``--importtime`` adds the ten slowest imports of one ``brb status --json``
(``python -X importtime``), cumulative, to find what to trim.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds (user + system) of the child, which a
    busy machine disturbs much less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


def find_brb() -> str:
    beside = Path(sys.executable).parent / "brb"
    found = str(beside) if beside.exists() else shutil.which("brb")
    if not found:
        sys.exit("brb is not installed: pip install -e . (or pass --brb PATH)")
    return found


def slowest_imports(brb_python: str, env: dict[str, str], n: int = 10) -> list[tuple[int, str]]:
    proc = subprocess.run(
        [brb_python, "-X", "importtime", "-m", "brb", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--brb", default=None, help="path of the brb script (default: the venv's)")
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--no-pyc", action="store_true", help="compile every module each run")
    args = parser.parse_args()

    brb = args.brb or find_brb()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BRB_DB": str(Path(tmp) / "brb.db")}
        env.pop("BRB_CONFIG", None)
        if args.no_pyc:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        commands = {
            "brb status --json": [brb, "status", "--json"],
            'python -c "import sqlite3"': [sys.executable, "-c", "import sqlite3"],
        }
        for cmd in commands.values():  # warm the page cache; create and migrate the db
            run_once(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                wall, used = run_once(cmd, env)
                times[name].append(wall)
                cpu[name].append(used)
        offenders = slowest_imports(sys.executable, env) if args.importtime else []

    width = max(len(n) for n in times)
    print(
        f"{args.runs} runs each, interleaved; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}; "
        f"{'no ' if args.no_pyc else ''}bytecode cache"
    )
    print(f"{'command':<{width}}  {'median':>8}  {'p90':>8}  {'min':>8}  {'cpu median':>10}")
    for name, samples in times.items():
        print(
            f"{name:<{width}}  {statistics.median(samples):>7.3f}s  {p90(samples):>7.3f}s  "
            f"{min(samples):>7.3f}s  {statistics.median(cpu[name]):>9.3f}s"
        )
    brb_median, floor_median = (statistics.median(s) for s in times.values())
    print(
        f"ratio of medians: {brb_median / floor_median:.1f}x; brb adds "
        f"{brb_median - floor_median:.3f}s; goal median < 0.250s: "
        f"{'met' if brb_median < 0.25 else 'NOT met'}"
    )
    if offenders:
        print("\nslowest imports of `python -m brb status --json` (cumulative):")
        for micros, name in offenders:
            print(f"  {micros / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
