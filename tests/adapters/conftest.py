"""The store fixture: every store contract test runs against both backends, the
SQLite file and a real PostgreSQL database (as pybreaker's suite runs over each
of its storages); and ``run``: the Ollama client's scenarios on both event loops."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from raw_upstream import Runner

from brb.adapters.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a file path, or a PostgreSQL URL (a fresh database)."""
    if request.param == "sqlite":
        return str(tmp_path / "brb.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_location: str) -> Iterator[Store]:
    with Store.open(store_location) as s:
        yield s


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Runs a scenario on asyncio's own loop and on uvloop (the one ``brb serve`` uses)."""
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return lambda scenario: uvloop.run(scenario())
    return lambda scenario: asyncio.run(scenario())
