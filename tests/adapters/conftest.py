"""The store fixture: every store contract test runs against both backends, the
SQLite file and a real PostgreSQL database (as pybreaker's suite runs over each
of its storages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
