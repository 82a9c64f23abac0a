"""A reservation whose write fails leaves nothing behind (issue 16, point 5): a failed
statement or a failed COMMIT is rolled back, reported as a StoreError (the daemon's
``store_unavailable``), and the next reservation on the same connection works.

The failures are SQLite's own, made with schema another process could add: a trigger
that ``RAISE``s on the ledger insert (a statement fails), and a deferred foreign key
the insert's trigger breaks (the statements succeed, the COMMIT fails — SQLite then
keeps the transaction open unless brb rolls it back)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from brb.adapters.store import Store
from brb.errors import StoreError

DAY = date(2026, 11, 25)
AT = datetime(2026, 11, 25, 12, tzinfo=UTC)
LIMIT = Decimal("10")

COMMIT_FAILS = [
    "CREATE TABLE test_parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE test_child (parent INTEGER "
    "REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TRIGGER test_break AFTER INSERT ON ledger BEGIN "
    "INSERT INTO test_child VALUES (42); END",
]
STATEMENT_FAILS = [
    "CREATE TRIGGER test_break BEFORE INSERT ON ledger BEGIN "
    "SELECT RAISE(ABORT, 'disk says no'); END",
]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "brb.db"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store.open(path) as s:
        yield s


def other_process(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        for statement in sql:
            conn.execute(statement)
    finally:
        conn.close()


def reserve(store: Store, request_id: str) -> bool:
    return store.ledger.reserve(
        request_id, day=DAY, amount_usd=Decimal("1"), limit_usd=LIMIT, at=AT
    )


def rows_seen_elsewhere(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(str(path))
    try:
        return list(conn.execute("SELECT request_id, status FROM ledger ORDER BY at"))
    finally:
        conn.close()


@pytest.mark.parametrize(
    "breaker", [COMMIT_FAILS, STATEMENT_FAILS], ids=["commit_fails", "statement_fails"]
)
def test_a_failed_reservation_write_is_rolled_back(
    store: Store, path: Path, breaker: list[str]
) -> None:
    assert reserve(store, "before")
    other_process(path, *breaker)

    with pytest.raises(StoreError, match="nothing was written"):
        reserve(store, "broken")

    # nothing half-written: not on this connection, not for another process
    assert [r["request_id"] for r in store.ledger.rows_between(AT)] == ["before"]
    assert rows_seen_elsewhere(path) == [("before", "reserved")]
    assert store.ledger.snapshot(DAY, LIMIT).reserved_usd == Decimal("1")

    other_process(path, "DROP TRIGGER test_break")
    assert reserve(store, "after")  # the connection is not stuck in the failed transaction
    assert rows_seen_elsewhere(path) == [("before", "reserved"), ("after", "reserved")]
