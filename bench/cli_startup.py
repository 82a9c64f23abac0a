"""How long the light commands take from a cold process, next to the floor.

Runs ``brb status --json``, ``brb press --json``, ``brb release --json``,
``brb spend --json`` and ``python -c "import sqlite3"`` (the least any
Python CLI over SQLite can cost) interleaved, so all see the same machine
load, against a throwaway database and a throwaway config file; prints the
median, p90 and min of each, the median CPU time (steadier than wall-clock
on a busy machine) and each command's ratio to the floor. The goal
(issue 9): every median at most 3.5x the floor's.

The first run of each command validates the config in full and caches it
(brb.config_cache), as the first run after an install or a config edit
does; the measured runs are the ones after it.

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

FLOOR = 'python -c "import sqlite3"'
UNCACHED = "brb status --json, config just edited (not in the goal)"
# A config like a real one (a file to read, prices, a chain), not the defaults.
EXAMPLE_CONFIG = """\
big_red_button:
  upstream: http://127.0.0.1:11434
  budget: {daily_limit_usd: 50, alert_at_percent: [50, 80]}
  models: {anthropic_model: claude-sonnet-4-5, map: {"llama*": claude-haiku-4-5}}
  excluded_sessions: [ci-*]
"""


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
    parser.add_argument("--goal", type=float, default=3.5, help="ratio to the floor")
    parser.add_argument("--brb", default=None, help="path of the brb script (default: the venv's)")
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--no-pyc", action="store_true", help="compile every module each run")
    args = parser.parse_args()

    brb = args.brb or find_brb()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "brb.yaml"
        config.write_text(EXAMPLE_CONFIG, encoding="utf-8")
        env = {
            **os.environ,
            "BRB_DB": str(Path(tmp) / "brb.db"),
            "BRB_CONFIG": str(config),
            "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
        }
        env.pop("CACHE_DIRECTORY", None)
        if args.no_pyc:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        commands = {
            FLOOR: [sys.executable, "-c", "import sqlite3"],
            **{
                f"brb {c} --json": [brb, c, "--json"]
                for c in ("status", "press", "release", "spend")
            },
            UNCACHED: [brb, "status", "--json"],
        }
        for cmd in commands.values():  # warm the page cache; create and migrate the db
            run_once(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                if name == UNCACHED:
                    shutil.rmtree(Path(tmp) / "cache", ignore_errors=True)
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
    floor, floor_cpu = statistics.median(times[FLOOR]), statistics.median(cpu[FLOOR])
    print(
        f"{'command':<{width}}  {'median':>8}  {'p90':>8}  {'min':>8}  {'cpu median':>10}  "
        f"{'ratio':>6}  {'cpu ratio':>9}"
    )
    worst = 0.0
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = median / floor
        if name not in (FLOOR, UNCACHED):
            worst = max(worst, ratio)
        print(
            f"{name:<{width}}  {median:>7.3f}s  {p90(samples):>7.3f}s  {min(samples):>7.3f}s  "
            f"{statistics.median(cpu[name]):>9.3f}s  {ratio:>5.1f}x  "
            f"{statistics.median(cpu[name]) / floor_cpu:>8.1f}x"
        )
    print(
        f"worst ratio of medians: {worst:.1f}x; goal at most {args.goal:.1f}x: "
        f"{'met' if worst <= args.goal else 'NOT met'}"
    )
    if offenders:
        print("\nslowest imports of `python -m brb status --json` (cumulative):")
        for micros, name in offenders:
            print(f"  {micros / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
