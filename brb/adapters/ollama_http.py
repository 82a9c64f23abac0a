"""A lean HTTP/1.1 client for the requests whose body brb read: a keep-alive pool per Ollama.

Owns the connections to one Ollama base URL (at most ``max_connections`` open; a
request past that waits for one to be released, as aiohttp's connector does;
the most recently used idle one is reused first; one the server closed while
idle is dropped at once, one idle for ``keep_idle_s`` is closed by brb),
opening them within the connect timeout, and writing each request by hand:
the request line, ``Host``, the forwarded headers, ``Content-Length`` and the
body in one ``transport.write``. A request that
fails before any byte of its answer on a reused connection is sent once more
on a fresh one when its method is idempotent (RFC 9112 §9.3.1, as aiohttp
does); an inference POST never is. Reading answers is
:mod:`brb.adapters.ollama_connection`'s; the rules of the pass-through (which
headers go on, which errors mean the upstream is down) are
:mod:`brb.adapters.ollama_upstream`'s.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections import deque
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import aiohttp

from brb.adapters.ollama_connection import Answer, UpstreamClosed, UpstreamConnection
from brb.errors import BadRequest

_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
# How long a connection may sit idle in the pool before brb closes it (aiohttp's
# keepalive_timeout): after a burst, Ollama is not left holding a thousand idle sockets.
KEEP_IDLE_S = 15.0


class ConnectTimeout(aiohttp.ConnectionTimeoutError):
    """No connection to the upstream within the connect timeout."""


class OllamaConnections:
    """Keep-alive HTTP/1.1 connections to one base URL (``http`` or ``https``)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float,
        read_idle_s: float | None,
        max_connections: int,
        keep_idle_s: float = KEEP_IDLE_S,
    ) -> None:
        parts = urlsplit(base_url)
        self._tls = parts.scheme == "https"
        default_port = 443 if self._tls else 80
        self._host = parts.hostname or "localhost"
        self._port = parts.port or default_port
        shown = f"[{self._host}]" if ":" in self._host else self._host
        host = shown if self._port == default_port else f"{shown}:{self._port}"
        self._prefix = parts.path.rstrip("/")
        # credentials in the URL go as Basic auth (as aiohttp sends them), replacing any
        # Authorization of the client's: the upstream's gate is the URL's
        userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
        self._auth = ""
        if userinfo:
            user, _, password = userinfo.partition(":")
            token = f"{unquote(user)}:{unquote(password)}".encode("latin-1", "replace")
            self._auth = f"Authorization: Basic {base64.b64encode(token).decode()}\r\n"
        self._host_line = f"Host: {host}\r\n{self._auth}"
        self._lines = 3 + bool(self._auth)  # request line, Host, Content-Length (+ auth)
        self._connect_timeout_s = connect_timeout_s
        self._read_idle_s = read_idle_s
        self._limit = max_connections
        self._ssl: ssl.SSLContext | None = None
        self._idle: list[UpstreamConnection] = []
        self._open = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[UpstreamConnection | None]] = deque()
        self._closed = False
        self._keep_idle_s = keep_idle_s
        self._sweep: asyncio.TimerHandle | None = None  # armed while any is idle

    @property
    def open_connections(self) -> int:
        return self._open

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    @property
    def waiting(self) -> int:
        """Requests waiting for a connection (the limit reached)."""
        return sum(not w.done() for w in self._waiters)

    def serialise(
        self,
        method: str,
        path_qs: str,
        headers: Mapping[str, str],
        body: bytes,
        drop: frozenset[str] = frozenset(),
    ) -> bytes:
        """The whole request as it goes on the wire, minus the headers named (lower case)
        in ``drop``. A line break inside a header or the path (which aiohttp's server
        never lets through) is refused, not sent."""
        if self._auth:
            drop = drop | {"authorization"}
        fields = [f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() not in drop]
        head = (
            f"{method} {self._prefix}{path_qs} HTTP/1.1\r\n{self._host_line}{''.join(fields)}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        lines = self._lines + len(fields) + 1
        if head.count("\n") != lines or head.count("\r") != lines:
            raise BadRequest("a request header or path holds a line break; it is not forwarded")
        return head.encode("utf-8", "surrogateescape") + body

    async def request(
        self,
        method: str,
        path_qs: str,
        headers: Mapping[str, str],
        body: bytes,
        drop: frozenset[str] = frozenset(),
    ) -> Answer:
        """Send one request (``headers`` minus those in ``drop``); its answer once the
        head arrived, the body still unread.
        Raises :class:`UpstreamClosed` / :class:`UpstreamSilent` (the upstream closed, broke
        HTTP or said nothing), :class:`ConnectTimeout` or :class:`OSError`."""
        data = self.serialise(method, path_qs, headers, body, drop)
        retry = method in _IDEMPOTENT
        while True:
            connection = await self._acquire()
            answer = connection.send(data, head_only=method == "HEAD")
            try:
                await answer.head()
            except UpstreamClosed:
                connection.close()
                if retry and connection.requests > 1:  # a stale kept-alive one: once more
                    retry = False
                    continue
                raise
            except BaseException:  # cancelled (the client left), timed out: Ollama drops it
                connection.close()
                raise
            return answer

    async def close(self) -> None:
        """Close every connection (the daemon stops); one in use closes when released."""
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for connection in list(self._idle):
            connection.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()

    # -- the pool --------------------------------------------------------------------------

    async def _acquire(self) -> UpstreamConnection:
        while True:
            while self._idle:
                connection = self._idle.pop()
                transport = connection.transport
                if not connection.closed and transport is not None and not transport.is_closing():
                    return connection  # (one closing is let go when connection_lost comes)
            if self._open < self._limit:
                return await self._connect()
            waiter: asyncio.Future[UpstreamConnection | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except BaseException:
                if not waiter.done() or waiter.cancelled():
                    self._drop_waiter(waiter)
                else:  # woken, then cancelled before it ran: pass the turn on
                    turned = waiter.result()
                    if turned is not None:
                        self._on_idle(turned)
                    else:
                        self._wake()
                raise
            if handed is not None and not handed.closed:
                return handed

    def _drop_waiter(self, waiter: asyncio.Future[UpstreamConnection | None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    async def _connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        self._open += 1
        connection = UpstreamConnection(loop, self._read_idle_s, self._on_idle, self._on_close)
        try:
            if self._tls and self._ssl is None:
                self._ssl = ssl.create_default_context()
            async with asyncio.timeout(self._connect_timeout_s):
                await loop.create_connection(
                    lambda: connection, self._host, self._port, ssl=self._ssl if self._tls else None
                )
        except BaseException as exc:
            if connection.transport is not None:
                connection.close()  # made, then timed out or cancelled: on_close counts it
            else:
                self._open -= 1
                self._wake()
            if isinstance(exc, TimeoutError):
                where = f"{self._host}:{self._port}"
                raise ConnectTimeout(
                    f"no connection to {where} within {self._connect_timeout_s:g}s"
                ) from None
            raise
        return connection

    def _on_idle(self, connection: UpstreamConnection) -> None:
        """A connection free for the next request: to the longest waiter, else idle."""
        if self._closed:
            connection.close()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        connection.idle_since = connection.loop.time()
        self._idle.append(connection)
        if self._sweep is None:
            self._sweep = connection.loop.call_at(
                connection.idle_since + self._keep_idle_s, self._close_stale
            )

    def _close_stale(self) -> None:
        """Close what sat idle for ``keep_idle_s``: the oldest are first in the list (the
        newest is reused first); re-armed for the next one's turn while any is idle."""
        self._sweep = None
        if not self._idle:
            return
        loop = self._idle[0].loop
        cutoff = loop.time() - self._keep_idle_s
        while self._idle and self._idle[0].idle_since <= cutoff:
            self._idle.pop(0).close()
        if self._idle:
            self._sweep = loop.call_at(self._idle[0].idle_since + self._keep_idle_s,
                                       self._close_stale)  # fmt: skip

    def _on_close(self, connection: UpstreamConnection) -> None:
        self._open -= 1
        if connection in self._idle:
            self._idle.remove(connection)
        self._wake()

    def _wake(self) -> None:
        """Room for one more connection: the longest waiter may open it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
