"""`kill -9` of brb with 50 diversions in flight, then a restart that reconciles.

Owns the crash fault, in two halves so the wait between them is not idle:
``begin`` presses brb, sends 50 slow streamed diversions, waits until all 50
are reserved in the ledger and answering, and sends SIGKILL; ``finish``
(called once the other faults have run) waits until the reservations are
older than brb's reconciliation age (the provider timeout + 60 s, see
brb/daemon/app.py), restarts brb on the same database and reads the ledger
and `brb spend --json` back: no row may be left ``reserved`` and the ledger
must be at least what the fake Anthropic produced before the cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from fault_cases import Context, Money, provider_micro
from fault_report import Row
from fault_rig import Rig, fakes
from fault_traffic import burst

from brb.sim.anthropic import FakeAnthropic
from brb.sim.ollama import FakeOllama

IN_FLIGHT = 50
PROVIDER_TIMEOUT_S = 20.0
RECONCILE_AGE_S = PROVIDER_TIMEOUT_S + 60.0 + 2.0  # brb's RECONCILE_MARGIN_S, and a margin
# ~40 deltas at 0.25 s: each stream runs ~10 s, long enough to kill them all mid-answer
SLOW_REPLY = " ".join(["word"] * 40)


class Crash:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.row = Row(
            f"kill -9 with {IN_FLIGHT} diversions in flight, restart", lost_expected=True
        )
        self.stack = contextlib.ExitStack()
        self.killed_at = 0.0
        self.rig: Rig | None = None
        self.anthropic = FakeAnthropic(
            api_key=ctx.secrets.api_key, reply_text=SLOW_REPLY, delta_interval_s=0.25
        )

    async def begin(self) -> None:
        local, cloud = self.stack.enter_context(
            fakes(self.anthropic, FakeOllama(num_parallel=4, service_s=0.05))
        )
        extra = {"providers": {"anthropic": {"timeout_seconds": PROVIDER_TIMEOUT_S}}}
        self.rig = rig = self.ctx.rig("kill9", local, cloud, extra=extra)
        await rig.start()
        await rig.lever("press")
        pairs = [("/api/chat", True)] * IN_FLIGHT
        sending = asyncio.create_task(
            burst(rig.url, pairs, self.ctx.captured, self.row, concurrency=IN_FLIGHT)
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not sending.done():
            streaming = sum(1 for p in self.anthropic.produced_usage() if p.output_tokens > 1)
            if rig.ledger()["reserved_rows"] >= IN_FLIGHT and streaming >= IN_FLIGHT:
                break
            await asyncio.sleep(0.1)
        reserved = rig.ledger()["reserved_rows"]
        rig.kill9()
        self.killed_at = time.monotonic()
        await sending
        self.row.checks[f"{IN_FLIGHT} reserved at the kill"] = reserved >= IN_FLIGHT
        self.row.note = f"{reserved} reserved at the kill"

    async def finish(self) -> list[Row]:
        rig = self.rig
        assert rig is not None
        try:
            wait = self.killed_at + RECONCILE_AGE_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            before = rig.ledger()
            await rig.start()
            ledger: dict[str, Any] = rig.ledger()
            deadline = time.monotonic() + 30
            while ledger["reserved_rows"] and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                ledger = rig.ledger()
            spend = rig.spend_json()
            row = self.row
            row.ledger_micro = ledger["micro_usd"]
            row.provider_micro = provider_micro(self.anthropic)
            row.bound_micro = row.provider_micro + ledger["cut_reserved_micro_usd"]
            row.reserved_rows = ledger["reserved_rows"]
            reserved_before = before["reserved_rows"]
            row.checks["reconciled"] = "reconciled_worst_case" in ledger["outcomes"]
            row.checks["spend: none reserved"] = spend.get("reserved_requests") == 0
            row.note += (
                f"; {reserved_before} reserved before the restart, "
                f"{ledger['reserved_rows']} after; brb spend --json reserved_requests="
                f"{spend.get('reserved_requests')}, total_usd={spend.get('total_usd')}"
            )
            after = Row("  then after the restart, pressed")
            money = Money(rig, self.anthropic)
            money.ledger, money.produced = ledger, len(self.anthropic.produced)
            self.anthropic.delta_interval_s = 0.0
            await burst(rig.url, [("/api/chat", True), ("/api/chat", False)] * 3,
                        self.ctx.captured, after)  # fmt: skip
            await money.close(after)
            return [row, after]
        finally:
            rig.stop()
            self.ctx.captured.files.extend(rig.db_files())
            self.stack.close()
