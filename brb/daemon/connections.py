"""The front's client connections: a deadline for each request head, and word of a client leaving.

aiohttp's server reads a request's head (request line and headers) with no
deadline of its own: a client that opens a connection and sends nothing, or
trickles its headers a byte at a time (Slowloris), holds a connection and a
file descriptor for as long as ``keepalive_timeout`` (an hour). Owns
:class:`ClientConnection`, aiohttp's :class:`~aiohttp.web.RequestHandler` (one
per TCP connection) with that deadline: ``front.read_timeout_seconds`` from the
connection being opened, or from the first byte of a later request on a
kept-alive connection, until the head is parsed. Past it the client gets a 408
(when it had sent part of a head) and the connection is closed. An idle
kept-alive connection between requests is left to ``keepalive_timeout``; the
body has its own deadline (the front's read). A client that stops reading its
answer (its buffers full, brb's writes paused) for ``front.write_timeout_seconds``
is dropped, so its Ollama request does not hold a slot for as long as it waits.

And word of a client leaving: aiohttp only cancels a handler whose client left
when the whole server runs with ``handler_cancellation`` (every handler, the
cloud leg's money path and the admin's included). Instead
:func:`cancelled_if_client_leaves` marks the one stretch where that is wanted:
a request waiting for its answer to begin (in brb's waiting room, or for
Ollama's first byte while it prefills). If the client leaves then, the waiting
task is cancelled at once (so Ollama's request is dropped, or never sent, and
the room's seat and the queue count are freed) and :class:`~brb.errors.ClientGone`
is raised in its place. Must not route, log requests or know the legs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from contextlib import AbstractContextManager
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from brb.errors import ClientGone

log = logging.getLogger(__name__)

NOTICE_EVERY_S = 60.0  # at most one log line a minute about cut-off heads


class ClientConnection(RequestHandler):
    """One client connection: aiohttp's handler, with a deadline for each head.

    The deadline costs no timer per request: a head's first byte only notes the
    loop's time, and one timer per connection, armed for the head that began
    it, checks on firing whether that head is still the one being read; if a
    later head is, it re-arms for that head's own deadline (an idle connection
    between requests lets it lapse, and the next head arms it again)."""

    def __init__(self, manager: FrontServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._front = manager
        self._head_timer: asyncio.TimerHandle | None = None
        self._timer_began = 0.0  # when the head the pending timer is armed for began
        self._head_began: float | None = None  # when the head being read began (None: none)
        self._head_bytes = 0  # of the head being read (0: none begun)
        self._in_request = False  # a head was parsed and its answer is not finished
        self._body: Any = None  # the last request's body (a StreamReader), once it was read
        self._watches: list[ClientWatch] = []
        self._write_timer: asyncio.TimerHandle | None = None

    # --- the head's deadline ----------------------------------------------------------

    def _begin_head(self) -> None:
        """A head begins now: its deadline runs from here (armed unless a timer is pending)."""
        loop = self._loop
        began = self._head_began = loop.time()
        if self._head_timer is None:
            self._timer_began = began
            self._head_timer = loop.call_at(began + self._front.head_timeout_s, self._head_late)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._begin_head()  # a client that sends nothing at all is cut off too

    def data_received(self, data: bytes) -> None:
        # after an answer, bytes are the next head once the last body was read to its end
        # (aiohttp reads and drops what a handler left unread)
        if data and not self._in_request and (self._body is None or self._body.is_eof()):
            self._head_bytes += len(data)
            if self._head_began is None:  # the first byte of a kept-alive connection's next head
                self._begin_head()
        super().data_received(data)

    def head_arrived(self, body: Any) -> None:
        """aiohttp parsed a head and makes its request (``body``: its payload
        stream): the deadline is met (the timer, if pending, lapses or re-arms)."""
        self._head_began = None
        self._head_bytes = 0
        self._in_request = True
        self._body = body

    async def finish_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().finish_response(*args, **kwargs)
        finally:
            self._in_request = False  # bytes from now on begin the next head

    def _head_late(self) -> None:
        self._head_timer = None
        transport = self.transport
        began = self._head_began
        if self._in_request or transport is None or began is None:
            return  # no head is being read: the next one's first byte arms anew
        if began != self._timer_began:  # armed for an earlier head: this one's deadline
            self._timer_began = began
            self._head_timer = self._loop.call_at(
                began + self._front.head_timeout_s, self._head_late
            )
            return
        if self._head_bytes:  # it began a request: say why it ends
            timeout = self._front.head_timeout_s
            body = json.dumps(
                {
                    "error": f"the request headers did not arrive within {timeout:g}s "
                    "(front.read_timeout_seconds)"
                }
            ).encode()
            transport.write(
                b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8"
                b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
        self._front.cut_off(began=self._head_bytes > 0)
        self.force_close()  # the written 408 is flushed before the socket closes

    # --- a client that stops reading ---------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:  # the client's buffers are full: it must read on
            loop = asyncio.get_running_loop()
            self._write_timer = loop.call_later(self._front.write_timeout_s, self._not_reading)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _not_reading(self) -> None:
        """The client read nothing of its answer for ``front.write_timeout_seconds``:
        drop it, so the answer's writer sees it gone (and Ollama's request is dropped)."""
        self._write_timer = None
        if self.transport is not None:
            self._front.not_reading()
            self.transport.abort()

    # --- a client leaving -------------------------------------------------------------

    @property
    def is_gone(self) -> bool:
        return self.transport is None

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._head_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._write_timer = None
        super().connection_lost(exc)
        watching, self._watches = self._watches, []
        for watch in watching:
            watch.leave()

    def watch(self, watch: ClientWatch) -> None:
        """Call ``watch.leave()`` when the client leaves (once), until unwatched."""
        self._watches.append(watch)

    def unwatch(self, watch: ClientWatch) -> None:
        if watch in self._watches:  # not when the client left (the list was emptied)
            self._watches.remove(watch)


class ClientWatch:
    """The block of :func:`cancelled_if_client_leaves` on a brb connection: while it
    runs, the client leaving cancels its task, and the cancellation becomes
    :class:`ClientGone` as it leaves the block."""

    __slots__ = ("_connection", "_left", "_request", "_task")

    def __init__(self, connection: ClientConnection, request: web.BaseRequest) -> None:
        self._connection = connection
        self._request = request
        self._task: asyncio.Task[Any] | None = None
        self._left = False

    def __enter__(self) -> None:
        connection = self._connection
        if connection.is_gone:
            raise self._gone()
        self._task = asyncio.current_task()
        assert self._task is not None
        connection.watch(self)

    def leave(self) -> None:
        """The client left (the connection calls this once)."""
        self._left = True
        assert self._task is not None
        self._task.cancel()

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        self._connection.unwatch(self)
        if (
            self._left
            and kind is not None
            and issubclass(kind, asyncio.CancelledError)
            and self._task is not None
            and self._task.uncancel() == 0
        ):
            raise self._gone() from None

    def _gone(self) -> ClientGone:
        return ClientGone(f"the client left {self._request.path} before its answer began")


def cancelled_if_client_leaves(request: web.BaseRequest) -> AbstractContextManager[None]:
    """Within this block, the client leaving cancels the current task at once and
    :class:`ClientGone` is raised in place of the cancellation. Other cancellations
    (a shutdown) go on as they are. Does nothing on a server that is not brb's."""
    connection = request.protocol
    if not isinstance(connection, ClientConnection):
        return contextlib.nullcontext()
    return ClientWatch(connection, request)


class FrontServer(web.Server):
    """aiohttp's low-level server, making :class:`ClientConnection` protocols."""

    def __init__(
        self,
        handler: Any,
        *,
        head_timeout_s: float,
        write_timeout_s: float,
        request_factory: Any,
        handler_kwargs: dict[str, Any],
    ) -> None:
        super().__init__(handler, request_factory=request_factory, **handler_kwargs)
        self.head_timeout_s = head_timeout_s
        self.write_timeout_s = write_timeout_s
        self.handler_kwargs = handler_kwargs
        self.cut = 0  # connections cut off for a late head
        self._noticed_at: float | None = None
        self._unnoticed = 0

        def make_request(message: Any, payload: Any, protocol: Any, *args: Any) -> Any:
            if isinstance(protocol, ClientConnection):
                protocol.head_arrived(payload)
            return request_factory(message, payload, protocol, *args)

        self.request_factory = make_request

    def __call__(self) -> RequestHandler:
        return ClientConnection(self, loop=asyncio.get_running_loop(), **self.handler_kwargs)

    def cut_off(self, *, began: bool) -> None:
        """Say (at most once a minute, with a count) that heads are cut off."""
        self.cut += 1
        self._unnoticed += 1
        now = asyncio.get_running_loop().time()
        if self._noticed_at is not None and now - self._noticed_at < NOTICE_EVERY_S:
            return
        log.info(
            "closed %d client connection(s) whose request headers did not arrive within "
            "%gs (front.read_timeout_seconds)%s",
            self._unnoticed,
            self.head_timeout_s,
            "" if began else ": nothing sent",
        )
        self._noticed_at, self._unnoticed = now, 0

    def not_reading(self) -> None:
        log.info(
            "dropped a client that read nothing of its answer for %gs "
            "(front.write_timeout_seconds)",
            self.write_timeout_s,
        )


class FrontRunner(web.AppRunner):
    """aiohttp's app runner, serving through a :class:`FrontServer`."""

    def __init__(
        self,
        app: web.Application,
        *,
        head_timeout_s: float,
        write_timeout_s: float,
        shutdown_timeout: float,
        **handler_kwargs: Any,
    ) -> None:
        super().__init__(
            app, handle_signals=False, shutdown_timeout=shutdown_timeout, **handler_kwargs
        )
        self.head_timeout_s = head_timeout_s
        self.write_timeout_s = write_timeout_s
        # what aiohttp passes each connection (access log, body decoding)
        self.handler_kwargs = handler_kwargs

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # starts the app; its handler and request factory
        return FrontServer(
            made.request_handler,
            head_timeout_s=self.head_timeout_s,
            write_timeout_s=self.write_timeout_s,
            request_factory=made.request_factory,
            handler_kwargs=self.handler_kwargs,
        )
