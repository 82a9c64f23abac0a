"""A replay trace: one request a line, read from JSONL text.

Owns the trace record (when a request arrived, for which model and session,
how many tokens it took and, optionally, how long the local server took to
serve it), reading and checking JSONL lines with errors that name the line,
and the local service time a record implies. Must not open files or read
the clock: the CLI reads the file (or the request log) and passes lines or
records in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from brb.errors import UsageError

REQUIRED = ("arrival_offset_s", "model", "prompt_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One request of a trace."""

    arrival_offset_s: float  # seconds from the trace start
    model: str
    session: str = ""
    prompt_tokens: int = 0
    output_tokens: int = 0
    service_s: float | None = None  # local service seconds, when measured
    max_output_tokens: int | None = None  # the client's cap (num_predict / max_tokens)
    prompt_eval_s: float | None = None  # Ollama's own split of the service, when known
    eval_s: float | None = None
    load_s: float | None = None

    def local_service_s(
        self, tokens_per_second: float, prefill_tokens_per_second: float | None = None
    ) -> float:
        """Seconds one local slot is busy with this request: the measured
        service time if the trace has one (or Ollama's split of it), else
        output tokens at the given rate, plus the prompt at the prefill rate
        when one is given."""
        if self.service_s is not None:
            return self.service_s
        parts = [p for p in (self.load_s, self.prompt_eval_s, self.eval_s) if p is not None]
        if parts:
            return sum(parts)
        prefill = (
            self.prompt_tokens / prefill_tokens_per_second if prefill_tokens_per_second else 0.0
        )
        return prefill + self.output_tokens / tokens_per_second

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "arrival_offset_s": self.arrival_offset_s,
            "model": self.model,
            "session": self.session,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
        }
        optional = {
            "service_s": self.service_s,
            "max_output_tokens": self.max_output_tokens,
            "prompt_eval_s": self.prompt_eval_s,
            "eval_s": self.eval_s,
            "load_s": self.load_s,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


def parse_trace(lines: Iterable[str], *, source: str = "trace") -> list[TraceRecord]:
    """Read JSONL lines into records sorted by arrival (ties keep file order).

    Blank lines are skipped; anything else that is not a valid record raises
    :class:`~brb.errors.UsageError` naming ``source`` and the line number.
    """
    records: list[TraceRecord] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(parse_record(line))
        except ValueError as exc:
            raise UsageError(f"{source} line {number}: {exc}") from None
    if not records:
        raise UsageError(f"{source}: no requests in the trace")
    records.sort(key=lambda r: r.arrival_offset_s)
    return records


def parse_record(line: str) -> TraceRecord:
    """One JSONL line -> a record; ValueError says what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"missing field {missing[0]!r} (every line needs {', '.join(REQUIRED)})")
    model = data["model"]
    if not isinstance(model, str) or not model:
        raise ValueError("'model' must be a non-empty string")
    session = data.get("session") or ""
    if not isinstance(session, str):
        raise ValueError("'session' must be a string")
    service = data.get("service_s")
    cap = data.get("max_output_tokens")
    return TraceRecord(
        arrival_offset_s=_seconds(data["arrival_offset_s"], "arrival_offset_s"),
        model=model,
        session=session,
        prompt_tokens=_count(data["prompt_tokens"], "prompt_tokens"),
        output_tokens=_count(data["output_tokens"], "output_tokens"),
        service_s=None if service is None else _seconds(service, "service_s"),
        max_output_tokens=None if cap is None else _count(cap, "max_output_tokens"),
        **{
            k: _seconds(data[k], k)
            for k in ("prompt_eval_s", "eval_s", "load_s")
            if data.get(k) is not None
        },
    )


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name!r} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name!r} must be a finite number >= 0, not {value!r}")
    return float(value)


def _count(value: object, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name!r} must be a whole number >= 0, not {value!r}")
    return value
