"""What Ollama's final object says about the request it served.

Owns reading the last bytes of an answer (the final object of a stream, or the
whole of a non-streamed one) into :class:`FinalFacts`: the durations Ollama
reports (total, load, prompt eval, eval; nanoseconds on the wire) and the token
counts, and from them what the service model learns (:meth:`FinalFacts.figures`)
and what the request log records. Must not do I/O.
"""

from __future__ import annotations

import re

from brb.core.pricing import Usage
from brb.core.service_model import ServiceFigures
from brb.core.value_type import value_type

_FINAL_FIELDS = re.compile(
    rb'"(total_duration|load_duration|prompt_eval_duration|eval_duration|prompt_eval_count|'
    rb'eval_count)":\s*(\d+)'
)
# Ollama's final object ends with all six, in this order (Go's encoding of its metrics).
_OLLAMA_ORDER = re.compile(
    rb'"total_duration":\s*(\d+),\s*"load_duration":\s*(\d+),\s*"prompt_eval_count":\s*(\d+),'
    rb'\s*"prompt_eval_duration":\s*(\d+),\s*"eval_count":\s*(\d+),\s*"eval_duration":\s*(\d+)'
)


@value_type
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


NO_FACTS = FinalFacts()


def final_facts(tail: bytes) -> FinalFacts:
    """Service time and token counts from the final object in the answer's tail.

    Ollama's final object carries total, load, prompt_eval and eval durations
    (ns); what is not load + prompt_eval + eval was spent waiting for a slot.
    A field found more than once counts at its last place (the final object's).
    Figures past what a float or an int can hold (no Ollama sends them) give no
    facts: the answer is relayed and logged all the same.
    """
    try:
        return _facts(tail)
    except (OverflowError, ValueError):  # a float past 1e308; an int past 4,300 digits
        return NO_FACTS


def _facts(tail: bytes) -> FinalFacts:
    # The common case, read in one match: the six in Ollama's order from the last
    # "total_duration", and no quote after them (so no field comes again later).
    at = tail.rfind(b'"total_duration":')
    if at >= 0:
        six = _OLLAMA_ORDER.match(tail, at)
        if six is not None and tail.find(b'"', six.end()) < 0:
            total, load, prompt_tokens, prompt_eval, output_tokens, eval_ = map(int, six.groups())
            return FinalFacts(
                (load + prompt_eval + eval_) / 1e9,
                prompt_tokens,
                output_tokens,
                load / 1e9,
                prompt_eval / 1e9,
                eval_ / 1e9,
                total / 1e9,
            )
    return _any_facts(tail)


def _any_facts(tail: bytes) -> FinalFacts:
    """:func:`final_facts` of a tail in any other shape: each field at its last place."""
    found = dict(_FINAL_FIELDS.findall(tail))  # in C: names and digits stay bytes
    if not found:
        return NO_FACTS
    get = found.get
    load = _int_or_none(get(b"load_duration"))
    prompt_eval = _int_or_none(get(b"prompt_eval_duration"))
    eval_ = _int_or_none(get(b"eval_duration"))
    total = _int_or_none(get(b"total_duration"))
    service_ns = None  # load + prompt eval + eval, of those reported
    if load is not None or prompt_eval is not None or eval_ is not None:
        service_ns = (load or 0) + (prompt_eval or 0) + (eval_ or 0)
    return FinalFacts(
        None if service_ns is None else service_ns / 1e9,
        _int_or_none(get(b"prompt_eval_count")),
        _int_or_none(get(b"eval_count")),
        None if load is None else load / 1e9,
        None if prompt_eval is None else prompt_eval / 1e9,
        None if eval_ is None else eval_ / 1e9,
        None if total is None else total / 1e9,
    )


def _int_or_none(digits: bytes | None) -> int | None:
    return None if digits is None else int(digits)
