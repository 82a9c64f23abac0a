"""The dashboard stream as a listener: an event on the sink sends a snapshot at once,
a quiet request-path event does not, and a shutdown ends every open stream.

The stream's own period is an hour here, so any second snapshot can only come from
a wake: the checks are causal, not timed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from brb.core.breaker import Observation
from brb.daemon.events import DivertingStarted, EventSink, Routed
from brb.daemon.listeners.dashboard_stream import StatusStream

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HOUR_S = 3600.0
READ_TIMEOUT_S = 10.0  # a bound on a hang, never a measurement


class Counter:
    """A snapshot function that numbers its snapshots."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> dict[str, Any]:
        self.n += 1
        return {"n": self.n}


@asynccontextmanager
async def served(stream: StatusStream) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes([web.get("/events", stream.handle)])
    app.on_shutdown.append(stream.close)
    runner = web.AppRunner(app, shutdown_timeout=HOUR_S)  # an open stream must not need it
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = site._server.sockets[0].getsockname()[:2]  # type: ignore[union-attr]  # noqa: SLF001
    try:
        yield f"http://{host}:{port}/events"
    finally:
        await runner.cleanup()


async def next_status(resp: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """The next ``status`` event's data; None when the stream ends."""
    event = None
    while True:
        raw = await asyncio.wait_for(resp.content.readline(), READ_TIMEOUT_S)
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "status":
            return json.loads(line.removeprefix("data: "))


def test_an_event_on_the_sink_sends_a_snapshot_at_once_and_a_routed_request_does_not() -> None:
    async def scenario() -> None:
        sink = EventSink()
        happened: list[str] = []
        counter = Counter()
        stream = StatusStream(lambda: {**counter(), "seen": list(happened)}, interval_s=HOUR_S)
        stream.subscribe(sink)
        async with (
            served(stream) as url,
            aiohttp.ClientSession() as session,
            session.get(url) as resp,
        ):
            assert resp.headers["Content-Type"] == "text/event-stream"
            assert await next_status(resp) == {"n": 1, "seen": []}  # a new page: at once
            happened.append("routed")
            sink.publish(Routed(T0, "/api/chat", "llama3", "", False, "standby"))
            await asyncio.sleep(0.5)  # room for a wrongly woken snapshot to go out first
            happened.append("pressed")
            sink.publish(DivertingStarted(T0, "pressed", "cli", "me", Observation(0, 0.0)))
            # the Routed woke nothing: the next snapshot is the one the press asked for
            assert await next_status(resp) == {"n": 2, "seen": ["routed", "pressed"]}

    asyncio.run(scenario())


def test_closing_ends_open_streams_and_refuses_new_ones() -> None:
    async def scenario() -> None:
        stream = StatusStream(Counter(), interval_s=HOUR_S)
        async with served(stream) as url, aiohttp.ClientSession() as session:
            resp = await session.get(url)
            assert await next_status(resp) == {"n": 1}
            assert stream.listeners == 1
            await stream.close()
            assert await next_status(resp) is None  # ended by the daemon, not the page
            resp.release()
            async with session.get(url) as again:
                assert again.status == 503

    asyncio.run(scenario())


def test_an_open_page_does_not_hold_up_a_shutdown() -> None:
    async def scenario() -> None:
        stream = StatusStream(Counter(), interval_s=HOUR_S)
        server = served(stream)  # its drain waits up to an hour for open handlers
        url = await server.__aenter__()
        async with aiohttp.ClientSession() as session:
            resp = await session.get(url)
            assert await next_status(resp) == {"n": 1}
            # aiohttp's on_shutdown ends the stream before the drain: no hour-long wait
            await asyncio.wait_for(server.__aexit__(None, None, None), READ_TIMEOUT_S)
            assert await next_status(resp) is None
            resp.release()

    asyncio.run(scenario())
