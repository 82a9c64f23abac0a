"""The daemon rig: a fake Ollama, a fake Anthropic and brb itself, on loopback.

Owns starting the three real servers in one background thread with its own
event loop (so tests stay plain functions and drive brb with the official
synchronous clients, or with ``asyncio.run`` for bursts), waiting for the
daemon's ``ready`` callback with a timeout (a daemon that fails to start
fails the test at once, never hangs it), and stopping everything; plus the
small HTTP vocabulary the daemon tests share (:class:`Answer`,
:meth:`Rig.post`, :meth:`Rig.burst`, :func:`poll`). The fixtures that use it
live in this directory's conftest.py; tests import from here, never from
``conftest`` (another directory's conftest may hold that module name).

Must not: stub or patch any brb function; the daemon under test is the one
``brb serve`` runs, with its providers built from config and the key from
the environment, like production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from brb import control
from brb.adapters.store import Store
from brb.adapters.store_events import Event
from brb.config import BrbConfig, parse
from brb.daemon.app import serve as run_daemon
from brb.sim.anthropic import DEFAULT_REPLY, FakeAnthropic
from brb.sim.ollama import FakeOllama
from brb.sim.openai import FakeOpenAI
from brb.sim.server import serve

START_TIMEOUT_S = 60.0  # a deadline: a loaded machine can take long to import and start
STOP_TIMEOUT_S = 15.0
KEY_ENV = "ANTHROPIC_EMERGENCY_KEY"
LOCAL_REPLY = "a local answer from the fake ollama"
LOCAL_TEXT = " ".join([LOCAL_REPLY] * 3)  # the fake repeats its reply once per chunk (3)
CLOUD_REPLY = DEFAULT_REPLY
MODEL = "llama3"
OPENAI_MODEL = "gpt-4o-mini"  # the rig's second provider's model (priced in the table)
# Idle by default: thresholds no test traffic reaches unless a test lowers them.
DEFAULTS: dict[str, Any] = {
    "listen": "127.0.0.1:0",
    "thresholds": {"queue_depth": 50, "wait_time_seconds": 60, "min_active_seconds": 1},
    "excluded_sessions": ["compliance-*"],
}


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` laid onto ``base``, mappings merged key by key; ``over``'s keys come
    first, in its order (YAML order is the provider chain's order)."""
    out = {key: base[key] for key in over if key in base}
    out.update((key, value) for key, value in base.items() if key not in over)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(check: Callable[[], Any], *, timeout_s: float = 5.0, every_s: float = 0.02) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"condition not met within {timeout_s}s: {check}")
        time.sleep(every_s)


# --- answers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read whole; header names lower-cased."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    first_chunk_s: float | None = None  # seconds from send to the first body bytes

    @property
    def provider(self) -> str | None:
        return self.headers.get("x-brb-provider")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def lines(self) -> list[Any]:
        """NDJSON lines, parsed."""
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]

    def events(self) -> list[Any]:
        """SSE ``data:`` payloads, parsed (``[DONE]`` kept as the string)."""
        out: list[Any] = []
        for line in self.body.decode().splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                out.append(data if data == "[DONE]" else json.loads(data))
        return out


@dataclass(frozen=True, slots=True)
class Req:
    """One request for :meth:`Rig.burst`."""

    path: str
    body: Any  # a JSON-able value, or raw bytes sent as they are
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"


def chat_body(
    path: str, text: str = "hello", *, stream: bool = False, model: str = MODEL, **extra: Any
) -> dict[str, Any]:
    """A minimal valid inference body for ``path``."""
    if path == "/api/generate":
        body: dict[str, Any] = {"model": model, "prompt": text, "stream": stream}
    elif path == "/v1/messages":
        body = {
            "model": model,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": text}],
            "stream": stream,
        }
    else:
        body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    return {**body, **extra}


# --- the rig ---------------------------------------------------------------------------


@dataclass
class Rig:
    """brb with its two fakes, running in a background thread."""

    url: str
    ollama_url: str
    anthropic_url: str
    ollama: FakeOllama
    anthropic: FakeAnthropic
    db: Path
    cfg: BrbConfig
    started_at: datetime
    stop: Callable[[], BaseException | None] = field(repr=False, default=lambda: None)
    openai: FakeOpenAI | None = None  # a second provider, ``openai``, when the test asks

    # raw HTTP, synchronous -------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout_s: float = 10.0,
    ) -> Answer:
        data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers=dict(headers or {})
        )
        if data is not None and "Content-Type" not in (headers or {}):
            req.add_header("Content-Type", "application/json")
        t0 = time.monotonic()
        try:
            resp = urllib.request.urlopen(req, timeout=timeout_s)  # noqa: S310 - loopback
        except urllib.error.HTTPError as err:
            resp = err
        with resp:
            first = resp.read(1)
            first_s = time.monotonic() - t0
            rest = resp.read()
            return Answer(
                resp.status,
                {k.lower(): v for k, v in resp.headers.items()},
                first + rest,
                first_s,
            )

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(
        self, path: str, body: Any, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Answer:
        return self.request("POST", path, body, headers, **kw)

    def ask(
        self,
        path: str = "/api/chat",
        text: str = "hello",
        *,
        stream: bool = False,
        session: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> Answer:
        """One inference request on ``path`` with an optional session header."""
        h = dict(headers or {})
        if session is not None:
            h[self.cfg.session_header] = session
        return self.post(path, chat_body(path, text, stream=stream, **extra), h)

    def press(self) -> None:
        """Press the button the CLI's way (a store connection of its own); return once
        the daemon has seen it."""
        with self.store() as store:
            control.press(store, now=datetime.now(UTC), source="test", who="pytest")
        poll(lambda: self.get("/healthz").json()["mode"] == "on", timeout_s=2.0)

    def status(self) -> dict[str, Any]:
        answer = self.get("/admin/big-red-button/status")
        assert answer.status == 200, answer.text
        return answer.json()

    # concurrent HTTP -------------------------------------------------------------------

    def burst(self, requests: list[Req], *, timeout_s: float = 20.0) -> list[Answer]:
        """Send every request at once (aiohttp, one connection each); answers in order."""
        return asyncio.run(self.aburst(requests, timeout_s=timeout_s))

    async def aburst(self, requests: list[Req], *, timeout_s: float = 20.0) -> list[Answer]:
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one(r: Req) -> Answer:
                kw: dict[str, Any] = {"headers": dict(r.headers)}
                if isinstance(r.body, bytes):
                    kw["data"] = r.body
                elif r.body is not None:
                    kw["json"] = r.body
                async with session.request(r.method, self.url + r.path, **kw) as resp:
                    body = await resp.read()
                    headers = {k.lower(): v for k, v in resp.headers.items()}
                    return Answer(resp.status, headers, body)

            return list(await asyncio.gather(*(one(r) for r in requests)))

    # the store -------------------------------------------------------------------------

    @contextlib.contextmanager
    def store(self) -> Iterator[Store]:
        """A separate connection to the daemon's database (like the CLI's)."""
        store = Store.open(self.db)
        try:
            yield store
        finally:
            store.close()

    def events(self, *kinds: str) -> list[Event]:
        with self.store() as s:
            return s.events(kinds=list(kinds) or None)

    def ledger_rows(self) -> list[dict[str, Any]]:
        with self.store() as s:
            return s.ledger.rows_between(self.started_at - timedelta(minutes=1))

    def settled_rows(self, n: int, *, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``n`` ledger rows exist and none is still ``reserved`` (writes are
        fire-and-forget on the daemon's writer thread)."""

        def ready() -> list[dict[str, Any]] | None:
            rows = self.ledger_rows()
            if len(rows) >= n and all(r["status"] != "reserved" for r in rows):
                return rows
            return None

        return poll(ready, timeout_s=timeout_s)

    def cloud_hits(self) -> int:
        """Requests the fake Anthropic received on /v1/messages, whatever it answered."""
        return len(self.anthropic.message_requests)


class Running:
    """The background thread and loop; ``start`` returns once brb is ready."""

    def __init__(
        self,
        ollama: FakeOllama,
        anthropic: FakeAnthropic,
        settings: Mapping[str, Any],
        db: Path,
        listeners: list[Any] | None = None,
        openai: FakeOpenAI | None = None,
        drain_timeout_s: float | None = None,
    ) -> None:
        self.openai = openai
        self.daemon_options: dict[str, Any] = (
            {} if drain_timeout_s is None else {"drain_timeout_s": drain_timeout_s}
        )
        self.ollama = ollama
        self.anthropic = anthropic
        self.settings = settings
        self.db = db
        self.listeners = list(listeners or [])  # extra event listeners: subscribe(sink)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.found: dict[str, Any] = {}
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._main(),), name="brb-rig", daemon=True
        )

    async def _main(self) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                ou = await stack.enter_async_context(serve(self.ollama.app()))
                au = await stack.enter_async_context(serve(self.anthropic.app()))
                providers: dict[str, Any] = {"anthropic": {"base_url": au}}
                if self.openai is not None:
                    url = await stack.enter_async_context(serve(self.openai.app()))
                    providers["openai"] = {"base_url": url + "/v1", "model": OPENAI_MODEL}
                # a test that gives a pool (upstreams) serves its own fakes
                lone = {} if "upstreams" in self.settings else {"upstream": ou}
                section = merged(merged(DEFAULTS, {**lone, "providers": providers}), self.settings)
                cfg = parse({"big_red_button": section}, source="test rig")
                stop = asyncio.Event()
                self.found.update(cfg=cfg, stop=stop, ollama_url=ou, anthropic_url=au)

                def on_ready(address: str) -> None:
                    self.found["address"] = address
                    self.ready.set()

                await run_daemon(
                    cfg, self.db, ready=on_ready, stop=stop, listeners=self.listeners,
                    **self.daemon_options,
                )  # fmt: skip
        except BaseException as exc:  # reported to the test's thread
            self.found["error"] = exc
            self.ready.set()
            if not isinstance(exc, Exception):
                raise

    def start(self) -> Rig:
        started_at = datetime.now(UTC)
        self.thread.start()
        if not self.ready.wait(START_TIMEOUT_S):
            self.stop()
            pytest.fail(f"brb did not call ready within {START_TIMEOUT_S}s")
        error = self.found.pop("error", None)
        if error is not None:
            self.thread.join(STOP_TIMEOUT_S)
            raise error
        f = self.found
        return Rig(
            url=f"http://{f['address']}",
            ollama_url=f["ollama_url"],
            anthropic_url=f["anthropic_url"],
            ollama=self.ollama,
            anthropic=self.anthropic,
            openai=self.openai,
            db=self.db,
            cfg=f["cfg"],
            started_at=started_at,
            stop=self.stop,
        )

    def stop(self) -> BaseException | None:
        """Stop brb (as SIGTERM would) and the fakes; the daemon's own error, if any."""
        stop = self.found.get("stop")
        if stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(stop.set)
        self.thread.join(STOP_TIMEOUT_S)
        if self.thread.is_alive():
            return RuntimeError(f"brb did not stop within {STOP_TIMEOUT_S}s")
        self.loop.close()
        return self.found.get("error")


StartRig = Callable[..., Rig]
