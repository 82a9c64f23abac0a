"""What the simulated Ollama answers with: each reply's pieces, its service time and timings.

Owns the fixed, deterministic reply of :class:`brb.sim.ollama.FakeOllama` for one
request: its pieces (the configured text split in chunks, or one piece per token
when a :class:`~brb.sim.token_speed.TokenSpeed` is set), how long it holds its
slot, where that time went (Ollama's final-object durations), the empty "load"
answer and the final native object.

Must not: serve HTTP, queue, inject failures or know about brb (that is
:mod:`brb.sim.ollama`); body shapes are :mod:`brb.sim.ollama_wire`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from brb.sim import ollama_wire as wire
from brb.sim.ollama_wire import JSON, Reply, Timings
from brb.sim.token_speed import TokenSpeed

ServiceTime = float | Callable[[JSON], float]


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def service_time(body: JSON, service_s: ServiceTime, speed: TokenSpeed | None) -> float:
    if speed is not None:
        return speed.service_s(wire.prompt_tokens(body), speed.reply_tokens(body))
    value = service_s(body) if callable(service_s) else service_s
    return max(0.0, float(value))


def timings(reply: Reply, wait_s: float, service_s: float, speed: TokenSpeed | None) -> Timings:
    """Where the time went: by the token speed when set, else a fifth prefill."""
    if speed is None:
        return Timings.split(wait_s, service_s)
    return Timings(
        wait_ns=max(0, round(wait_s * 1e9)),
        prompt_eval_ns=round(reply.prompt_tokens * speed.prefill_s_per_token * 1e9),
        eval_ns=round(len(reply.pieces) * speed.decode_s_per_token * 1e9),
        load_ns=round(speed.load_s * 1e9),
    )


def reply_for(
    model: str, body: JSON, reply_text: str, chunks: int, speed: TokenSpeed | None
) -> Reply:
    now = time.time()
    return Reply(
        model=model,
        created_at=now_rfc3339(),
        created=int(now),
        completion_id=f"chatcmpl-{int(now * 1e6) % 1_000_000_000}",
        pieces=(
            wire.reply_pieces(reply_text, chunks)
            if speed is None
            else wire.token_pieces(speed.reply_tokens(body))
        ),
        prompt_tokens=wire.prompt_tokens(body),
    )


def load_answer(model: str, is_chat: bool) -> JSON:
    answer: JSON = {"model": model, "created_at": now_rfc3339()}
    if is_chat:
        answer["message"] = {"role": "assistant", "content": ""}
    else:
        answer["response"] = ""
    return {**answer, "done_reason": "load", "done": True}


def final_native(reply: Reply, is_chat: bool, text: str, timings: Timings) -> JSON:
    build = wire.chat_final if is_chat else wire.generate_final
    return build(reply.model, now_rfc3339(), text, timings, reply.prompt_tokens, len(reply.pieces))
