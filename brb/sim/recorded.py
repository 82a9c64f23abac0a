"""One request as a simulated cloud API received it (the fake Anthropic's and OpenAI's record).

Owns the shape tests read back: method, path, lower-cased header names, the
parsed body, the request id the fake answered with. Must not know any API's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received: lower-cased header names, parsed body (None if not JSON)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: object
    request_id: str = ""
