"""The one HTTP seam every notifier goes through: send a request, classify the answer.

Owns the :class:`Request` a notifier builds (method, URL, headers, JSON body
and the secrets it contains), the :class:`Outcome` of one attempt (delivered,
or failed and whether a retry can help, with the server's ``Retry-After``),
and keeping secrets out of every string that leaves here: a Slack or generic
webhook URL *is* a credential, and so are PagerDuty routing keys and
Statuspage API keys.

Retryable: connection errors, timeouts, 408, 420 and 429 (rate limits; 420
is Statuspage's), 425 and every 5xx, as PagerDuty's Events API v2 documents
("Response Codes & Retry Logic",
https://developer.pagerduty.com/docs/events-api-v2/overview). Other 4xx mean
the request itself is wrong: retrying can't help.

Must not: retry or sleep (the daemon's alerter owns the retry loop), log
request bodies or URLs, or know any notifier's payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from brb import __version__

USER_AGENT = f"brb/{__version__}"
RETRYABLE_STATUSES = frozenset({408, 420, 425, 429})
_SNIPPET_CHARS = 200
_MIN_SECRET_CHARS = 4


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP call a notifier wants made. Nothing secret shows in its repr."""

    method: str
    url: str = field(repr=False)
    body: Mapping[str, Any] = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to. ``error`` never contains a secret."""

    ok: bool
    status: int | None = None
    error: str | None = None
    retryable: bool = False
    retry_after_s: float | None = None


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/***``: where it goes, without the secret part."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "(not a URL)"
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}/***"


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a secret URL that must never be printed: the whole URL and
    its path + query (where webhook tokens live), in case a library quotes only
    those."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return (url, tail) if len(tail) > 1 else (url,)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_CHARS:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


async def send(session: aiohttp.ClientSession, request: Request, timeout_s: float) -> Outcome:
    """Make one attempt; never raises for network or HTTP failures."""
    headers = {"User-Agent": USER_AGENT, **request.headers}
    try:
        async with session.request(
            request.method,
            request.url,
            json=dict(request.body),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as resp:
            status = resp.status
            text = await resp.text(errors="replace")
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), datetime.now(UTC))
    except TimeoutError:
        return Outcome(False, None, f"timed out after {timeout_s:g}s", retryable=True)
    except aiohttp.ClientError as exc:
        message = redact(f"{type(exc).__name__}: {exc}", request.secrets)
        return Outcome(False, None, message[: _SNIPPET_CHARS * 2], retryable=True)
    if 200 <= status <= 299:
        return Outcome(True, status)
    snippet = redact(" ".join(text.split())[:_SNIPPET_CHARS], request.secrets)
    if 300 <= status <= 399:
        error = f"HTTP {status}: redirected; point the notifier at the final URL"
    else:
        error = f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"
    return Outcome(
        False, status, error, retryable=is_retryable_status(status), retry_after_s=retry_after
    )
