"""Runs any aiohttp application on a loopback port, in this event loop or in a thread.

Owns: binding 127.0.0.1 on port 0, reporting the base URL, and stopping quickly
(a short shutdown timeout, handler cancellation on client disconnect so a hung
or queued handler never holds the stop). Used by tests, `brb drill` and benches.

Must not: know anything about what the application serves, or bind any address
but the one it is given (loopback by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from aiohttp import web

LOOPBACK = "127.0.0.1"
# Handlers still running at stop (streams mid-sleep, hung requests) get this long, then
# are cancelled: a fake server must never make a test wait on its shutdown.
SHUTDOWN_TIMEOUT_S = 0.2
THREAD_START_TIMEOUT_S = 10.0


async def start(app: web.Application, host: str = LOOPBACK, port: int = 0) -> web.AppRunner:
    """Start serving `app`; the caller owns the returned runner and must `cleanup()` it."""
    runner = web.AppRunner(
        app,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        handler_cancellation=True,
        access_log=None,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def base_url_of(runner: web.AppRunner) -> str:
    """The `http://host:port` a started runner listens on (its first address)."""
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve(app: web.Application, host: str = LOOPBACK, port: int = 0) -> AsyncIterator[str]:
    """Serve `app` in the running event loop: `async with serve(app) as base_url: ...`."""
    runner = await start(app, host, port)
    try:
        yield base_url_of(runner)
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def serve_in_thread(app: web.Application, host: str = LOOPBACK, port: int = 0) -> Iterator[str]:
    """Serve `app` from a background thread with its own loop, for synchronous code.

    `with serve_in_thread(app) as base_url: ...`; leaving the block stops the server
    and joins the thread. An error while starting is raised here, in the caller.
    """
    started = threading.Event()
    found: dict[str, object] = {}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            runner = await start(app, host, port)
        except BaseException as exc:  # reported to the caller's thread below
            found["error"] = exc
            started.set()
            return
        found["url"] = base_url_of(runner)
        started.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), name="brb-sim-server", daemon=True
    )
    thread.start()
    try:
        if not started.wait(THREAD_START_TIMEOUT_S):
            raise RuntimeError("simulated server did not start in time")
        error = found.get("error")
        if isinstance(error, BaseException):
            raise error
        url = found["url"]
        assert isinstance(url, str)
        yield url
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
            thread.join()
        loop.close()


async def run_forever(
    app: web.Application, on_ready: Callable[[str], None], host: str = LOOPBACK, port: int = 0
) -> None:
    """Serve `app` until cancelled, calling `on_ready(base_url)` once it listens."""
    async with serve(app, host, port) as base_url:
        on_ready(base_url)
        await asyncio.Event().wait()
