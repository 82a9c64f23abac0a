"""Mixed traffic: heavy-tailed reply lengths and whole documents, as a shape anyone can replay.

Owns the mixed shape shared by ``scripts/make_traces.py`` (the example trace),
``bench/overload.py`` (the live run) and the fake Ollama (which serves each
request for as long as the shape says): Poisson arrivals at a multiple of
the local capacity, one prompt in ``document_share`` a document of
1,000-4,000 tokens (the rest short chats), reply lengths lognormal with a
long tail (clipped at ``max_reply_tokens``), and the service time they imply
at fixed prefill and decode rates. Must not do I/O or read the clock: a
seed makes the same traffic every run.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MixedShape:
    """The traffic and the local server's speed (the fake Ollama's figures)."""

    prefill_s_per_token: float = 0.0005  # 2,000 prompt tokens a second
    decode_s_per_token: float = 0.01  # 100 output tokens a second
    load_s: float = 0.002
    reply_median_tokens: float = 25.0
    reply_sigma: float = 1.3
    max_reply_tokens: int = 1000
    document_share: float = 0.25
    document_tokens: tuple[int, int] = (1000, 4000)
    chat_tokens: tuple[int, int] = (10, 200)
    load_factor: float = 1.5  # offered load over one slot's capacity

    def reply_tokens(self, u: float, z: float) -> int:
        """A reply length from a uniform ``u`` (unused) and a standard normal ``z``."""
        del u
        n = round(math.exp(math.log(self.reply_median_tokens) + self.reply_sigma * z))
        return max(1, min(self.max_reply_tokens, n))

    def service_s(self, prompt_tokens: int, reply_tokens: int) -> float:
        return (
            self.load_s
            + prompt_tokens * self.prefill_s_per_token
            + reply_tokens * self.decode_s_per_token
        )

    def mean_service_s(self, samples: int = 20_000, seed: int = 1) -> float:
        rng = random.Random(seed)
        total = 0.0
        for _ in range(samples):
            prompt, reply = self.draw(rng)
            total += self.service_s(prompt, reply)
        return total / samples

    def draw(self, rng: random.Random) -> tuple[int, int]:
        """One request's (prompt tokens, reply tokens)."""
        lo, hi = self.document_tokens if rng.random() < self.document_share else self.chat_tokens
        prompt = rng.randint(lo, hi)
        return prompt, self.reply_tokens(0.0, rng.gauss(0.0, 1.0))


@dataclass(frozen=True, slots=True)
class MixedRequest:
    arrival_offset_s: float
    prompt_tokens: int
    reply_tokens: int
    service_s: float


def mixed_requests(shape: MixedShape, *, duration_s: float, seed: int) -> list[MixedRequest]:
    """Poisson arrivals at ``load_factor`` x the capacity of one slot for ``duration_s``."""
    rng = random.Random(seed)
    rate = shape.load_factor / shape.mean_service_s()
    out: list[MixedRequest] = []
    t = rng.expovariate(rate)
    while t < duration_s:
        prompt, reply = shape.draw(rng)
        out.append(MixedRequest(round(t, 4), prompt, reply, shape.service_s(prompt, reply)))
        t += rng.expovariate(rate)
    return out


def reply_tokens_for(shape: MixedShape, text: str) -> int:
    """The reply length the fake Ollama gives a prompt: a fixed function of its
    text, so the same request gets the same reply in every run."""
    digest = hashlib.sha256(text.encode("utf-8", errors="replace")).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
    u2 = (int.from_bytes(digest[8:16], "big") + 0.5) / 2**64
    z = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)  # Box-Muller
    return shape.reply_tokens(u1, z)
