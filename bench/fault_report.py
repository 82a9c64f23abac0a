"""The fault bench's judgement: what an answer counts as, the table, the secret scan.

Pure (no I/O but reading the files handed to the scan), so it has unit tests
(tests/bench/test_fault_report.py). An answer is one of:

- ``answered``: a 2xx carrying a whole answer (a final ``done`` object, a
  ``[DONE]`` or ``message_stop``, a whole JSON answer);
- ``cut``: a 200 whose stream ended with the client API's own in-band error
  after content (what any API does when the provider dies mid-answer: the
  client is told, not left hanging);
- ``refused``: a 4xx (the client is told what is wrong);
- ``5xx``: a 5xx status (a 502/503/504 tells the client; a 500 is a bug);
- ``lost``: no status, a dropped connection, a timeout, or a 200 that ended
  without an answer and without an error.

Money: ``ledger`` is what brb's ledger holds (settled at cost, reserved at
the reservation), ``provider`` what the fake Anthropic reported/produced x
the price; the documented upper bound adds each cut-off or reconciled row's
reservation (README / brb/core/stream_tally.py: such a row settles at most at
its reservation). Met when provider <= ledger <= bound.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

OUTCOMES = ("answered", "cut", "refused", "5xx", "lost")


def classify(endpoint: str, is_stream: bool, status: int | None, body: bytes) -> str:
    """What one answer counts as (see the module)."""
    if status is None:
        return "lost"
    if status >= 500:
        return "5xx"
    if status >= 400:
        return "refused"
    text = body.decode("utf-8", "replace")
    if not is_stream:
        return "answered" if _whole(endpoint, text) else "lost"
    if _finished(endpoint, text):
        return "answered"
    return "cut" if _errored(endpoint, text) else "lost"


def _whole(endpoint: str, text: str) -> bool:
    try:
        body = json.loads(text)
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    if endpoint in ("/api/chat", "/api/generate"):
        return body.get("done") is True
    if endpoint == "/v1/chat/completions":
        return bool(body.get("choices"))
    return body.get("type") == "message"


def _lines(text: str) -> list[dict[str, object]]:
    found = []
    for line in text.splitlines():
        line = line.removeprefix("data:").strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                found.append(obj)
    return found


def _finished(endpoint: str, text: str) -> bool:
    if endpoint in ("/api/chat", "/api/generate"):
        return any(o.get("done") is True for o in _lines(text))
    if endpoint == "/v1/chat/completions":
        return "data: [DONE]" in text and not _errored(endpoint, text)
    return "event: message_stop" in text


def _errored(endpoint: str, text: str) -> bool:
    if endpoint == "/v1/messages":
        return "event: error" in text
    return any("error" in o for o in _lines(text))


@dataclass(slots=True)
class Row:
    """One fault's line of the table."""

    fault: str
    outcomes: Counter[str] = field(default_factory=Counter)
    cloud: int = 0  # answered by the cloud (X-BRB-Provider not ollama)
    status_500: int = 0
    ledger_micro: int = 0
    provider_micro: int = 0
    bound_micro: int = 0
    reserved_rows: int = 0
    tracebacks: int = 0
    lost_expected: bool = False  # kill -9: what was in flight dies with the process
    note: str = ""
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())

    def money_met(self) -> bool:
        return (
            self.provider_micro <= self.ledger_micro <= self.bound_micro and self.reserved_rows == 0
        )

    def met(self) -> bool:
        ok = self.status_500 == 0 and self.tracebacks == 0 and self.money_met()
        ok = ok and all(self.checks.values())
        return ok and (self.lost_expected or self.outcomes["lost"] == 0)


def usd(micro: int) -> str:
    return f"{micro / 1e6:.6f}"


def table(rows: Iterable[Row]) -> str:
    """The markdown table the bench prints and RESULTS.md keeps."""
    head = (
        "| fault | sent | answered | cut (told) | refused | lost | 5xx | of which 500 "
        "| via cloud | ledger $ | provider $ | bound $ | reserved left | tracebacks | met |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        o = r.outcomes
        lines.append(
            f"| {r.fault} | {r.sent} | {o['answered']} | {o['cut']} | {o['refused']} "
            f"| {o['lost']} | {o['5xx']} | {r.status_500} | {r.cloud} | {usd(r.ledger_micro)} "
            f"| {usd(r.provider_micro)} | {usd(r.bound_micro)} | {r.reserved_rows} "
            f"| {r.tracebacks} "
            f"| {'yes' if r.met() else '**no**'} |"
        )
    return "\n".join(lines)


def secret_hits(secrets: Iterable[str], blobs: Iterable[tuple[str, bytes]]) -> list[str]:
    """Where any secret appears: ``"<where>: <which secret's first 6 chars>..."`` each."""
    needles = [s for s in secrets if s]
    hits = []
    for where, blob in blobs:
        for secret in needles:
            if secret.encode() in blob:
                hits.append(f"{where}: {secret[:6]}...")
    return hits


def file_blobs(paths: Iterable[Path]) -> Iterable[tuple[str, bytes]]:
    """Each existing file's bytes, named by path (a database file is read raw)."""
    for path in paths:
        if path.is_file():
            yield str(path), path.read_bytes()
