"""The pool's model lists: ``GET /api/tags`` and ``GET /api/ps`` answered for the whole pool.

Owns asking every healthy upstream at once for one of the two lists and answering
the union, each model once (by its name; the entry as the first upstream in
config order gave it, every field untouched), so a client sees every model it
can ask for and every model loaded somewhere. An upstream that does not answer
200 with a list within the probe's patience is left out (the health probe, not
this, marks it down); when none answers, the caller passes the request through
to the first healthy upstream, so the client gets Ollama's own answer. Every
other non-inference endpoint goes to the first healthy upstream (the relay);
a small body is read first (:func:`is_resendable`), so one that upstream
refuses goes to the next.
Must not route inference or change an entry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDictProxy

from brb.adapters.ollama_upstream import forward_headers
from brb.daemon.pool import Member, UpstreamPool

LIST_PATHS = frozenset({"/api/tags", "/api/ps"})
RESEND_MAX_BYTES = 1 << 20  # a non-inference body up to this is read, so it can be sent again


def is_resendable(request: web.Request, pool: UpstreamPool) -> bool:
    """A non-inference request of a pool whose body brb reads before sending (a small
    one of known length, not encoded), so that an upstream refusing it is not the end:
    the next healthy one gets it. Others (a model blob upload) stream through."""
    length = request.content_length
    return (
        len(pool.members) > 1
        and request.can_read_body
        and length is not None
        and length <= RESEND_MAX_BYTES
        and request.headers.get("Content-Encoding", "identity") == "identity"
    )


def is_pool_list(request: web.Request, pool: UpstreamPool) -> bool:
    """A list the pool answers as one: GET /api/tags or /api/ps with two upstreams or more."""
    return request.method == "GET" and request.path in LIST_PATHS and len(pool.members) > 1


async def _list(
    member: Member, path_qs: str, headers: CIMultiDictProxy[str], timeout_s: float
) -> dict[str, Any] | None:
    try:
        async with member.upstream.session.get(
            member.upstream.base_url + path_qs,
            headers=forward_headers(headers),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as r:
            if r.status != 200:
                return None
            data = await r.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("models"), list):
        return data
    return None


def union(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The answers' ``models`` merged, each model once (the first answer's entry wins);
    the first answer's other fields kept."""
    seen: set[str] = set()
    models: list[Any] = []
    for answer in answers:
        for entry in answer["models"]:
            name = entry.get("name") or entry.get("model") if isinstance(entry, dict) else None
            if not isinstance(name, str) or name in seen:
                continue
            seen.add(name)
            models.append(entry)
    return {**answers[0], "models": models}


async def pool_list(request: web.Request, pool: UpstreamPool) -> web.Response | None:
    """The pool's answer to ``request`` (a :func:`is_pool_list` one), or None when no
    healthy upstream gave a list (the caller passes it through to the first one)."""
    members = [m for m in pool.members if m.healthy] or pool.members
    found = await asyncio.gather(
        *(_list(m, request.path_qs, request.headers, pool.probe_timeout_s) for m in members)
    )
    answers = [a for a in found if a is not None]
    if not answers:
        return None
    return web.json_response(union(answers))


async def pool_passthrough(
    request: web.Request, pool: UpstreamPool
) -> tuple[web.Response | None, bytes | None]:
    """What the pool does with a non-inference request before the relay: its own answer
    (a list), or None and the body to send on (read when :func:`is_resendable`, else
    None: it streams through)."""
    if is_pool_list(request, pool):
        return await pool_list(request, pool), None
    if is_resendable(request, pool):
        return None, await request.read()
    return None, None
