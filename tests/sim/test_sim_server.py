"""brb.sim.server: loopback serving in a loop and in a thread, and a clean, quick stop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
from aiohttp import web

from brb.sim.anthropic import FakeAnthropic
from brb.sim.server import serve, serve_in_thread


def hello_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    return app


def is_listening(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def test_serve_in_thread_answers_on_loopback_and_stops() -> None:
    with serve_in_thread(hello_app()) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(base_url).text == "hello"
    assert not is_listening(base_url)


def test_serve_in_running_loop_answers_and_stops() -> None:
    async def scenario() -> str:
        async with serve(hello_app()) as base_url, httpx.AsyncClient() as client:
            assert (await client.get(base_url)).text == "hello"
        return base_url

    base_url = asyncio.run(scenario())
    assert not is_listening(base_url)


def test_two_servers_get_different_ports() -> None:
    with serve_in_thread(hello_app()) as first, serve_in_thread(hello_app()) as second:
        assert first != second


def test_start_error_is_raised_in_the_caller() -> None:
    with serve_in_thread(hello_app()) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError), serve_in_thread(hello_app(), port=port):
            pass


def test_stop_does_not_wait_for_a_hung_request() -> None:
    fake = FakeAnthropic(hang=True)
    outcome: list[str] = []

    def call(base_url: str) -> None:
        try:
            httpx.post(
                f"{base_url}/v1/messages",
                headers={"x-api-key": "sk-ant-sim-key", "anthropic-version": "2023-06-01"},
                json={
                    "model": "m",
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": "hi"}],
                },
                timeout=30,
            )
            outcome.append("answered")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    with serve_in_thread(fake.app()) as base_url:
        caller = threading.Thread(target=call, args=(base_url,))
        caller.start()
        while not fake.requests:
            time.sleep(0.01)
        stopping = time.monotonic()
    # A loose bound: the point is "not the 30 s client timeout, not aiohttp's 60 s default".
    assert time.monotonic() - stopping < 5
    caller.join(timeout=5)
    assert len(outcome) == 1
    assert outcome[0] != "answered"
