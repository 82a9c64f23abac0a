"""What every cloud provider adapter says about a failed call, said once.

Owns the short, one-line form of an SDK exception's text that goes into a
:class:`brb.errors.ProviderError` (and so into logs, alerts and status),
reading a ``retry-after`` header into seconds, and the error kind an API's
error body names. Shared by the provider
adapters (:mod:`brb.adapters.anthropic_provider`,
:mod:`brb.adapters.openai_provider`).

Must not: import an SDK, or decide what is retryable (each adapter knows its
own SDK's error classes).
"""

from __future__ import annotations


def short_message(exc: Exception, limit: int = 300) -> str:
    """The exception's text on one line, cut at ``limit`` characters."""
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def error_kind(body: object, *keys: str) -> str:
    """The kind an error body names: the first of ``keys`` with a value, in its
    ``error`` object (``{"error": {"type": ...}}``) or at its top; "" if none."""
    if not isinstance(body, dict):
        return ""
    inner = body.get("error")
    err: dict[str, object] = inner if isinstance(inner, dict) else body
    return next((str(err[k]) for k in keys if err.get(k)), "")


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a ``retry-after`` header (seconds form; an HTTP date is ignored)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None
