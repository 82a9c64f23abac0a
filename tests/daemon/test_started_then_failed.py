"""A provider that started answering (its message_start reports the prompt's usage)
and then failed before any content is still charged: the request goes local, and
the ledger keeps at least what the provider reported (a timeout or a lost
connection: the worst case, as the cut-off rule says), never a release to $0.

Found by bench/faults.py: a stall, a reset or an error event right after
message_start was released, while the provider had reported input tokens."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from daemon_rig import StartRig

from brb.core import pricing
from brb.sim.anthropic import FakeAnthropic

CLOUD_MODEL = "claude-sonnet-5-5"
MAX_TOKENS = 64
FAULTS: dict[str, Callable[[FakeAnthropic], None]] = {
    "error event": lambda f: f.error_event_after(0),
    "reset": lambda f: f.reset_after(0),
    "timeout": lambda f: f.stall_after(0),
}


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failure_after_message_start_settles_at_least_what_was_reported(
    start_brb: StartRig, fault: str, stream: bool
) -> None:
    fake = FakeAnthropic()
    rig = start_brb(
        anthropic=fake,
        models={"anthropic_model": CLOUD_MODEL, "max_tokens": MAX_TOKENS},
        providers={"anthropic": {"first_token_timeout_seconds": 2, "timeout_seconds": 5}},
    )
    rig.press()
    FAULTS[fault](fake)
    answer = rig.ask("/api/chat", stream=stream)
    assert answer.status == 200 and answer.provider in (None, "ollama")  # answered locally
    (produced,) = fake.produced_usage()
    assert produced.input_tokens > 0 and not produced.finished
    price = pricing.price_for(CLOUD_MODEL)
    assert price is not None
    reported = pricing.cost_usd(
        price, input_tokens=produced.input_tokens, output_tokens=produced.output_tokens
    )
    (row,) = rig.settled_rows(1, timeout_s=15)
    assert row["status"] == "settled" and row["outcome"] == "error_before_answer"
    assert Decimal(row["cost_micro_usd"]) / 1_000_000 >= reported > 0
    assert row["cost_micro_usd"] <= row["reserved_micro_usd"]
    if fault != "error event":  # it may have produced more than was seen: the worst case
        assert row["output_tokens"] == MAX_TOKENS
