"""Fixtures for the daemon tests: brb in front of its two fakes (see daemon_rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_rig import CHROMIUM, launch
from daemon_rig import (  # re-exported for tests written against `from conftest import`
    CLOUD_REPLY,
    KEY_ENV,
    LOCAL_REPLY,
    LOCAL_TEXT,
    MODEL,
    Answer,
    Req,
    Rig,
    Running,
    StartRig,
    chat_body,
    free_port,
    poll,
)
from playwright.sync_api import Browser, sync_playwright

from brb.sim.anthropic import DEFAULT_API_KEY, FakeAnthropic
from brb.sim.ollama import FakeOllama
from brb.sim.openai import DEFAULT_API_KEY as OPENAI_API_KEY
from brb.sim.openai import FakeOpenAI

# Prefer `from daemon_rig import ...` in tests: the module name `conftest` is shared
# with other test directories, and whichever conftest pytest loaded last holds it.
__all__ = [
    "CLOUD_REPLY",
    "LOCAL_TEXT",
    "MODEL",
    "Answer",
    "Req",
    "Rig",
    "StartRig",
    "chat_body",
    "free_port",
    "poll",
    "brb",
    "browser",
    "start_brb",
]


@pytest.fixture
def start_brb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StartRig]:
    """``start_brb(ollama=FakeOllama(...), anthropic=FakeAnthropic(...), db=..., **settings)``:
    brb in front of the two fakes; ``settings`` are ``big_red_button`` keys laid over
    the rig's defaults (listen on port 0, idle thresholds, ``compliance-*`` excluded);
    ``db`` defaults to a fresh file (pass an earlier rig's ``db`` to restart on it);
    ``listeners`` are extra event listeners (objects with ``subscribe(sink)``);
    ``drain_timeout_s``: how long a stop waits for in-flight requests (default 30).
    Everything is stopped at the end of the test, and a daemon error fails it."""
    monkeypatch.setenv(KEY_ENV, DEFAULT_API_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_API_KEY)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("BRB_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("BRB_CONFIG", raising=False)
    running: list[Running] = []

    def start(
        *,
        ollama: FakeOllama | None = None,
        anthropic: FakeAnthropic | None = None,
        openai: FakeOpenAI | None = None,
        db: Path | None = None,
        listeners: list[Any] | None = None,
        drain_timeout_s: float | None = None,
        **settings: Any,
    ) -> Rig:
        r = Running(
            ollama or FakeOllama(reply_text=LOCAL_REPLY),
            anthropic or FakeAnthropic(),
            settings,
            db or tmp_path / f"brb{len(running)}.db",
            listeners,
            openai,
            drain_timeout_s,
        )
        running.append(r)
        return r.start()

    yield start
    errors = [e for e in (r.stop() for r in running) if e is not None]
    if errors:
        raise errors[0]


@pytest.fixture
def brb(start_brb: StartRig) -> Rig:
    """brb idle, with default fakes."""
    return start_brb()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, one per test module: Playwright's sync API keeps an
    event loop in this thread while it runs, so it must be gone before other modules'
    tests call ``asyncio.run``. Skips, saying why, only when Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium;"
            " .ci/run does it) to run the dashboard's browser tests"
        )
    with sync_playwright() as playwright:
        b = launch(playwright)
        try:
            yield b
        finally:
            b.close()
