"""The local leg: pass a request through to Ollama, bytes as they arrive.

Owns the transparent pass-through (method, path, query, body, status and
headers minus hop-by-hop; streamed both ways, except that an inference
answer of known length up to 1 MiB -- a non-streamed one -- is read whole
and sent in a single write) and the queue monitor's view of each inference
request: arrival, first byte (the
upstream's response headers: Ollama sends them with its first chunk, and a
non-streamed answer's only chunk), completion, and the service time Ollama
itself reports in its final object (read by :mod:`brb.daemon.final_facts`).
After each of those the breaker is stepped with what the monitor sees
(:meth:`LiveState.observe`).

A pool's upstream that fails before any byte reached the client (it refused
the connection, timed out, or dropped a non-streamed answer brb was reading
whole) is judged (marked down; a dropped one is probed at once) and the
request is tried on another healthy upstream, or handed back to the front to
wait again when it had a seat in a room.

A failed write to the client (it left) is told apart from a failed read from
Ollama: the first drops the upstream connection, so Ollama cancels the
generation, and ends with outcome ``client_gone``; the second ends an NDJSON
stream with an error line and outcome ``error_midstream``. Either is one log
line, never a traceback, and the request keeps its log row.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

from aiohttp import web
from multidict import CIMultiDict

from brb.adapters.ollama_upstream import (
    ANSWER_ERRORS,
    UpstreamAnswer,
    response_headers,
)
from brb.core.breaker import Observation
from brb.daemon.connections import cancelled_if_client_leaves
from brb.daemon.final_facts import NO_FACTS, FinalFacts, final_facts
from brb.daemon.leg import LOCAL_BACKEND, Leg, LegResult
from brb.daemon.live_state import LiveState
from brb.daemon.pool import Member, UpstreamPool
from brb.daemon.pool_room import PoolRoom
from brb.daemon.queue_monitor import QueueMonitor
from brb.errors import ClientGone, UpstreamRefused, UpstreamUnavailable

log = logging.getLogger(__name__)

_TAIL_BYTES = 2048
CLIENT_GONE = "client_gone"  # request-log outcomes of an answer cut short
ERROR_MIDSTREAM = "error_midstream"
# An inference answer of known length up to this (a non-streamed one) is read
# whole and sent in one write.
_WHOLE_MAX = 1 << 20


def _client_gone(request: web.Request) -> None:
    """One line, no traceback: the client left before its answer was written."""
    log.info("client left %s before the end of its answer; its Ollama request is cancelled",
             request.path)  # fmt: skip


class LocalLeg:
    def __init__(
        self,
        pool: UpstreamPool,
        monitor: QueueMonitor,
        live: LiveState,
        room: PoolRoom | None = None,
    ) -> None:
        self.pool = pool
        self.monitor = monitor
        self.live = live
        self.room = room  # None: every request goes to Ollama at once

    def observation(self, now: float) -> Observation:
        """The breaker's input: the waiting room's when there is one, else the monitor's."""
        if self.room is not None:
            return self.room.observation(now)
        return self.monitor.observation(now)

    def _step(self) -> None:
        """Step the breaker with what the local side sees now (after abandon / done)."""
        self.live.observe(self.observation(time.monotonic()))

    async def _whole(
        self, request: web.Request, up: UpstreamAnswer, headers: CIMultiDict[str]
    ) -> tuple[web.StreamResponse, bytes, str | None]:
        """A non-streamed answer (its length known): read whole, then status,
        headers and body go out in one write instead of three; CLIENT_GONE: the client left."""
        try:
            data = await up.read()
        except ANSWER_ERRORS as exc:
            log.warning("upstream closed %s mid-answer: %s", request.path, exc)
            raise UpstreamUnavailable(
                f"the Ollama upstream closed the connection mid-answer ({exc})"
            ) from None
        response = web.Response(status=up.status, reason=up.reason, headers=headers, body=data)
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionResetError:  # aiohttp's ClientConnectionResetError is one
            _client_gone(request)
            return response, data[-_TAIL_BYTES:], CLIENT_GONE
        return response, data[-_TAIL_BYTES:], None

    async def _stream(
        self,
        request: web.Request,
        up: UpstreamAnswer,
        headers: CIMultiDict[str],
        *,
        keep_tail: bool,
        model: str | None = None,
        key: int | None = None,
    ) -> tuple[web.StreamResponse, bytes, str | None]:
        """Bytes as they arrive; the answer's last bytes kept when asked (its final
        object); with a waiting-room ``key``, the room hears how far it has got.
        The outcome when it ended early: CLIENT_GONE (a failed write to the client)
        or ERROR_MIDSTREAM (a failed or timed-out read from Ollama)."""
        response = web.StreamResponse(status=up.status, reason=up.reason, headers=headers)
        if up.content_length is not None:
            response.content_length = up.content_length
        tail = last = b""
        ended: str | None = None
        room = self.room if key is not None else None
        lines = 0  # a streamed answer's lines (NDJSON) or events (SSE): about its tokens
        sep = b"\n\n" if "event-stream" in up.headers.get("Content-Type", "") else b"\n"
        try:  # writes to the client: ConnectionResetError (aiohttp's is one) means it left
            await response.prepare(request)
            try:
                async for chunk in up.chunks():
                    await response.write(chunk)
                    last = chunk[-1:] or last
                    if keep_tail:
                        tail = (tail + chunk)[-_TAIL_BYTES:]
                    if room is not None and key is not None:
                        lines += chunk.count(sep)
                        room.progress(model or "", key, lines)
            except ConnectionResetError:
                raise  # the client's side, not Ollama's
            except ANSWER_ERRORS as exc:
                # Ollama went away (or fell silent) mid-answer; end an NDJSON stream the
                # way Ollama ends a failed one, so clients see an error, not a truncation.
                log.warning(
                    "upstream closed %s mid-answer: %s",
                    request.path,
                    exc or "no data within upstream_timeout.read_idle_seconds",
                )
                ended = ERROR_MIDSTREAM
                await response.write(_midstream_error(up.headers.get("Content-Type", ""), last))
            await response.write_eof()
        except ConnectionResetError:
            _client_gone(request)
            return response, tail, CLIENT_GONE
        return response, tail, ended

    def gone(self, gone: ClientGone, model: str, reason: str, latency_s: float) -> LegResult:
        """The result of a request whose client left before its answer began (in brb's
        waiting room, or while Ollama prefilled): nothing was sent it; its row is kept."""
        log.info("%s; its Ollama request is cancelled", gone)
        response = web.json_response({"error": str(gone)}, status=gone.http_status)
        return LegResult(
            response, Leg.LOCAL, LOCAL_BACKEND, "", model, gone.http_status, reason, latency_s,
            outcome=CLIENT_GONE,
        )  # fmt: skip

    def _other(
        self,
        failed: Member,
        tried: set[str],
        model: str | None,
        room_key: int | None,
        resendable: bool,
    ) -> Member | None:
        """Where a request goes after ``failed`` refused it: another healthy upstream,
        when the request can be sent again (its body was read, and it was not given a
        seat in ``failed``'s room: the front gives that one a new seat); else None."""
        if room_key is not None or not resendable:
            return None
        left = [m for m in self.pool.healthy if m.name not in tried and m.healthy]
        if not left:
            return None
        if model is None:
            return left[0]
        return min(left, key=lambda m: (m.in_flight / m.spec.parallel, m.cold_s(model) > 0))

    async def relay(
        self,
        request: web.Request,
        body: bytes | None,
        *,
        model: str | None,
        reason: str = "",
        extra_headers: Mapping[str, str] | None = None,
        ticket: int | None = None,
        room_key: int | None = None,
    ) -> LegResult:
        """Forward one request; ``model`` set means an inference request: counted in
        the queue and answered with brb's headers (``reason``: why it stayed local;
        ``extra_headers``: more of them, e.g. the cost estimate). ``ticket``: the
        monitor's, taken at arrival when the request waited in brb's room first;
        ``room_key``: its slot in the room, freed when it ends, and the upstream
        whose room it is; without one an inference request goes to the healthy
        upstream with the most free slots, anything else to the first healthy one.
        An upstream that can't be reached is marked down (one that dropped a whole
        answer is probed at once: marked down if it does not answer); a request that
        was not waiting in a room is tried on the next healthy upstream (nothing was
        relayed), one that was raises :class:`UpstreamRefused` (the front seats it
        again)."""
        t0 = time.monotonic()
        # The arrival itself was observed by the routing decision; completion is stepped below.
        if ticket is None and model is not None:
            ticket = self.monitor.arrive(model, t0)
        if room_key is not None and self.room is not None:
            member = self.room.member_of(room_key)
        else:
            member = self.pool.least_busy(model) if model is not None else self.pool.first()
        tried: set[str] = set()
        resendable = body is not None or not request.can_read_body
        while True:
            tried.add(member.name)
            try:
                return await self._attempt(
                    request, body, member, model, reason, extra_headers, ticket, room_key, t0
                )
            except _NotRelayed as failure:
                try:
                    if failure.dropped:  # it answered, then went: is it still there?
                        await self.pool.probe(member, self.pool.probe_timeout_s)
                    else:
                        self.pool.mark(member, False)
                except BaseException:
                    self._abandon(model, ticket, room_key)
                    raise
                other = self._other(member, tried, model, room_key, resendable)
                if other is None:
                    self._abandon(model, ticket, room_key)
                    raise UpstreamRefused(failure.message) from None
                member = other
                if ticket is not None and model is not None:  # a fresh wait on the next one
                    self.monitor.abandon(ticket, model)
                    ticket = self.monitor.arrive(model, t0)

    def _abandon(self, model: str | None, ticket: int | None, room_key: int | None) -> None:
        """A request that reached no upstream: its seat and its ticket are given up."""
        if room_key is not None and self.room is not None:
            self.room.done(model or "", room_key, None)
        if ticket is not None:
            self.monitor.abandon(ticket, model or "")
            self._step()

    async def _attempt(
        self,
        request: web.Request,
        body: bytes | None,
        member: Member,
        model: str | None,
        reason: str,
        extra_headers: Mapping[str, str] | None,
        ticket: int | None,
        room_key: int | None,
        t0: float,
    ) -> LegResult:
        """One try on ``member`` (``t0``: when the request reached the relay);
        :class:`_NotRelayed` when it failed before any byte reached the client (its
        seat and ticket are the caller's then)."""
        clock = time.monotonic
        try:
            # until Ollama's first byte (it queues and prefills first), a client that
            # leaves cancels this at once: Ollama drops the request
            with cancelled_if_client_leaves(request):
                up = await member.upstream.open(
                    request.method,
                    request.path_qs,
                    request.headers,  # the upstream drops the hop-by-hop ones
                    body
                    if body is not None
                    else (request.content if request.can_read_body else None),
                )
        except UpstreamUnavailable as exc:
            raise _NotRelayed(str(exc), dropped=False) from None
        except BaseException:
            self._abandon(model, ticket, room_key)
            raise
        member.in_flight += 1
        wait_s: float | None = None
        facts: FinalFacts = NO_FACTS  # the final object's, once read
        relayed = True  # False: it failed before any byte reached the client
        try:
            if ticket is not None:
                wait_s = self.monitor.first_byte(ticket, model or "", clock())
            headers = response_headers(up.headers)
            if model is not None:
                headers.update(
                    {
                        **(extra_headers or {}),
                        "X-BRB-Provider": LOCAL_BACKEND,
                        "X-BRB-Model": model,
                        "X-BRB-Route": reason,
                        "X-BRB-Upstream": member.name,
                    }
                )
            length = up.content_length
            if ticket is not None and length is not None and length <= _WHOLE_MAX:
                try:
                    response, tail, ended = await self._whole(request, up, headers)
                except UpstreamUnavailable as exc:
                    relayed = False
                    raise _NotRelayed(str(exc), dropped=True) from None
            else:
                response, tail, ended = await self._stream(
                    request, up, headers, keep_tail=ticket is not None, model=model, key=room_key
                )
            if ended == CLIENT_GONE:
                up.close()  # drop the connection: Ollama cancels the abandoned generation
            if ticket is not None:
                facts = final_facts(tail)
            return LegResult(
                response,
                Leg.LOCAL,
                LOCAL_BACKEND,
                member.name,
                model or "",
                up.status,
                reason,
                clock() - t0,
                facts.usage,
                wait_s,
                facts.service_s,
                ended or ("ok" if up.status < 400 else "error"),
            )
        finally:
            member.in_flight -= 1
            up.release()
            if relayed:
                if room_key is not None and self.room is not None:
                    self.room.done(model or "", room_key, facts.figures(clock() - t0))
                if ticket is not None:
                    self.monitor.done(ticket, model or "", clock(), service_s=facts.service_s)
                    self._step()


class _NotRelayed(Exception):
    """An upstream failed before any byte of its answer reached the client: it refused
    or timed out (``dropped`` false), or dropped a whole answer while brb read it."""

    def __init__(self, message: str, *, dropped: bool) -> None:
        super().__init__(message)
        self.message = message
        self.dropped = dropped


MIDSTREAM_MESSAGE = "the Ollama upstream closed the stream"


def _midstream_error(content_type: str, last: bytes) -> bytes:
    """How a stream Ollama dropped ends, so the client sees an error, not a truncation:
    Ollama's own error line for NDJSON, an OpenAI error event for SSE (the OpenAI SDK
    raises on a ``data`` whose object carries ``error``); a line or event cut in half
    is ended first. Another content type gets nothing (its framing is unknown)."""
    if "ndjson" in content_type:
        head = b"" if last in (b"", b"\n") else b"\n"
        return head + json.dumps({"error": MIDSTREAM_MESSAGE}).encode() + b"\n"
    if "event-stream" in content_type:
        head = b"\n\n" if last else b""  # a blank line too many is no event
        error = {"error": {"message": MIDSTREAM_MESSAGE, "type": "api_error", "param": None,
                           "code": None}}  # fmt: skip
        return head + b"data: " + json.dumps(error).encode() + b"\n\n"
    return b""
