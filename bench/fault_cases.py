"""The faults themselves: what each arms, what it sends, what it reads back.

Owns one scenario per fault against a live `brb serve` (bench/fault_rig.py):
the provider failing (429, 529, 500, a timeout, a connection reset, an error
event; before and after content; streamed and whole), Ollama down, slow or
resetting mid-stream, the database locked or its disk full while pressed, and
`kill -9` with diversions in flight then a restart. Each returns table rows
(bench/fault_report.py) with the ledger read from brb's database and the cost
the fake Anthropic produced, priced with brb's own table.

Must not: judge (the rows do) or print the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fault_report import Row
from fault_rig import Captured, Rig, Secrets, fakes
from fault_traffic import ENDPOINTS, burst, mix

from brb.core import pricing
from brb.sim.anthropic import FakeAnthropic
from brb.sim.ollama import FakeOllama

# Long enough for several deltas (a cut after 2 of them is mid-answer).
REPLY = "Your order left the warehouse this morning and should arrive within two days."
SETTLE_WAIT_S = 30.0


@dataclass(slots=True)
class Context:
    workdir: Path
    secrets: Secrets
    captured: Captured
    quick: bool

    @property
    def n(self) -> int:
        """Requests per batch."""
        return 6 if self.quick else 12

    def rig(self, name: str, upstream: str, cloud: str, **kw: Any) -> Rig:
        return Rig(name, self.workdir, self.secrets, self.captured,
                   upstream=upstream, cloud=cloud, **kw)  # fmt: skip


def provider_micro(fake: FakeAnthropic, skip: int = 0) -> int:
    """What the fake produced (usage x brb's price), micro-dollars; ``skip`` earlier ones."""
    total = 0
    for p in fake.produced_usage()[skip:]:
        price = pricing.price_for(p.model)
        assert price is not None, f"the bench's cloud model {p.model} has no price"
        cost = pricing.cost_usd(
            price,
            input_tokens=p.input_tokens,
            output_tokens=p.output_tokens,
            cache_write_tokens=p.cache_write_5m_tokens + p.cache_write_1h_tokens,
            cache_read_tokens=p.cache_read_tokens,
            cache_write_1h_tokens=p.cache_write_1h_tokens,
        )
        total += int(cost / pricing.MICRO)
    return total


async def settled(rig: Rig, deadline_s: float = SETTLE_WAIT_S) -> dict[str, Any]:
    """The ledger once no row is reserved (or as it stands at the deadline)."""
    end = time.monotonic() + deadline_s
    while True:
        ledger = rig.ledger()
        if ledger["reserved_rows"] == 0 or time.monotonic() > end:
            return ledger
        await asyncio.sleep(0.2)


class Money:
    """The ledger and the provider's tally between two points of one rig's run."""

    def __init__(self, rig: Rig, fake: FakeAnthropic) -> None:
        self.rig, self.fake = rig, fake
        self.ledger = {"micro_usd": 0, "cut_reserved_micro_usd": 0}
        self.produced = 0

    async def close(self, row: Row) -> None:
        ledger = await settled(self.rig)
        row.ledger_micro = ledger["micro_usd"] - self.ledger["micro_usd"]
        row.provider_micro = provider_micro(self.fake, self.produced)
        cut = ledger["cut_reserved_micro_usd"] - self.ledger["cut_reserved_micro_usd"]
        row.bound_micro = row.provider_micro + cut
        row.reserved_rows = ledger["reserved_rows"]
        self.ledger, self.produced = ledger, len(self.fake.produced)


Arm = Callable[[FakeAnthropic, int], None]

PROVIDER_FAULTS: dict[str, Arm] = {
    "429": lambda a, n: a.fail_next(n, 429, "rate_limit_error", retry_after=1),
    "529": lambda a, n: a.fail_next(n, 529, "overloaded_error"),
    "500": lambda a, n: a.fail_next(n, 500, "api_error"),
    "timeout before content": lambda a, n: setattr(a, "hang", True),
    "timeout after content": lambda a, n: a.stall_after(2, n),
    "reset before content": lambda a, n: a.reset_next(n),
    "reset after content": lambda a, n: a.reset_after(2, n),
    "error event after content": lambda a, n: a.error_event_after(2, n),
    # the answer has started (message_start: input tokens reported) but no content yet
    "timeout after message_start": lambda a, n: a.stall_after(0, n),
    "reset after message_start": lambda a, n: a.reset_after(0, n),
    "error event after message_start": lambda a, n: a.error_event_after(0, n),
}


async def provider_fault(ctx: Context, name: str) -> list[Row]:
    """brb pressed, the provider failing on every request: streamed, then whole."""
    arm = PROVIDER_FAULTS[name]
    anthropic = FakeAnthropic(api_key=ctx.secrets.api_key, reply_text=REPLY)
    rows = []
    with fakes(anthropic, FakeOllama(num_parallel=4, service_s=0.05)) as (local, cloud):
        rig = ctx.rig("provider-" + name.replace(" ", "-"), local, cloud)
        await rig.start()
        try:
            await rig.lever("press")
            money = Money(rig, anthropic)
            for is_stream in (True, False):
                row = Row(f"provider {name}, {'streamed' if is_stream else 'whole'}")
                pairs = [(e, is_stream) for e, _ in mix(ctx.n)]
                arm(anthropic, len(pairs))
                await burst(rig.url, pairs, ctx.captured, row)
                anthropic.hang = False
                await money.close(row)
                rows.append(row)
        finally:
            rig.stop()
    return rows


async def ollama_fault(ctx: Context, name: str) -> list[Row]:
    """brb in auto, Ollama down / slow / cutting its streams: streamed, then whole."""
    anthropic = FakeAnthropic(api_key=ctx.secrets.api_key, reply_text=REPLY)
    ollama: FakeOllama | None = None
    extra: dict[str, Any] = {}
    if name == "slow":
        ollama = FakeOllama(num_parallel=1, service_s=1.5)
        extra = {"upstream_parallel": 1, "thresholds": {"wait_time_seconds": 1.0}}
    elif name == "reset mid-stream":
        ollama = FakeOllama(num_parallel=4, service_s=0.2, chunks=4)
    rows = []
    with fakes(anthropic, ollama) as (local, cloud):
        rig = ctx.rig("ollama-" + name.replace(" ", "-"), local, cloud, extra=extra)
        await rig.start()
        try:
            money = Money(rig, anthropic)
            for is_stream in (True, False):
                row = Row(f"ollama {name}, {'streamed' if is_stream else 'whole'}")
                pairs = [(e, is_stream) for e, _ in mix(ctx.n)]
                if ollama is not None and name == "reset mid-stream":
                    ollama.reset_midstream_next(len(pairs))
                await burst(rig.url, pairs, ctx.captured, row)
                await money.close(row)
                rows.append(row)
            if name == "down":  # the operator's answer: press, and the cloud takes them
                row = Row("  then pressed")
                await rig.lever("press")
                await burst(rig.url, mix(ctx.n), ctx.captured, row)
                await money.close(row)
                rows.append(row)
        finally:
            rig.stop()
    return rows


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


async def db_locked(ctx: Context) -> list[Row]:
    """Pressed; another process holds BEGIN EXCLUSIVE on the database for 15 s."""
    hold_s = 6.0 if ctx.quick else 15.0
    anthropic = FakeAnthropic(api_key=ctx.secrets.api_key, reply_text=REPLY)
    row = Row(f"database locked {hold_s:.0f}s, pressed")
    after = Row("  then unlocked, pressed")
    with fakes(anthropic, FakeOllama(num_parallel=4, service_s=0.05)) as (local, cloud):
        rig = ctx.rig("db-locked", local, cloud)
        await rig.start()
        try:
            await rig.lever("press")
            money = Money(rig, anthropic)
            locker = subprocess.Popen(
                [sys.executable, "-c", LOCKER, str(rig.db), str(hold_s)],
                stdout=subprocess.PIPE,
            )
            try:
                assert locker.stdout is not None
                await asyncio.to_thread(locker.stdout.readline)
                t0 = time.monotonic()
                await burst(rig.url, mix(ctx.n), ctx.captured, row)
                row.note = f"all answered within {time.monotonic() - t0:.1f}s of the lock"
                row.checks["sent while locked"] = time.monotonic() - t0 < hold_s + 30
            finally:
                await asyncio.to_thread(locker.wait, hold_s + 60)
            await money.close(row)
            await asyncio.sleep(6.0)  # brb retries the store 5 s after a failure
            await burst(rig.url, mix(ctx.n), ctx.captured, after)
            await money.close(after)
            after.checks["diverts again"] = after.cloud > 0
        finally:
            rig.stop()
    return [row, after]


def _fill(path: Path) -> int:
    """Write zeros to ``path`` until the filesystem is full; the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with path.open("wb") as f, contextlib.suppress(OSError):
        for _ in range(1 << 16):  # bounded: 4 GiB at most, the tmpfs is far smaller
            f.write(chunk)
            f.flush()
            written += len(chunk)
    return written


async def disk_full(ctx: Context) -> list[Row]:
    """Pressed; the database on a small tmpfs that is then filled to the last byte."""
    mount = ctx.workdir / "full"
    mount.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        row = Row("disk full, pressed")
        row.note = f"not run: mount failed ({done.stderr.decode().strip()})"
        row.checks["tmpfs mounted"] = False
        return [row]
    anthropic = FakeAnthropic(api_key=ctx.secrets.api_key, reply_text=REPLY)
    row = Row("disk full (8 MiB tmpfs), pressed")
    after = Row("  then space freed, pressed")
    try:
        with fakes(anthropic, FakeOllama(num_parallel=4, service_s=0.05)) as (local, cloud):
            rig = ctx.rig("disk-full", local, cloud, db_path=mount / "brb.db")
            await rig.start()
            try:
                await rig.lever("press")
                money = Money(rig, anthropic)
                filler = mount / "filler"
                row.note = f"filled {_fill(filler) / 1e6:.1f} MB"
                await burst(rig.url, mix(ctx.n), ctx.captured, row)
                await money.close(row)
                filler.unlink()
                await asyncio.sleep(6.0)  # brb retries the store 5 s after a failure
                await burst(rig.url, mix(ctx.n), ctx.captured, after)
                await money.close(after)
                after.checks["diverts again"] = after.cloud > 0
            finally:
                rig.stop()
                for f in rig.db_files():  # kept for the secret scan after the unmount
                    copy = rig.dir / ("copy-" + f.name)
                    copy.write_bytes(f.read_bytes())
                    ctx.captured.files.append(copy)
    finally:
        subprocess.run(["umount", str(mount)], check=False)
    return [row, after]


__all__ = ["ENDPOINTS", "Context", "db_locked", "disk_full", "ollama_fault", "provider_fault"]
