"""One keep-alive HTTP/1.1 connection to an Ollama server, and the answer read on it.

Owns reading an answer off the wire: parsing it with httptools (llhttp, the
parser Node and aiohttp use), its status, headers and body as they arrive
(Content-Length, chunked, or ended by the close), flow control (reading from
Ollama pauses while more than :data:`READ_AHEAD` bytes wait unread), the
idle-read timeout (the wait for the head and each silence mid-answer: one timer
per connection, checked against the time of the last read when it fires), and
whether the connection may carry another request once the answer is released.
Opening connections, writing requests and the pool are
:mod:`brb.adapters.ollama_http`'s.

A failure mid-answer is raised as a subclass of aiohttp's own client errors
(:class:`UpstreamClosed`, :class:`UpstreamSilent`), so code that reads an aiohttp
response and one of these handles both alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import aiohttp
import httptools
from multidict import CIMultiDict, CIMultiDictProxy

# Unread bytes of one answer past which reading from Ollama pauses (a slow client
# must not make brb hold a whole answer).
READ_AHEAD = 64 * 1024
_NO_BODY_STATUSES = frozenset((204, 304))


class UpstreamClosed(aiohttp.ClientPayloadError):
    """The upstream closed the connection, or broke HTTP, before its answer's end."""


class UpstreamSilent(aiohttp.ServerTimeoutError):
    """The upstream sent nothing for the idle-read timeout (before its head, or mid-answer)."""


class Answer:
    """One response from Ollama: ``status``, ``reason``, ``headers`` and
    ``content_length`` once its head arrived; its body read whole (:meth:`read`)
    or chunk by chunk as it arrives (``async for``); :meth:`close` drops the
    connection (Ollama cancels the generation), :meth:`release` gives it back to
    the pool when the answer was read to its end and both sides keep it alive."""

    __slots__ = (
        "status", "reason", "headers", "content_length", "done", "has_head", "until_close",
        "_raw", "_chunks", "_size", "_waiter", "_error", "_connection", "_released",
    )  # fmt: skip

    def __init__(self, connection: UpstreamConnection) -> None:
        self.status = 0
        self.reason = ""
        self.headers: CIMultiDictProxy[str] = _EMPTY
        self.content_length: int | None = None
        self.done = False  # the whole body arrived
        self.has_head = False
        self.until_close = False  # a body that ends when the upstream closes
        self._raw: list[tuple[str, str]] = []
        self._chunks: list[bytes] = []
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._connection = connection
        self._released = False

    # -- the reading side (the relay) ------------------------------------------------------

    async def head(self) -> None:
        """Wait for the status line and headers (raises what cut the answer short)."""
        while not self.has_head:
            await self._wait()

    async def read(self) -> bytes:
        """The whole body (raises :class:`UpstreamClosed` / :class:`UpstreamSilent` when it
        ends early)."""
        parts: list[bytes] = []
        while True:
            if self._chunks:
                parts += self._chunks
                self._take()
            if self.done:
                return parts[0] if len(parts) == 1 else b"".join(parts)
            await self._wait()

    def chunks(self) -> Answer:
        """The body as it arrives: every ``async for`` step gives all that waits unread."""
        return self

    def __aiter__(self) -> Answer:
        return self

    async def __anext__(self) -> bytes:
        while True:
            chunks = self._chunks
            if chunks:
                self._take()
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if self.done:
                raise StopAsyncIteration
            await self._wait()

    def close(self) -> None:
        """Drop the connection (Ollama cancels a generation still running)."""
        self._connection.close()

    def release(self) -> None:
        """Done with this answer: its connection goes back to the pool if it may."""
        if not self._released:
            self._released = True
            self._connection.answered(self)

    def _take(self) -> None:
        self._chunks = []
        self._size = 0
        self._connection.drained()

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self._connection.loop.create_future()
        await waiter

    # -- the writing side (the connection) --------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def feed(self, chunk: bytes) -> bool:
        """A piece of the body arrived; True when more than :data:`READ_AHEAD` waits unread."""
        self._chunks.append(chunk)
        self._size += len(chunk)
        self._wake()
        return self._size > READ_AHEAD

    def finish(self) -> None:
        self.done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        if not self.done and self._error is None:
            self._error = error
            self._wake()


_EMPTY: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


class UpstreamConnection(asyncio.Protocol):
    """One TCP (or TLS) connection to Ollama; it reads the answer to the request sent
    last. ``on_idle`` hears of it when it may serve another request, ``on_close``
    once when it closes (either side)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        idle_s: float | None,
        on_idle: Callable[[UpstreamConnection], None],
        on_close: Callable[[UpstreamConnection], None],
    ) -> None:
        self.loop = loop
        self.idle_s = idle_s
        self.transport: asyncio.Transport | None = None
        self.answer: Answer | None = None
        self.closed = False
        self.requests = 0  # requests sent on it (more than one: it was reused)
        self.idle_since = 0.0  # the loop's time it last went back to the pool
        self._on_idle = on_idle
        self._on_close = on_close
        self._parser = httptools.HttpResponseParser(self)
        self._keep_alive = False
        self._head_only = False  # the answer to a HEAD: no body follows its headers
        self._interim = False  # a 1xx answer (100 Continue): skipped
        self._paused = False
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- used by the pool ---------------------------------------------------------------

    def send(self, request: bytes, *, head_only: bool = False) -> Answer:
        """Write one request (serialised whole); the answer to come."""
        assert self.transport is not None and self.answer is None
        answer = self.answer = Answer(self)
        self.requests += 1
        self._keep_alive = False
        self._head_only = head_only
        self.transport.write(request)
        if self.idle_s is not None:
            self._last_read = self.loop.time()
            if self._timer is None:  # else the last answer's, still armed, serves this one
                self._timer = self.loop.call_at(self._last_read + self.idle_s, self._on_timer)
        return answer

    def close(self) -> None:
        """Close it now (an answer still being read fails)."""
        if self.transport is not None:
            self.transport.close()
        self._gone(UpstreamClosed("the connection to the upstream was closed by brb"))

    def answered(self, answer: Answer) -> None:
        """``answer`` was released: back to the pool if it ended cleanly and both
        sides keep the connection alive, else closed."""
        if answer is not self.answer:
            return
        if answer.done and self._keep_alive and not self.closed:
            self.answer = None
            if self._paused and self.transport is not None:  # what it held was dropped
                self._paused = False
                self.transport.resume_reading()
            self._on_idle(self)
        else:
            self.close()

    def drained(self) -> None:
        """The reader took what was buffered: reading from Ollama goes on."""
        if self._paused and not self.closed and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
            if self.idle_s is not None and self.answer is not None and not self.answer.done:
                self._last_read = self.loop.time()  # silence while paused is brb's
                if self._timer is None:
                    self._timer = self.loop.call_at(self._last_read + self.idle_s, self._on_timer)

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one, unregistered

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None or answer.done:  # nothing was asked: not HTTP as agreed
            self.close()
            return
        if self.idle_s is not None:
            self._last_read = self.loop.time()
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            answer.fail(UpstreamClosed(f"the upstream sent malformed HTTP ({exc})"))
            self.close()

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        answer = self.answer
        if exc is None and answer is not None and answer.until_close and answer.has_head:
            answer.finish()  # a body delimited by the close: this is its end (not a reset)
        self._gone(UpstreamClosed(f"the upstream closed the connection ({exc or 'end of stream'})"))

    def _gone(self, error: UpstreamClosed) -> None:
        if self.closed:
            return
        self.closed = True
        self._keep_alive = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.answer is not None:
            self.answer.fail(error)
        self._on_close(self)

    def _on_timer(self) -> None:
        """The one idle-read timer: armed at a send when none is, it fires at most once
        per ``idle_s`` and is re-armed for the last read's deadline while an answer is
        awaited; an answer that ends leaves it be (the next request on this connection
        uses it: no timer made and cancelled per request)."""
        self._timer = None
        answer = self.answer
        if answer is None or answer.done or self._paused or self.idle_s is None:
            return  # nothing awaited, or brb's reader is the slow one (re-armed when it drains)
        due = self._last_read + self.idle_s
        if self.loop.time() < due:
            self._timer = self.loop.call_at(due, self._on_timer)
            return
        answer.fail(UpstreamSilent(f"the upstream sent nothing for {self.idle_s:g}s"))
        self.close()

    # -- httptools' callbacks -------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        assert self.answer is not None
        self.answer.reason = reason.decode("utf-8", "surrogateescape")

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.answer is not None  # decoded as aiohttp's parser does: bytes round-trip
        self.answer._raw.append(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        )

    def on_headers_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        if answer.done:  # a second answer to one request: not HTTP as agreed
            raise httptools.HttpParserError("an answer nobody asked for")
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # 100 Continue and its kind: not the answer
            self._interim = True
            answer._raw.clear()
            answer.reason = ""
            return
        headers = CIMultiDictProxy(CIMultiDict(answer._raw))
        answer._raw = []
        length = headers.get("Content-Length")
        answer.status = status
        answer.headers = headers
        answer.content_length = int(length) if length is not None else None
        answer.until_close = (
            length is None
            and "chunked" not in headers.get("Transfer-Encoding", "").lower()
            and status not in _NO_BODY_STATUSES
        )
        answer.has_head = True
        if self._head_only:  # llhttp can't be told: the body it expects never comes
            self._keep_alive = False
            answer.finish()  # (the idle timer stays armed: see _on_timer)
        else:
            answer._wake()

    def on_body(self, body: bytes) -> None:
        answer = self.answer
        assert answer is not None
        if answer.feed(body) and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        answer = self.answer
        assert answer is not None
        self._keep_alive = self._parser.should_keep_alive()
        answer.finish()
