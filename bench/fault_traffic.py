"""The fault bench's clients: request bodies per endpoint, sending them, counting answers.

Owns what a fault sends (a short chat in each client API, streamed or not)
and how each answer is read and recorded: every answer's status, headers and
body go to the capture (for the secret scan), and each is classified by
bench/fault_report.py. A generous client timeout: a request brb leaves hanging
is counted lost, not waited on forever.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import aiohttp
from fault_report import Row, classify
from fault_rig import Captured, Exchange

CLIENT_TIMEOUT_S = 90.0
ENDPOINTS = ("/api/chat", "/api/generate", "/v1/chat/completions")
PROMPT = "Where is my order? Please answer briefly."


def body_for(endpoint: str, is_stream: bool, model: str = "llama3") -> dict[str, Any]:
    """A valid request for ``endpoint`` (Anthropic's needs max_tokens: a small one)."""
    if endpoint == "/api/generate":
        return {"model": model, "prompt": PROMPT, "stream": is_stream}
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": is_stream,
    }
    if endpoint == "/v1/messages":
        body["max_tokens"] = 256
    return body


def mix(n: int, endpoints: tuple[str, ...] = ENDPOINTS) -> list[tuple[str, bool]]:
    """``n`` (endpoint, stream) pairs, every endpoint streamed and not, in turn."""
    pairs = itertools.cycle([(e, s) for s in (True, False) for e in endpoints])
    return list(itertools.islice(pairs, n))


async def send(
    session: aiohttp.ClientSession,
    url: str,
    endpoint: str,
    is_stream: bool,
    captured: Captured,
    row: Row,
) -> str:
    """Send one request, record and classify its answer into ``row``."""
    status: int | None = None
    body = b""
    headers = ""
    provider = ""
    try:
        async with session.post(url + endpoint, json=body_for(endpoint, is_stream)) as r:
            status, headers = r.status, str(r.headers)
            provider = r.headers.get("X-BRB-Provider", "")
            body = await r.read()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        body += f"\n<client: {type(exc).__name__}: {exc}>".encode()
    captured.exchanges.append(Exchange(status or 0, headers, body))
    outcome = classify(endpoint, is_stream, status, body)
    row.outcomes[outcome] += 1
    row.status_500 += status == 500
    if outcome in ("lost", "5xx") and f"{outcome}:" not in row.note:
        sample = f"{outcome}: {endpoint} stream={is_stream} -> {status} {body[-160:]!r}"
        row.note = f"{row.note}; {sample}" if row.note else sample
    if outcome == "answered" and provider and provider != "ollama":
        row.cloud += 1
    return outcome


async def burst(
    url: str,
    pairs: list[tuple[str, bool]],
    captured: Captured,
    row: Row,
    *,
    concurrency: int = 16,
) -> Counter[str]:
    """Send every pair, at most ``concurrency`` at a time; the outcomes counted."""
    gate = asyncio.Semaphore(concurrency)
    found: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(endpoint: str, is_stream: bool) -> None:
            async with gate:
                found[await send(session, url, endpoint, is_stream, captured, row)] += 1

        await asyncio.gather(*(one(e, s) for e, s in pairs))
    return found
