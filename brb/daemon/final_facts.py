"""What Ollama's final object says about the request it served.

Owns reading the last bytes of an answer (the final object of a stream, or the
whole of a non-streamed one) into :class:`FinalFacts`: the durations Ollama
reports (total, load, prompt eval, eval; nanoseconds on the wire) and the token
counts, and from them what the service model learns (:meth:`FinalFacts.figures`)
and what the request log records. Must not do I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from brb.core.pricing import Usage
from brb.core.service_model import ServiceFigures

_FINAL_FIELDS = re.compile(
    rb'"(total_duration|load_duration|prompt_eval_duration|eval_duration|prompt_eval_count|'
    rb'eval_count)":\s*(\d+)'
)


@dataclass(frozen=True, slots=True)
class FinalFacts:
    """What Ollama's final object says about the request it served."""

    service_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    load_s: float | None = None
    prompt_eval_s: float | None = None
    eval_s: float | None = None
    total_s: float | None = None

    def figures(self, measured_s: float) -> ServiceFigures:
        """What the service model learns from this answer (``measured_s``: brb's own
        send-to-end time, used when Ollama reported no durations)."""
        queued = None
        if self.total_s is not None and self.service_s is not None:
            queued = self.total_s - self.service_s
        return ServiceFigures(
            prompt_tokens=self.prompt_tokens,
            output_tokens=self.output_tokens,
            prompt_eval_s=self.prompt_eval_s,
            eval_s=self.eval_s,
            load_s=self.load_s,
            measured_s=measured_s if self.service_s is None else None,
            queued_s=queued,
        )

    @property
    def usage(self) -> Usage | None:
        if self.prompt_tokens is None and self.output_tokens is None:
            return None
        return Usage(self.prompt_tokens or 0, self.output_tokens or 0)


def final_facts(tail: bytes) -> FinalFacts:
    """Service time and token counts from the final object in the answer's tail.

    Ollama's final object carries total, load, prompt_eval and eval durations
    (ns); what is not load + prompt_eval + eval was spent waiting for a slot.
    """
    found = {k.decode(): int(v) for k, v in _FINAL_FIELDS.findall(tail)}
    if not found:
        return FinalFacts()
    durations = [
        found[k] for k in ("load_duration", "prompt_eval_duration", "eval_duration") if k in found
    ]

    def seconds(key: str) -> float | None:
        return found[key] / 1e9 if key in found else None

    return FinalFacts(
        sum(durations) / 1e9 if durations else None,
        found.get("prompt_eval_count"),
        found.get("eval_count"),
        seconds("load_duration"),
        seconds("prompt_eval_duration"),
        seconds("eval_duration"),
        seconds("total_duration"),
    )
