"""The local Ollama server(s), as an HTTP upstream.

Owns the clients to Ollama and the rules of a transparent pass-through: which
headers are hop-by-hop (RFC 9110 §7.6.1) and never forwarded, no automatic
decompression (bytes pass unchanged), no total timeout (a generation may
legitimately take minutes) but a short connect timeout and an idle-read one
(the longest silence mid-answer), and connection failures translated to
:class:`~brb.errors.UpstreamUnavailable` naming the upstream. A request whose
body brb read (the inference POSTs) goes by brb's own lean HTTP/1.1 client
(:mod:`brb.adapters.ollama_http`); one whose body streams through, the
version check, the pool's probes and lists go by the aiohttp session. Either
answer is read through :class:`UpstreamAnswer`; what cuts one short mid-answer
is one of :data:`ANSWER_ERRORS`.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy, istr

from brb.adapters.ollama_connection import UpstreamSilent
from brb.adapters.ollama_http import OllamaConnections
from brb.core.redaction import redact_in
from brb.errors import UpstreamUnavailable

# What a read of an answer raises when Ollama closed, broke HTTP or fell silent mid-answer
# (brb's client raises subclasses of these too).
ANSWER_ERRORS = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
        "Proxy-Connection",
    )
)
# Never forwarded upstream either: the upstream's own Host is set by the client.
_REQUEST_DROP = HOP_BY_HOP | {"host"}


@functools.cache
def _drop_names(drop: frozenset[str]) -> tuple[istr, ...]:
    """``drop``'s names as multidict keys (folded once, not at each look-up)."""
    return tuple(istr(name) for name in sorted(drop))


def forward_headers(
    headers: Mapping[str, str] | CIMultiDictProxy[str], drop: frozenset[str] = _REQUEST_DROP
) -> CIMultiDict[str]:
    """Copy headers minus the hop-by-hop ones (and those named in Connection)."""
    if "Connection" not in headers:  # the common case: no token parsing
        if isinstance(headers, CIMultiDict | CIMultiDictProxy):
            kept = headers.copy()  # a copy in C, then the few to drop taken out
            for name in _drop_names(drop):
                if name in kept:
                    kept.popall(name)
            return kept
        return CIMultiDict([(k, v) for k, v in headers.items() if k.lower() not in drop])
    named = {
        t.strip().lower()
        for v in (
            headers.getall("Connection", [])
            if isinstance(headers, CIMultiDictProxy)
            else [headers.get("Connection", "")]
        )
        for t in v.split(",")
        if t.strip()
    }
    out: CIMultiDict[str] = CIMultiDict()
    for k, v in headers.items():
        lk = k.lower()
        if lk in drop or lk in named:
            continue
        out.add(k, v)
    return out


# A body brb read and decoded goes on as plain bytes: its encoding and length are new.
DECODED_BODY_DROP = _REQUEST_DROP | {"content-length", "content-encoding"}


# Never sent on from an answer: length and encoding are the server's business
# (aiohttp sets them for what it actually writes).
_RESPONSE_DROP = HOP_BY_HOP | {"content-length"}


def response_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """Upstream response headers to send on (minus hop-by-hop ones and the length)."""
    return forward_headers(headers, _RESPONSE_DROP)


# Never added to a forwarded request (it goes on with the client's headers only).
_NO_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Content-Type", "Accept")


class _PassThroughRequest(aiohttp.ClientRequest):
    """aiohttp's request, minus its per-request rebuild of the skipped auto-headers
    (a sort, two header copies): the set is always :data:`_NO_AUTO_HEADERS`, so the
    headers aiohttp would add (Accept, Accept-Encoding, User-Agent) never are, and a
    body's Content-Type is the client's alone, as with ``skip_auto_headers``."""

    _SKIP: CIMultiDict[None] = CIMultiDict((h, None) for h in sorted(_NO_AUTO_HEADERS))

    def update_auto_headers(self, skip_auto_headers: Iterable[str] | None) -> None:
        self._skip_auto_headers = self._SKIP


class UpstreamAnswer(Protocol):
    """An answer from Ollama, its head read, its body not yet."""

    @property
    def status(self) -> int: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    @property
    def content_length(self) -> int | None: ...

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...

    def release(self) -> None: ...


class _SessionAnswer:
    """The aiohttp session's response, read as an :class:`UpstreamAnswer`."""

    __slots__ = ("_response", "status", "reason", "headers", "content_length")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.reason = response.reason
        self.headers = response.headers
        self.content_length = response.content_length

    async def read(self) -> bytes:
        return await self._response.read()

    def chunks(self) -> AsyncIterator[bytes]:
        return self._response.content.iter_any()

    def close(self) -> None:
        self._response.close()

    def release(self) -> None:
        self._response.release()


class OllamaUpstream:
    """One Ollama base URL behind a keep-alive connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float = 5.0,
        read_idle_s: float | None = 300.0,
        max_connections: int = 1024,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # sock_connect bounds opening a connection; not `connect`, which would arm
        # a timer on every request, even one reusing a pooled connection.
        # sock_read bounds each silence from Ollama (the wait for the first byte too).
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_idle_s
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self.connections = OllamaConnections(
            self.base_url,
            connect_timeout_s=connect_timeout_s,
            read_idle_s=read_idle_s,
            max_connections=max_connections,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                auto_decompress=False,
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections, enable_cleanup_closed=True
                ),
                skip_auto_headers=_NO_AUTO_HEADERS,
                request_class=_PassThroughRequest,
                # a proxy keeps no cookies: a Set-Cookie from Ollama is the client's
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def open(
        self,
        method: str,
        path_qs: str,
        headers: CIMultiDictProxy[str] | Mapping[str, str],
        body: bytes | AsyncIterable[bytes] | Any | None,
    ) -> UpstreamAnswer:
        """Send the request with the client's ``headers`` minus the hop-by-hop ones;
        return the answer with its body still unread. A body brb read (bytes) goes by
        brb's own client, any other by the aiohttp session."""
        try:
            if isinstance(body, bytes):
                # brb read and decoded it: its length goes on anew, its encoding not at all
                if "Connection" in headers:  # rare: the names it lists are dropped too
                    headers = forward_headers(headers, DECODED_BODY_DROP)
                return await self.connections.request(
                    method, path_qs, headers, body, DECODED_BODY_DROP
                )
            return _SessionAnswer(
                await self.session.request(
                    method,
                    self.base_url + path_qs,
                    headers=forward_headers(headers),
                    data=body,
                    allow_redirects=False,
                )
            )
        except (*ANSWER_ERRORS, TimeoutError, OSError) as exc:
            if isinstance(exc, UpstreamSilent) or (
                isinstance(exc, aiohttp.ServerTimeoutError) and "reading" in str(exc)
            ):
                message = (
                    f"Ollama upstream {self.base_url} sent nothing for "
                    f"{self._timeout.sock_read:g}s (upstream_timeout.read_idle_seconds)"
                )
            else:
                message = (
                    f"Ollama upstream {self.base_url} is unreachable "
                    f"({type(exc).__name__}: {exc}); is `ollama serve` running there?"
                )
            raise UpstreamUnavailable(redact_in(message, self.base_url)) from None

    async def version(self) -> str | None:
        """The upstream's version, or None when it can't be reached."""
        try:
            async with self.session.get(
                self.base_url + "/api/version", timeout=aiohttp.ClientTimeout(total=3)
            ) as r:
                if r.status != 200:
                    return None
                data = await r.json(content_type=None)
                return str(data.get("version")) if isinstance(data, dict) else None
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return None

    async def close(self) -> None:
        await self.connections.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
