"""The fake Ollama with a token speed: reply length and time follow from the prompt."""

from __future__ import annotations

import ollama
import pytest

from brb.sim.mixed_traffic import MixedShape
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread
from brb.sim.token_speed import TokenSpeed

SHAPE = MixedShape(prefill_s_per_token=0.0001, decode_s_per_token=0.001, load_s=0.0)


def test_reply_length_and_durations_follow_the_prompt() -> None:
    fake = FakeOllama(speed=TokenSpeed(SHAPE))
    with serve_in_thread(fake.app()) as url:
        client = ollama.Client(host=url)
        prompt = "x" * 400 + " [reply:7]"  # about 102 prompt tokens, 7 output tokens
        whole = client.chat(model="m", messages=[{"role": "user", "content": prompt}])
        assert whole.eval_count == 7
        assert whole.prompt_eval_duration == pytest.approx(whole.prompt_eval_count * 0.0001 * 1e9)
        assert whole.eval_duration == pytest.approx(7 * 0.001 * 1e9)
        parts = list(
            client.chat(model="m", messages=[{"role": "user", "content": prompt}], stream=True)
        )
        assert sum(1 for p in parts if p.message.content) == 7
        assert parts[-1].eval_count == 7


def test_without_a_marker_the_same_prompt_gets_the_same_length() -> None:
    speed = TokenSpeed(SHAPE)
    body = {"messages": [{"role": "user", "content": "what is my order status?"}]}
    lengths = {speed.reply_tokens(body) for _ in range(3)}
    assert len(lengths) == 1 and 1 <= lengths.pop() <= SHAPE.max_reply_tokens
    many = [speed.reply_tokens({"prompt": f"q{i}"}) for i in range(400)]
    assert max(many) > 4 * sorted(many)[200]  # a long tail over the median
