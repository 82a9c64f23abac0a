"""A scripted HTTP server on loopback for brb's Ollama client: raw bytes, raw sockets.

Each accepted connection runs the test's script with the reader and writer; the
server counts connections and hears each one close. Used where the fake Ollama
can't misbehave on cue (a close while idle, a silence, a cut mid-body, a head
held back until the test says so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
# runs a scenario to its end on one event loop (the ``run`` fixture: asyncio's and uvloop)
Runner = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]
DEADLINE_S = 30.0  # generous: a loaded 2-core machine


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request: its head (up to the blank line) and its body (Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head, body


def answer(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    """A whole Content-Length answer."""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n".encode()
        + extra
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


NDJSON_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
)
LAST_CHUNK = b"0\r\n\r\n"


class RawServer:
    """``async with RawServer(script) as server``: ``server.url``, ``server.accepted``,
    ``server.closed`` (connections whose peer closed, as the script saw them end)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.accepted = 0
        self.closed = 0
        self.changed = asyncio.Event()
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)
        self.changed.set()
        try:
            await self.script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)
            self.closed += 1
            self.changed.set()

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait until ``check()`` holds (re-checked whenever a connection comes or goes)."""
        async with asyncio.timeout(DEADLINE_S):
            while not check():
                self.changed.clear()
                await self.changed.wait()


async def until(check: Callable[[], bool]) -> None:
    """Wait until ``check()`` holds, looking every few milliseconds, within the deadline."""
    async with asyncio.timeout(DEADLINE_S):
        while not check():
            await asyncio.sleep(0.005)


async def until_eof(reader: asyncio.StreamReader) -> None:
    """The script's side: wait for the client to close the connection."""
    async with asyncio.timeout(DEADLINE_S):
        while await reader.read(65536):
            pass
