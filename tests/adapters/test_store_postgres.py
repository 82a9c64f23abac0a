"""The PostgreSQL backend against a real server: the same schema as SQLite, the
password kept out of every message, a foreign or newer database refused
untouched, and instances that start together migrating once."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from pg_cluster import Cluster

from brb.adapters import migrations
from brb.adapters.database import redact
from brb.adapters.store import Store
from brb.errors import StoreError


def columns_sqlite(store: Store) -> dict[str, list[str]]:
    tables = [
        r[0]
        for r in store.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: [r["name"] for r in store.query(f"PRAGMA table_info({t})")] for t in tables}


def columns_pg(store: Store) -> dict[str, list[str]]:
    rows = store.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["table_name"], []).append(r["column_name"])
    return out


def test_both_backends_have_the_same_tables_and_columns(tmp_path: Path, pg_url: str) -> None:
    with Store.open(tmp_path / "brb.db") as lite, Store.open(pg_url) as pg:
        assert columns_sqlite(lite) == columns_pg(pg)
        assert "instances" in columns_pg(pg)
        assert lite.applied_migrations() == pg.applied_migrations() == list(migrations.NAMES)


def test_money_columns_hold_more_than_32_bits(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        types = {
            r["column_name"]: r["data_type"]
            for r in store.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'ledger'"
            )
        }
    assert types["reserved_micro_usd"] == types["cost_micro_usd"] == "bigint"
    assert types["latency_s"] == "double precision"


def test_the_password_is_never_shown(pg_cluster: Cluster, pg_url: str) -> None:
    with Store.open(pg_url) as store:
        assert pg_cluster.password not in store.label
        assert store.label == pg_url.replace(pg_cluster.password, "***")
    wrong = pg_url.replace(pg_cluster.password, "not-" + pg_cluster.password)
    with pytest.raises(StoreError, match="password authentication failed") as exc:
        Store.open(wrong)
    assert pg_cluster.password not in str(exc.value) and "***" in str(exc.value)
    closed = f"postgresql://brb:{pg_cluster.password}@127.0.0.1:1/brb"
    with pytest.raises(StoreError, match="can't use the brb database") as exc:
        Store.open(closed)
    assert pg_cluster.password not in str(exc.value)


def test_redact() -> None:
    assert (
        redact("at postgresql://u:s3cr%40t@h:5/d?x=1 now") == "at postgresql://u:***@h:5/d?x=1 now"
    )
    assert redact("postgres://u@h/d") == "postgres://u@h/d"  # no password, nothing to hide
    assert redact("key s3cr3t leaked", ["s3cr3t"]) == "key *** leaked"


def test_a_database_with_other_tables_is_refused_untouched(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
    with pytest.raises(StoreError, match="not brb's .*notes"):
        Store.open(pg_url)
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables "
                                            "WHERE schemaname = 'public'")}  # fmt: skip
    assert tables == {"notes"}


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    Store.open(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('brb', 'm999_from_the_future', '2027-01-01')"
        )
    with pytest.raises(StoreError, match="newer brb .*m999_from_the_future"):
        Store.open(pg_url)


def test_instances_starting_together_migrate_once(pg_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        try:
            barrier.wait()
            Store.open(pg_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with Store.open(pg_url) as store:
        assert store.applied_migrations() == list(migrations.NAMES)
