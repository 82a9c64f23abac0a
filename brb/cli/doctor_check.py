"""One ``brb doctor`` verdict: a check's name, status, summary and details."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    summary: str
    details: tuple[str, ...] = field(default=())
