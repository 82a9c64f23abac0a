"""The store: the one place brb's state lives, in SQLite or PostgreSQL.

Owns the small state in the database: the operator's override, the breaker,
events, queue samples, the request log, the daemons' heartbeats and which
alerts have fired. Money lives in :mod:`brb.adapters.ledger` on the same
database. The SQL is written once, with ``?`` placeholders, against the
:class:`~brb.adapters.database.Database` seam; which engine holds the data
(the SQLite file by default, PostgreSQL for a fleet: see :func:`open_store`)
is the backend's business.

The CLI, the button listener and the daemons all open the same database; a
write is one transaction, and a press announces itself so a daemon notices it
within a second (:meth:`Store.data_version`). A corrupt or foreign file, or an
unreachable server, is a :class:`~brb.errors.StoreError`, never a silent reset.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brb.adapters.database import Database, Row, Tx, is_postgres_url, iso, parse_iso
from brb.adapters.ledger import Ledger
from brb.adapters.store_file import DB_ENV, DB_NAME, SqliteDatabase, resolve_path
from brb.core.breaker import BreakerState, Mode, Override, Phase
from brb.core.request_log import COLUMNS as REQUEST_COLUMNS
from brb.core.request_log import RequestRow
from brb.credentials import DATABASE_URL_ENV, database_url
from brb.errors import ConfigError

if TYPE_CHECKING:
    from brb.config_cache import ConfigLike

__all__ = ["DB_ENV", "DB_NAME", "Event", "Heartbeat", "Instance", "QueueSample", "Store",
           "iso", "locate", "open_store", "parse_iso", "resolve_path"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    kind: str
    source: str
    who: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueSample:
    at: datetime
    model: str
    queue_depth: int
    in_flight: int
    wait_s: float
    service_s: float | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pid: int | None
    version: str | None
    listen: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None


@dataclass(frozen=True, slots=True)
class Instance:
    """One daemon of the fleet, as its last heartbeat left it."""

    id: str
    host: str
    pid: int | None
    version: str
    listen: str
    started_at: datetime | None
    heartbeat_at: datetime
    heartbeat_interval_s: float
    breaker: str
    queue_depth: int
    is_diverting: bool


class Store:
    """An open brb database. Thread-safe."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ledger: Ledger | None = None

    # --- opening -------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True) -> Store:
        """The SQLite file at ``path``, or the PostgreSQL database a URL names."""
        if isinstance(path, str) and is_postgres_url(path):
            return cls.connect(path)
        return cls(SqliteDatabase.open(Path(path), create=create))

    @classmethod
    def connect(cls, url: str) -> Store:
        """The PostgreSQL database at ``url`` (schema brought up to date)."""
        # Imported here, not at the top: psycopg is loaded only in fleet mode,
        # so the SQLite path and the quick CLI commands never pay for it.
        from brb.adapters.store_postgres import PostgresDatabase

        return cls(PostgresDatabase.connect(url))

    @property
    def kind(self) -> str:
        return self.db.kind

    @property
    def label(self) -> str:
        """Where the data is, safe to print (a PostgreSQL URL has no password)."""
        return self.db.label

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.db)
        return self._ledger

    # --- low-level -----------------------------------------------------------

    @contextlib.contextmanager
    def write(self, lock: str | None = None) -> Iterator[Tx]:
        """One write transaction; reads in it see every earlier commit, and no
        other writer naming the same ``lock`` (SQLite: no other writer) runs."""
        with self.db.transaction(lock) as tx:
            yield tx

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.db.query(sql, params)

    def data_version(self) -> int:
        """Changes when another connection may have changed the override (cheap to poll)."""
        return self.db.change_token()

    def applied_migrations(self) -> list[str]:
        return self.db.applied_migrations()

    # --- override and breaker ------------------------------------------------

    def read_override(self) -> Override:
        rows = self.query("SELECT mode, until, since, who, source, reason FROM override")
        if not rows:
            return Override()
        r = rows[0]
        return Override(
            Mode(r["mode"]),
            parse_iso(r["until"]),
            parse_iso(r["since"]),
            r["who"],
            r["source"],
            r["reason"],
        )

    def read_mode(self, now: datetime) -> Override:
        """The override in force at ``now`` (an expired one reads as auto)."""
        o = self.read_override()
        return Override() if o.is_expired(now) else o

    def write_override(self, o: Override, event: tuple[str, dict[str, Any]] | None = None) -> None:
        """Set the override, and record ``event`` (kind, detail) in the same transaction."""
        with self.write() as conn:
            _set_row(conn, "override", mode=o.mode.value, until=iso(o.until), since=iso(o.since),
                     who=o.who, source=o.source, reason=o.reason)  # fmt: skip
            self.db.announce_change(conn)
            if event is not None:
                kind, detail = event
                self._insert_event(
                    conn, kind, o.since or datetime.now(UTC), o.source, o.who, o.reason, detail
                )

    def read_breaker(self) -> BreakerState:
        rows = self.query("SELECT phase, since, reason FROM breaker")
        if not rows:
            return BreakerState()
        r = rows[0]
        return BreakerState(Phase(r["phase"]), parse_iso(r["since"]), r["reason"])

    def write_breaker(
        self,
        state: BreakerState,
        at: datetime,
        event: tuple[str, dict[str, Any]] | None = None,
        *,
        instance_id: str | None = None,
    ) -> bool:
        """Record the breaker (and ``event``, its transition).

        With ``instance_id`` (a daemon, which may be one of a fleet) the row and
        the event are the fleet's: that instance's phase goes on its own row, and
        the shared breaker changes only when no other live instance is active — so
        the fleet's breaker is active from the first instance that trips to the last
        that lets go, and ``brb incidents`` sees one incident. False: the shared
        breaker was left as it was."""
        with self.write(lock="breaker") as conn:
            if instance_id is not None:
                conn.execute(
                    "UPDATE instances SET breaker = ? WHERE id = ?",
                    (state.phase.value, instance_id),
                )
                if _others_active(conn, instance_id, at):
                    return False
            _set_row(conn, "breaker", phase=state.phase.value, since=iso(state.since),
                     reason=state.reason, updated_at=iso(at))  # fmt: skip
            if event is not None:
                kind, detail = event
                if instance_id is not None:
                    detail = {**detail, "instance": instance_id}
                self._insert_event(conn, kind, at, "breaker", "brb", state.reason, detail)
        return True

    # --- events --------------------------------------------------------------

    @staticmethod
    def _insert_event(
        conn: Tx,
        kind: str,
        at: datetime,
        source: str,
        who: str,
        reason: str,
        detail: dict[str, Any] | None,
    ) -> int:
        cur = conn.execute(
            "INSERT INTO events (at, kind, source, who, reason, detail) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (iso(at), kind, source, who, reason or "", json.dumps(detail or {}, default=str)),
        )
        return int(cur.fetchone()[0])

    def add_event(
        self,
        kind: str,
        *,
        at: datetime,
        source: str = "",
        who: str = "",
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> int:
        with self.write() as conn:
            return self._insert_event(conn, kind, at, source, who, reason, detail)

    def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        where, params = _window(since, until)
        sql = "SELECT id, at, kind, source, who, reason, detail FROM events WHERE " + where
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            Event(
                r["id"],
                parse_iso(r["at"]) or datetime.now(UTC),
                r["kind"],
                r["source"],
                r["who"],
                r["reason"],
                json.loads(r["detail"] or "{}"),
            )
            for r in self.query(sql, params)
        ]

    def mark_alert_once(self, day: str, key: str, at: datetime) -> bool:
        """True the first time ``key`` is marked on ``day``; False ever after."""
        with self.write() as conn:
            cur = conn.execute(
                "INSERT INTO alerts_fired (day, key, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (day, key, iso(at)),
            )
            return cur.rowcount == 1

    def alerts_fired(self, day: str) -> set[str]:
        return {r["key"] for r in self.query("SELECT key FROM alerts_fired WHERE day = ?", (day,))}

    # --- queue samples, request log, heartbeat -------------------------------

    def add_queue_samples(self, samples: Sequence[QueueSample]) -> None:
        if not samples:
            return
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO queue_samples (at, model, queue_depth, in_flight, wait_s, service_s) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (iso(s.at), s.model, s.queue_depth, s.in_flight, s.wait_s, s.service_s)
                    for s in samples
                ],
            )

    def last_queue_sample(self) -> QueueSample | None:
        rows = self.query(f"SELECT {_SAMPLE_COLUMNS} FROM queue_samples ORDER BY id DESC LIMIT 1")
        if not rows:
            return None
        return _sample(rows[0])

    def queue_samples(self, *, since: datetime, until: datetime | None = None) -> list[QueueSample]:
        where, params = _window(since, until)
        sql = f"SELECT {_SAMPLE_COLUMNS} FROM queue_samples WHERE {where} ORDER BY id"
        return [_sample(r) for r in self.query(sql, params)]

    def last_service_estimates(self, *, since: datetime) -> dict[str, float]:
        """Per model, the latest sampled service-time estimate (seconds) since ``since``:
        a restarted daemon starts from what the last one had learned."""
        rows = self.query(
            "SELECT model, service_s FROM queue_samples WHERE id IN (SELECT MAX(id) FROM "
            "queue_samples WHERE service_s IS NOT NULL AND at >= ? GROUP BY model)",
            (iso(since),),
        )
        return {r["model"]: float(r["service_s"]) for r in rows if r["service_s"]}

    def log_requests(self, rows: Sequence[RequestRow]) -> None:
        """Append to the request log (the replay's input): one column per field."""
        if not rows:
            return
        with self.write() as conn:
            conn.executemany(_INSERT_REQUEST, [(iso(r.at), *_row_tail(r)) for r in rows])

    def request_log(self, *, since: datetime, until: datetime | None = None) -> list[Row]:
        where, params = _window(since, until)
        return self.query(f"SELECT * FROM requests WHERE {where} ORDER BY at, id", params)

    def prune(self, *, before: datetime) -> int:
        """Drop queue samples and request-log rows older than ``before`` (the ledger
        and the events stay: money and incidents are history). Rows deleted."""
        with self.write() as conn:
            n = conn.execute("DELETE FROM queue_samples WHERE at < ?", (iso(before),)).rowcount
            n += conn.execute("DELETE FROM requests WHERE at < ?", (iso(before),)).rowcount
        return int(n)

    def write_heartbeat(
        self, *, at: datetime, pid: int, version: str, listen: str, started_at: datetime
    ) -> None:
        with self.write() as conn:
            _set_row(conn, "daemon", pid=pid, version=version, listen=listen,
                     started_at=iso(started_at), heartbeat_at=iso(at))  # fmt: skip

    def read_heartbeat(self) -> Heartbeat | None:
        rows = self.query("SELECT pid, version, listen, started_at, heartbeat_at FROM daemon")
        if not rows:
            return None
        r = rows[0]
        return Heartbeat(
            r["pid"],
            r["version"],
            r["listen"],
            parse_iso(r["started_at"]),
            parse_iso(r["heartbeat_at"]),
        )

    # --- the fleet's instances -------------------------------------------------

    def write_instance(self, inst: Instance) -> None:
        """Record one daemon's heartbeat (a row per instance id, replaced each beat)."""
        values = {
            "id": inst.id, "host": inst.host, "pid": inst.pid, "version": inst.version,
            "listen": inst.listen, "started_at": iso(inst.started_at),
            "heartbeat_at": iso(inst.heartbeat_at),
            "heartbeat_interval_s": inst.heartbeat_interval_s, "breaker": inst.breaker,
            "queue_depth": inst.queue_depth, "diverting": int(inst.is_diverting),
        }  # fmt: skip
        cols = ", ".join(values)
        updates = ", ".join(f"{c}=excluded.{c}" for c in values if c != "id")
        with self.write() as conn:
            conn.execute(
                f"INSERT INTO instances ({cols}) VALUES ({', '.join('?' * len(values))}) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                tuple(values.values()),
            )

    def remove_instance(self, instance_id: str) -> None:
        """A daemon that stops cleanly leaves the fleet's list."""
        with self.write() as conn:
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))

    def instances(self) -> list[Instance]:
        rows = self.query(
            "SELECT id, host, pid, version, listen, started_at, heartbeat_at, "
            "heartbeat_interval_s, breaker, queue_depth, diverting FROM instances ORDER BY id"
        )
        return [
            Instance(
                r["id"],
                r["host"],
                r["pid"],
                r["version"],
                r["listen"],
                parse_iso(r["started_at"]),
                parse_iso(r["heartbeat_at"]) or datetime.now(UTC),
                float(r["heartbeat_interval_s"]),
                r["breaker"],
                int(r["queue_depth"]),
                bool(r["diverting"]),
            )  # fmt: skip
            for r in rows
        ]


def locate(cli_path: str | os.PathLike[str] | None, cfg: ConfigLike | None = None) -> str | Path:
    """Where the configured store is: ``--db`` (a file) if given; else the
    ``postgresql://`` URL in ``$<database_url_env>`` (or the ``database-url``
    credential): fleet mode; else the SQLite file :func:`resolve_path` finds.
    A URL carries a password: show :attr:`Store.label`, never this."""
    if isinstance(cli_path, str) and is_postgres_url(cli_path):
        return cli_path  # a caller's own URL (never a command line's: ps would show it)
    url = None if cli_path else database_url(cfg)
    if not url:
        return resolve_path(cli_path, cfg)
    if not is_postgres_url(url):
        env = cfg.database_url_env if cfg is not None else DATABASE_URL_ENV
        raise ConfigError(
            f"${env} is set but is not a postgresql:// URL; unset it to use the SQLite file"
        )
    return url


def open_store(cli_path: str | os.PathLike[str] | None, cfg: ConfigLike | None = None, *,
               create: bool = True) -> Store:  # fmt: skip
    """The store brb is configured for (see :func:`locate`)."""
    return Store.open(locate(cli_path, cfg), create=create)


_SAMPLE_COLUMNS = "at, model, queue_depth, in_flight, wait_s, service_s"
_INSERT_REQUEST = (
    f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
)
_row_tail = operator.attrgetter(*REQUEST_COLUMNS[1:])  # every column after ``at``


STALE_BEATS = 3  # an instance whose heartbeat is older than 3 intervals is taken as gone


def is_stale(heartbeat_at: datetime, interval_s: float, now: datetime) -> bool:
    return (now - heartbeat_at).total_seconds() > STALE_BEATS * interval_s


def _others_active(conn: Tx, instance_id: str, at: datetime) -> bool:
    """Is any other instance with a live heartbeat active?"""
    cur = conn.execute(
        "SELECT heartbeat_at, heartbeat_interval_s FROM instances "
        "WHERE id != ? AND breaker = 'active'",
        (instance_id,),
    )
    rows = cur.fetchall()
    return any(not is_stale(datetime.fromisoformat(r[0]), float(r[1]), at) for r in rows)


def _set_row(conn: Tx, table: str, **values: Any) -> None:
    """Write the one row (id 1) of a single-row table (override, breaker, daemon)."""
    cols = ", ".join(values)
    updates = ", ".join(f"{c}=excluded.{c}" for c in values)
    conn.execute(
        f"INSERT INTO {table} (id, {cols}) VALUES (1, {', '.join('?' * len(values))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        tuple(values.values()),
    )


def _window(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """A WHERE clause on ``at`` for [since, until), and its parameters."""
    clauses, params = ["1=1"], []
    if since is not None:
        clauses.append("at >= ?")
        params.append(iso(since))
    if until is not None:
        clauses.append("at < ?")
        params.append(iso(until))
    return " AND ".join(clauses), params


def _sample(r: Row) -> QueueSample:
    at = parse_iso(r["at"]) or datetime.now(UTC)
    return QueueSample(at, r["model"], r["queue_depth"], r["in_flight"], r["wait_s"],
                       r["service_s"])  # fmt: skip
