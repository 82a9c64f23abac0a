"""Fault injection against a live `brb serve`: is anything lost, a 500, mis-billed, leaked?

Each fault runs against its own `brb serve` process (own temp directory,
config, SQLite database, free loopback ports, a random dummy API key and
admin token in its environment) in front of brb's fakes (brb.sim: the fake
Ollama and the fake Anthropic, served from threads of this process so a fault
can arm them and read what they produced):

  provider-*     brb pressed; the fake Anthropic answers every request with a
                 429 / 529 / 500, hangs (timeout before content), goes quiet
                 after two deltas (timeout after content), cuts the connection
                 before or after content, or sends an error event after
                 content; or stalls, cuts or errs right after message_start
                 (usage reported, no content yet); streamed, then whole
  ollama-*       brb in auto; Ollama down (a closed port), slow (1.5 s a
                 request, one slot, wait threshold 1 s), or cutting its
                 streams after the first chunk
  db-locked      pressed; another process holds BEGIN EXCLUSIVE on the
                 database for 15 s while requests arrive
  disk-full      pressed; the database on an 8 MiB tmpfs, then filled
  kill9          50 slow streamed diversions in flight, SIGKILL, a restart
                 once the reservations are older than the reconciliation age
  fuzz           hypothesis, derandomized, bounded: every inference
                 endpoint's body and headers, pressed and not

Then brb's logs, database files and every answer captured (status line,
headers, body) are scanned for the API key and the admin token.

Columns: see bench/fault_report.py. Targets: 0 lost, 0 x 500, no traceback in
brb's log, provider cost <= ledger <= provider cost + the documented bound,
no reservation left, 0 secrets found.

Run:  python bench/faults.py [--quick] [--only NAME[,NAME]] [--json FILE]
(root is needed for the tmpfs of disk-full; without it that fault says so.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import fault_fuzz
from fault_cases import Context, Money, db_locked, disk_full, ollama_fault, provider_fault
from fault_crash import Crash
from fault_report import Row, file_blobs, secret_hits, table
from fault_rig import Captured, Secrets, fakes

from brb.sim.anthropic import FakeAnthropic
from brb.sim.ollama import FakeOllama

Fault = Callable[[Context], Awaitable[list[Row]]]


def _provider(name: str) -> Fault:
    return lambda ctx: provider_fault(ctx, name)


def _ollama(name: str) -> Fault:
    return lambda ctx: ollama_fault(ctx, name)


async def fuzz(ctx: Context) -> list[Row]:
    examples = 60 if ctx.quick else 300
    rows = []
    anthropic = FakeAnthropic(api_key=ctx.secrets.api_key)
    with fakes(anthropic, FakeOllama(num_parallel=4, service_s=0.01)) as (local, cloud):
        rig = ctx.rig("fuzz", local, cloud)
        await rig.start()
        try:
            money = Money(rig, anthropic)
            for mode in ("press", "release"):
                row = Row(
                    f"fuzz, {examples // 2} examples, {'pressed' if mode == 'press' else 'auto'}"
                )
                await rig.lever(mode)
                bad = await asyncio.to_thread(fault_fuzz.run, rig, ctx.captured, row, examples // 2)
                row.note = "; ".join(bad)
                await money.close(row)
                rows.append(row)
        finally:
            rig.stop()
    return rows


FAULTS: dict[str, Fault] = {
    "provider-429": _provider("429"),
    "provider-529": _provider("529"),
    "provider-500": _provider("500"),
    "provider-timeout-before": _provider("timeout before content"),
    "provider-timeout-after": _provider("timeout after content"),
    "provider-reset-before": _provider("reset before content"),
    "provider-reset-after": _provider("reset after content"),
    "provider-error-after": _provider("error event after content"),
    "provider-timeout-started": _provider("timeout after message_start"),
    "provider-reset-started": _provider("reset after message_start"),
    "provider-error-started": _provider("error event after message_start"),
    "ollama-down": _ollama("down"),
    "ollama-slow": _ollama("slow"),
    "ollama-reset": _ollama("reset mid-stream"),
    "db-locked": db_locked,
    "disk-full": disk_full,
    "fuzz": fuzz,
}
NAMES = [*FAULTS, "kill9"]


def tracebacks(paths: list[Path]) -> int:
    return sum(p.read_text(errors="replace").count("Traceback (most recent") for p in paths
               if p.suffix == ".log" and p.is_file())  # fmt: skip


async def run(names: list[str], quick: bool, workdir: Path) -> tuple[list[Row], list[str]]:
    ctx = Context(workdir, Secrets("sk-ant-faults-" + secrets.token_hex(16),
                                   secrets.token_urlsafe(24)), Captured(), quick)  # fmt: skip
    rows: list[Row] = []
    crash = Crash(ctx) if "kill9" in names else None
    if crash is not None:  # first: its reservations age while the others run
        start = len(ctx.captured.files)
        print("kill9 (begin) ...", flush=True)
        await crash.begin()
        crash_logs = start
    for name in names:
        if name == "kill9":
            continue
        print(f"{name} ...", flush=True)
        start = len(ctx.captured.files)
        found = await FAULTS[name](ctx)
        count = tracebacks(ctx.captured.files[start:])
        for row in found:
            row.checks["no traceback in brb's log"] = count == 0
            row.tracebacks = count
        rows.extend(found)
    if crash is not None:
        print("kill9 (restart) ...", flush=True)
        found = await crash.finish()
        count = tracebacks([p for p in ctx.captured.files[crash_logs:] if p.parent.name == "kill9"])
        for row in found:
            row.checks["no traceback in brb's log"] = count == 0
            row.tracebacks = count
        rows = found + rows
    for rig_dir in workdir.iterdir():
        ctx.captured.files.extend(p for p in rig_dir.glob("brb.db*") if p.is_file())
    blobs = [*file_blobs(ctx.captured.files),
             *((f"answer {i}", e.headers.encode() + b"\n" + e.body)
               for i, e in enumerate(ctx.captured.exchanges))]  # fmt: skip
    with (workdir / "answers.txt").open("w") as out:  # for --keep: what each answer was
        for e in ctx.captured.exchanges:
            out.write(f"{e.status} {e.body[:300]!r}\n")
    hits = secret_hits([ctx.secrets.api_key, ctx.secrets.admin_token], blobs)
    scanned = (f"{len(ctx.captured.exchanges)} answers, "
               f"{len(set(ctx.captured.files))} files (logs, database files)")  # fmt: skip
    return rows, [scanned, *hits]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, a shorter lock")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(NAMES))
    parser.add_argument("--json", type=Path, help="write the rows here too")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or NAMES
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"unknown fault {unknown}; choose from {', '.join(NAMES)}")
    t0 = time.monotonic()
    load = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="brb-faults-")
    try:
        rows, scan = asyncio.run(run(names, args.quick, Path(tmp)))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(rows))
    for row in rows:
        if row.note:
            print(f"- {row.fault.strip()}: {row.note}")
        failed = [k for k, ok in row.checks.items() if not ok]
        if failed:
            print(f"- {row.fault.strip()}: NOT MET: {', '.join(failed)}")
    hits = scan[1:]
    print(f"\nsecret scan of {scan[0]}: {len(hits)} hits" + "".join(f"\n  {h}" for h in hits))
    print(f"load average at start {load[0]:.2f}, at end {os.getloadavg()[0]:.2f}; "
          f"{time.monotonic() - t0:.0f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(
            {"rows": [{"fault": r.fault, **r.outcomes, "status_500": r.status_500,
                       "cloud": r.cloud, "ledger_micro": r.ledger_micro,
                       "provider_micro": r.provider_micro, "bound_micro": r.bound_micro,
                       "reserved_rows": r.reserved_rows, "tracebacks": r.tracebacks,
                       "checks": r.checks, "note": r.note} for r in rows],
             "secret_hits": hits}, indent=1))  # fmt: skip
    ok = all(r.met() for r in rows) and not hits
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
