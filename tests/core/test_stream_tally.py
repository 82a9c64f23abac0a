"""brb.core.stream_tally: a cut-off stream settles at no less than what was seen."""

from __future__ import annotations

import json

from brb.core.pricing import Usage
from brb.core.stream_tally import OutputTally, cut_off_usage, worst_case_usage


def delta(**d: str) -> dict[str, object]:
    return {"type": "content_block_delta", "index": 0, "delta": d}


def test_the_tally_counts_every_content_byte_seen() -> None:
    events = [
        {"type": "message_start", "message": {"usage": {"output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        delta(type="text_delta", text="héllo"),  # 6 bytes
        delta(type="thinking_delta", thinking="ab"),
        delta(type="input_json_delta", partial_json='{"a"'),
        delta(type="signature_delta", signature="c2ln"),  # not output text
        {"type": "ping"},
    ]
    tally = OutputTally()
    for e in events:
        tally = tally.fed(e)
    start = len(b'{"type": "text", "text": ""}')
    assert tally.content_bytes == start + 6 + 2 + 4


def test_a_cut_off_settles_at_what_was_seen_capped_by_max_tokens() -> None:
    seen = Usage(input_tokens=10, output_tokens=1)
    assert cut_off_usage(seen, OutputTally(50), max_tokens=100).output_tokens == 50
    assert cut_off_usage(seen, OutputTally(500), max_tokens=100).output_tokens == 100
    # a provider count above the tally wins (it never goes down)
    assert cut_off_usage(Usage(10, 70), OutputTally(50), max_tokens=100).output_tokens == 70
    assert cut_off_usage(seen, OutputTally(50), max_tokens=100).input_tokens == 10


def test_unseen_output_takes_the_worst_case() -> None:
    assert worst_case_usage(Usage(10, 3), max_tokens=64) == Usage(10, 64)


def test_openai_chunks_are_tallied_too() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "héllo", "reasoning_content": "ab"}}]}
    call = {"index": 0, "function": {"arguments": '{"a"'}}
    tool = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
    tally = OutputTally().fed(chunk).fed(tool).fed({"choices": []})
    assert tally.content_bytes == 6 + 2 + len(json.dumps(call).encode())
