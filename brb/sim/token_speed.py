"""How long the fake Ollama takes over a request when it behaves like a model: per token.

Owns the fake's speed when replies vary: prefill seconds per prompt token,
decode seconds per output token, a fixed load time, and the reply length a
request gets (a fixed function of its prompt: the same request gets the same
reply in every run). The length is the ``[reply:N]`` marker in the prompt
when there is one (the bench sets it from its traffic shape so the fake
serves exactly the trace), else drawn from the mixed shape's lognormal by a
hash of the prompt text. Must not know HTTP: ``brb.sim.ollama`` reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from brb.sim.mixed_traffic import MixedShape, reply_tokens_for

_MARKER = re.compile(r"\[reply:(\d+)\]")


def prompt_text(body: dict[str, Any]) -> str:
    parts = [str(body.get(k) or "") for k in ("system", "prompt")]
    messages = body.get("messages")
    if isinstance(messages, list):
        parts += [str(m.get("content") or "") for m in messages if isinstance(m, dict)]
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class TokenSpeed:
    shape: MixedShape = field(default_factory=MixedShape)

    @property
    def prefill_s_per_token(self) -> float:
        return self.shape.prefill_s_per_token

    @property
    def decode_s_per_token(self) -> float:
        return self.shape.decode_s_per_token

    @property
    def load_s(self) -> float:
        return self.shape.load_s

    def reply_tokens(self, body: dict[str, Any]) -> int:
        text = prompt_text(body)
        found = _MARKER.search(text)
        if found:
            return max(1, int(found.group(1)))
        return reply_tokens_for(self.shape, text)

    def service_s(self, prompt_tokens: int, reply_tokens: int) -> float:
        return self.shape.service_s(prompt_tokens, reply_tokens)
