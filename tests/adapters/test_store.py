"""brb.adapters.store: against real SQLite files, the file itself (pragmas,
permissions, refusing corrupt / foreign / newer files without touching them,
where the file is); and against both backends (the ``store`` fixture runs each
test on an SQLite file and on a real PostgreSQL database), the small state
(override, breaker, events, heartbeat, alerts, samples, request log)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from brb.adapters import migrations
from brb.adapters.database import iso, parse_iso
from brb.adapters.store import Store
from brb.adapters.store_file import resolve_path
from brb.adapters.store_samples import QueueSample
from brb.config import BrbConfig
from brb.core.breaker import BreakerState, Mode, Override, Phase
from brb.core.request_log import RequestRow
from brb.errors import StoreError

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# --- the file ------------------------------------------------------------------------


def test_pragmas_and_schema(tmp_db: Path) -> None:
    store = Store.open(tmp_db)
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA busy_timeout")[0][0] == 10000
    assert store.query("PRAGMA synchronous")[0][0] == 1  # NORMAL
    tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "override",
        "breaker",
        "events",
        "ledger",
        "requests",
        "queue_samples",
        "daemon",
        "alerts_fired",
        "_sqlite_migrations",
    } <= tables
    store.close()


def test_reopen_keeps_state_and_does_not_migrate_again(tmp_db: Path) -> None:
    with Store.open(tmp_db) as s:
        s.add_event("hello", at=T0)
    with Store.open(tmp_db) as s:
        assert [e.kind for e in s.events()] == ["hello"]
        assert len(s.query("SELECT * FROM _sqlite_migrations")) == len(migrations.NAMES)


def mode_of(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize(
    ("dir_mode", "umask", "file_mode"),
    [
        (0o755, 0o000, 0o600),  # private; a loose umask must not widen it
        (0o700, 0o022, 0o600),
        (0o2770, 0o077, 0o660),  # setgid + group-writable (systemd StateDirectory, group brb);
        (0o770, 0o077, 0o660),  # a tight umask must not narrow it
        (0o2750, 0o022, 0o660),  # setgid alone marks a group-shared dir
        (0o777, 0o000, 0o600),  # world-writable is not "shared with a group"
        (0o1777, 0o000, 0o600),  # nor is a /tmp-like sticky dir
    ],
)
def test_file_mode_follows_the_directory(
    tmp_path: Path, dir_mode: int, umask: int, file_mode: int
) -> None:
    d = tmp_path / "state"
    d.mkdir()
    d.chmod(dir_mode)
    old = os.umask(umask)
    try:
        Store.open(d / "brb.db").close()
    finally:
        os.umask(old)
    assert mode_of(d / "brb.db") == file_mode


def test_missing_parent_is_created_private(tmp_path: Path) -> None:
    p = tmp_path / "state" / "brb" / "brb.db"
    Store.open(p).close()
    assert p.exists() and mode_of(p.parent) & 0o077 == 0


def test_open_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no brb database"):
        Store.open(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    p = tmp_path / "brb.db"
    p.write_bytes(os.urandom(8192))
    before = digest(p)
    with pytest.raises(StoreError, match="not a usable brb database") as exc:
        Store.open(p)
    assert "Nothing was changed" in str(exc.value) and str(p) in str(exc.value)
    assert digest(p) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["brb.db"]


def test_foreign_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    p = tmp_path / "notes.db"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('do not lose me')")
    conn.commit()
    conn.close()
    before = digest(p)
    with pytest.raises(StoreError, match="not brb's") as exc:
        Store.open(p)
    assert "notes" in str(exc.value)
    assert digest(p) == before  # not even switched to WAL
    conn = sqlite3.connect(p)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT body FROM notes").fetchall() == [("do not lose me",)]
    conn.close()


def test_newer_schema_is_refused(tmp_db: Path) -> None:
    Store.open(tmp_db).close()
    conn = sqlite3.connect(tmp_db)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('brb', 'm999_from_the_future', '2027-01-01')"
    )
    conn.commit()
    conn.close()
    before = digest(tmp_db)
    with pytest.raises(StoreError, match="newer brb .*m999_from_the_future"):
        Store.open(tmp_db)
    assert digest(tmp_db) == before


def test_empty_existing_file_becomes_a_store(tmp_path: Path) -> None:
    p = tmp_path / "brb.db"
    p.touch()
    with Store.open(p) as s:
        assert s.read_override() == Override()


# --- where the file is ---------------------------------------------------------------


def test_resolve_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BRB_DB", "STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = BrbConfig(database=str(tmp_path / "from-config.db"))

    assert resolve_path(None) == tmp_path / "home" / ".local" / "state" / "brb" / "brb.db"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert resolve_path(None) == tmp_path / "xdg" / "brb" / "brb.db"
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/sd:{tmp_path}/other")
    assert resolve_path(None) == tmp_path / "sd" / "brb.db"  # the first of several
    assert resolve_path(None, cfg) == tmp_path / "from-config.db"
    monkeypatch.setenv("BRB_DB", str(tmp_path / "env.db"))
    assert resolve_path(None, cfg) == tmp_path / "env.db"
    assert resolve_path(tmp_path / "flag.db", cfg) == tmp_path / "flag.db"


# --- state -----------------------------------------------------------------------------


def test_timestamps_are_utc_text() -> None:
    local = T0.astimezone(datetime.now(UTC).astimezone().tzinfo)
    assert iso(local) == "2026-11-25T12:00:00.000000+00:00"
    assert parse_iso(iso(T0)) == T0 and parse_iso(None) is None and iso(None) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        iso(datetime(2026, 11, 25))


def test_override_round_trip_with_its_event(store: Store) -> None:
    assert store.read_override() == Override()
    o = Override(Mode.ON, T0 + timedelta(minutes=10), T0, "ana", "cli", "drill")
    store.write_override(o, ("press", {"to_mode": "on"}))
    assert store.read_override() == o
    assert store.read_mode(T0 + timedelta(minutes=9)) == o
    assert store.read_mode(T0 + timedelta(minutes=10)) == Override()  # expired reads as auto
    (event,) = store.events()
    assert (event.kind, event.at, event.who, event.source, event.reason, event.detail) == (
        "press",
        T0,
        "ana",
        "cli",
        "drill",
        {"to_mode": "on"},
    )


def test_breaker_round_trip(store: Store) -> None:
    assert store.read_breaker() == BreakerState()
    state = BreakerState(Phase.ACTIVE, T0, "queue depth 60 > 50")
    store.write_breaker(state, T0, ("activated", {"queue_depth": 60}))
    assert store.read_breaker() == state
    (event,) = store.events(kinds=["activated"])
    assert event.source == "breaker" and event.reason == "queue depth 60 > 50"


def test_events_filters(store: Store) -> None:
    for i, kind in enumerate(["a", "b", "a", "c"]):
        store.add_event(kind, at=T0 + timedelta(minutes=i), detail={"i": i})
    assert [e.detail["i"] for e in store.events(kinds=["a"])] == [0, 2]
    assert [
        e.kind
        for e in store.events(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    ] == ["b", "a"]
    assert [e.kind for e in store.events(newest_first=True, limit=2)] == ["c", "a"]


def test_failed_write_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute("INSERT INTO events (at, kind) VALUES ('x', 'half')")
        raise RuntimeError("boom")
    assert store.events() == []


def test_data_version_changes_only_when_another_connection_commits(tmp_db: Path) -> None:
    """SQLite's token is exact; PostgreSQL's is a notification (see the next test)."""
    with Store.open(tmp_db) as daemon, Store.open(tmp_db) as cli:
        v0 = daemon.data_version()
        daemon.add_event("own", at=T0)
        assert daemon.data_version() == v0  # its own commits don't count
        cli.write_override(Override(Mode.ON, None, T0, "ana", "cli"))
        v1 = daemon.data_version()
        assert v1 != v0
        assert daemon.data_version() == v1  # stable until the next foreign commit
        assert daemon.read_override().mode is Mode.ON


def test_data_version_tells_of_another_connections_press(store_location: str) -> None:
    with Store.open(store_location) as daemon, Store.open(store_location) as cli:
        v0 = daemon.data_version()
        cli.write_override(Override(Mode.ON, None, T0, "ana", "cli"))
        for _ in range(400):  # bounded: PostgreSQL delivers the notification on its own thread
            if daemon.data_version() != v0:
                break
            time.sleep(0.025)
        assert daemon.data_version() != v0
        assert daemon.read_override().mode is Mode.ON


def test_heartbeat(store: Store) -> None:
    assert store.read_heartbeat() is None
    store.write_heartbeat(
        at=T0, pid=42, version="0.1.0", listen="127.0.0.1:11435", started_at=T0 - timedelta(hours=1)
    )
    store.write_heartbeat(
        at=T0 + timedelta(seconds=5),
        pid=42,
        version="0.1.0",
        listen="127.0.0.1:11435",
        started_at=T0 - timedelta(hours=1),
    )
    hb = store.read_heartbeat()
    assert hb is not None and hb.pid == 42 and hb.heartbeat_at == T0 + timedelta(seconds=5)
    assert hb.started_at == T0 - timedelta(hours=1)
    assert len(store.query("SELECT * FROM daemon")) == 1


def test_mark_alert_once(store: Store) -> None:
    assert store.mark_alert_once("2026-11-25", "budget_80", T0)
    assert not store.mark_alert_once("2026-11-25", "budget_80", T0 + timedelta(hours=1))
    assert store.mark_alert_once("2026-11-26", "budget_80", T0 + timedelta(days=1))
    assert store.mark_alert_once("2026-11-25", "budget_100", T0)
    assert store.alerts_fired("2026-11-25") == {"budget_80", "budget_100"}


def test_mark_alert_once_across_connections(store_location: str) -> None:
    with Store.open(store_location) as a, Store.open(store_location) as b:
        results = [s.mark_alert_once("2026-11-25", "budget_50", T0) for s in (a, b, a, b)]
    assert results == [True, False, False, False]


def test_queue_samples(store: Store) -> None:
    assert store.last_queue_sample() is None
    store.add_queue_samples([])
    samples = [
        QueueSample(T0 + timedelta(seconds=i), "llama3", i, 1, i * 1.5, 2.0) for i in range(3)
    ]
    store.add_queue_samples(samples)
    assert store.last_queue_sample() == samples[-1]
    assert store.queue_samples(since=T0 + timedelta(seconds=1)) == samples[1:]


def test_request_log(store: Store) -> None:
    row = RequestRow(
        at=T0,
        day="2026-11-25",
        endpoint="/api/chat",
        model="llama3",
        session="",
        backend="ollama",
        reason="standby",
        status=200,
        wait_s=0.5,
        outcome="ok",
    )
    store.log_requests([row, replace(row, at=T0 - timedelta(seconds=1), session="s1")])
    (got,) = store.request_log(since=T0)
    assert (got["backend"], got["status"], got["wait_s"], got["service_s"]) == (
        "ollama",
        200,
        0.5,
        None,
    )
    assert [r["session"] for r in store.request_log(since=T0 - timedelta(hours=1))] == ["s1", ""]


def test_prune_drops_old_samples_and_request_log_but_keeps_money_and_events(
    store: Store,
) -> None:
    old = datetime(2026, 10, 1, tzinfo=UTC)
    new = old + timedelta(days=40)
    for at in (old, new):
        store.add_queue_samples([QueueSample(at, "m", 1, 1, 0.1, 0.2)])
        day = at.date().isoformat()
        store.log_requests([RequestRow(at, day, "/api/chat", "m", "", "ollama", "", 200)])
        store.add_event("press", at=at)
        store.ledger.reserve(f"r{at:%d}", day=at.date(), amount_usd=Decimal("0.01"),
                             limit_usd=Decimal(1), at=at)  # fmt: skip
    assert store.prune(before=new - timedelta(days=30)) == 2
    assert [s.at for s in store.queue_samples(since=old)] == [new]
    assert [r["at"] for r in store.request_log(since=old)] == [iso(new)]
    assert len(store.events()) == 2 and len(store.ledger.rows_between(old)) == 2
