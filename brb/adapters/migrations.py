"""The store's schema, as versioned migrations (sqlite-utils ``Migrations``).

Owns every table and index brb keeps. Each migration runs in its own
transaction; add new ones at the end, never edit an applied one. Imported
only when the schema needs work: sqlite-utils pulls in numpy when it is
installed, which costs a tenth of a second the status command can't spare.
"""

from __future__ import annotations

from typing import Any

MIGRATION_SET = "brb"

# The names, in order. The store compares the database's applied set with
# this list without importing sqlite-utils.
NAMES = ("m001_initial",)


def _m001_initial(db: Any) -> None:
    db.execute(
        """CREATE TABLE override (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            mode TEXT NOT NULL CHECK (mode IN ('auto', 'on', 'off')),
            until TEXT, since TEXT, who TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '')"""
    )
    db.execute(
        """CREATE TABLE breaker (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            phase TEXT NOT NULL CHECK (phase IN ('standby', 'active')),
            since TEXT, reason TEXT NOT NULL DEFAULT '', updated_at TEXT)"""
    )
    db.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '', who TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}')"""
    )
    db.execute("CREATE INDEX events_at ON events (at)")
    db.execute("CREATE INDEX events_kind_at ON events (kind, at)")
    db.execute(
        """CREATE TABLE ledger (
            id INTEGER PRIMARY KEY, request_id TEXT NOT NULL UNIQUE,
            day TEXT NOT NULL, at TEXT NOT NULL, settled_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('reserved', 'settled', 'released')),
            provider TEXT NOT NULL DEFAULT '', endpoint TEXT NOT NULL DEFAULT '',
            session TEXT NOT NULL DEFAULT '', local_model TEXT NOT NULL DEFAULT '',
            cloud_model TEXT NOT NULL DEFAULT '',
            input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            reserved_micro_usd INTEGER NOT NULL, cost_micro_usd INTEGER NOT NULL DEFAULT 0,
            latency_s REAL, outcome TEXT NOT NULL DEFAULT '')"""
    )
    db.execute("CREATE INDEX ledger_day_status ON ledger (day, status)")
    db.execute(
        """CREATE TABLE requests (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, day TEXT NOT NULL,
            endpoint TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '',
            session TEXT NOT NULL DEFAULT '', backend TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '', status INTEGER,
            wait_s REAL, service_s REAL, latency_s REAL,
            prompt_tokens INTEGER, output_tokens INTEGER, outcome TEXT NOT NULL DEFAULT '')"""
    )
    db.execute("CREATE INDEX requests_at ON requests (at)")
    db.execute(
        """CREATE TABLE queue_samples (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, model TEXT NOT NULL DEFAULT '',
            queue_depth INTEGER NOT NULL, in_flight INTEGER NOT NULL,
            wait_s REAL NOT NULL, service_s REAL)"""
    )
    db.execute("CREATE INDEX queue_samples_at ON queue_samples (at)")
    db.execute(
        """CREATE TABLE daemon (
            id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, version TEXT,
            listen TEXT, started_at TEXT, heartbeat_at TEXT)"""
    )
    db.execute(
        """CREATE TABLE alerts_fired (
            day TEXT NOT NULL, key TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (day, key))"""
    )


def apply(conn_path: str) -> None:
    """Apply pending migrations to the database file at ``conn_path``."""
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

    migrations = Migrations(MIGRATION_SET)
    migrations(name="m001_initial")(_m001_initial)
    db = sqlite_utils.Database(conn_path)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        migrations.apply(db)
    finally:
        db.close()
