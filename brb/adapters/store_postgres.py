"""PostgreSQL: the store's backend for a fleet (one budget, one button, one pager).

Owns :class:`PostgresDatabase`, the PostgreSQL side of the store's
:class:`~brb.adapters.database.Database` seam: a psycopg 3 connection pool,
translating the store's ``?`` SQL, the schema (the same migrations as SQLite,
recorded in the same version table, applied under an advisory lock so two
instances starting at once don't race), and the change signal: a press
commits ``NOTIFY brb_override``, and a listener thread turns notifications —
and, as the fallback when its connection drops or a notification is missed,
a poll of the override row's version each second — into the token a daemon
polls. While that listener has lost the server, every read and write fails at
once with a StoreError (rather than waiting on the pool), so a daemon's event
loop never stalls on a database that is down; the listener reconnects with
backoff and brings the store back. A write that names a lock (the ledger names the budget day) takes
``pg_advisory_xact_lock`` on it first, so a reservation is exact across every
instance.

The URL carries a password: it is never logged nor put in an error; the
label and every message show it redacted. psycopg errors become
:class:`~brb.errors.StoreError`. Imported only in fleet mode.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from brb.adapters import migrations
from brb.adapters.database import Row, Tx, redact
from brb.errors import StoreError

log = logging.getLogger(__name__)

CHANNEL = "brb_override"
POLL_S = 1.0  # the fallback poll of the override row, and the listener's wake-up
CONNECT_TIMEOUT_S = 3
POOL_TIMEOUT_S = 3.0
MAX_BACKOFF_S = 5.0


class PgRow(tuple[Any, ...]):
    """A row readable by position or by column name, like ``sqlite3.Row``."""

    _names: tuple[str, ...]

    def __new__(cls, values: Sequence[Any], names: tuple[str, ...]) -> PgRow:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: Any) -> RowMaker[PgRow]:
    names = tuple(c.name for c in cursor.description or ())
    return lambda values: PgRow(values, names)


@functools.lru_cache(maxsize=512)
def _sql(sql: str) -> str:
    """The store's ``?`` placeholders in psycopg's ``%s`` form (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgTx:
    """A transaction on one pooled connection, speaking the store's SQL."""

    def __init__(self, conn: psycopg.Connection[PgRow]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[PgRow]:
        return self._conn.execute(_sql(sql), tuple(params))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_sql(sql), [tuple(p) for p in seq])


class PostgresDatabase:
    """A brb database on a PostgreSQL server. Thread-safe."""

    kind = "postgresql"

    def __init__(self, url: str, pool: ConnectionPool[psycopg.Connection[PgRow]]) -> None:
        self._url = url
        self.label = redact(url)
        self._pool = pool
        self._token = 0
        self._token_lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._is_up = threading.Event()  # cleared while the listener has lost the server
        self._is_up.set()
        self._users = 1

    @classmethod
    def connect(cls, url: str) -> PostgresDatabase:
        """Connect (failing fast, saying why) and bring the schema up to date. The
        stores of one process share one connection (a daemon's reader and writer:
        one pool, one listener); :meth:`close` lets go of it."""
        with _SHARED_LOCK:
            shared = _SHARED.get(url)
            if shared is not None:
                shared._users += 1
                return shared
        label = redact(url)
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                migrate(conn, label)
        except psycopg.Error as exc:
            raise StoreError(_message(f"can't use the brb database {label}", exc, url)) from None
        db = cls(url, _new_pool(url))
        with _SHARED_LOCK:
            _SHARED[url] = db
        return db

    def _message(self, what: str, exc: BaseException) -> str:
        return _message(f"{what} the brb database {self.label}", exc, self._url)

    # --- the seam ------------------------------------------------------------------

    def _fail_fast(self) -> None:
        if not self._is_up.is_set():
            raise StoreError(f"the brb database {self.label} is unreachable (reconnecting)")

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[PgTx]:
        self._fail_fast()
        try:
            with self._pool.connection() as conn, conn.transaction():
                if lock is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
                yield PgTx(conn)
        except PoolTimeout:
            raise StoreError(f"the brb database {self.label} is unreachable") from None
        except psycopg.Error as exc:
            raise StoreError(self._message("can't write to", exc)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._fail_fast()
        try:
            with self._pool.connection() as conn:
                return list(conn.execute(_sql(sql), tuple(params)).fetchall())
        except PoolTimeout:
            raise StoreError(f"the brb database {self.label} is unreachable") from None
        except psycopg.Error as exc:
            raise StoreError(self._message("can't read", exc)) from None

    def announce_change(self, tx: Tx) -> None:
        tx.execute(f"NOTIFY {CHANNEL}")

    def change_token(self) -> int:
        """Bumped by the listener thread (started on first use) on a notification,
        on a change the fallback poll sees, and on every reconnect."""
        if self._listener is None:
            self._listener = threading.Thread(
                target=self._listen, name="brb-pg-listen", daemon=True
            )
            self._listener.start()
        with self._token_lock:
            return self._token

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.query(_APPLIED)]

    def close(self) -> None:
        with _SHARED_LOCK:
            self._users -= 1
            if self._users > 0:
                return
            if _SHARED.get(self._url) is self:
                del _SHARED[self._url]
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=POLL_S + CONNECT_TIMEOUT_S + 1)
        self._pool.close()

    # --- the change listener -----------------------------------------------------

    def _bump(self) -> None:
        with self._token_lock:
            self._token += 1

    def _listen(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if not self._is_up.is_set():
                        # A fresh pool: the old one may sit in a long reconnect backoff.
                        old, self._pool = self._pool, _new_pool(self._url)
                        old.close(timeout=0)
                        log.warning("the brb database %s is back", self.label)
                    self._is_up.set()
                    self._bump()  # anything may have changed while not listening
                    backoff = 0.5
                    self._watch(conn)
            except psycopg.Error as exc:
                if self._is_up.is_set():
                    log.warning("%s; reconnecting", self._message("lost", exc))
                self._is_up.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _watch(self, conn: psycopg.Connection[Any]) -> None:
        seen = None
        while not self._stop.is_set():
            for _ in conn.notifies(timeout=POLL_S):
                self._bump()
            row = conn.execute("SELECT xmin::text FROM override").fetchone()
            version = row[0] if row else None
            if version != seen:
                if seen is not None:
                    self._bump()
                seen = version


def _message(what: str, exc: BaseException, url: str) -> str:
    """``what: <the error's first line>``, with no trace of the URL's password."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        password = urlsplit(url).password or ""
    except ValueError:
        password = ""
    return redact(f"{what}: {text}", [password])


_SHARED: dict[str, PostgresDatabase] = {}
_SHARED_LOCK = threading.Lock()


def _new_pool(url: str) -> ConnectionPool[psycopg.Connection[PgRow]]:
    return ConnectionPool(
        url,
        min_size=1,
        max_size=4,
        kwargs={
            "row_factory": _rows,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "brb",
        },  # fmt: skip
        timeout=POOL_TIMEOUT_S,
        check=ConnectionPool.check_connection,  # a server restart leaves dead connections
        reconnect_timeout=24 * 3600,  # keep trying through an outage (the listener renews it)
        name="brb",
        open=True,
    )


_APPLIED = (
    f"SELECT name FROM {migrations.VERSION_TABLE} WHERE migration_set = "
    f"'{migrations.MIGRATION_SET}' ORDER BY id"
)


def migrate(conn: psycopg.Connection[Any], label: str) -> None:
    """Apply pending migrations in one transaction, one instance at a time; refuse a
    database that holds someone else's tables or a newer brb's schema."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('brb:migrate', 0))")
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        applied: list[str] = []
        if migrations.VERSION_TABLE in tables:
            applied = [r[0] for r in conn.execute(_APPLIED)]
        others = tables - {migrations.VERSION_TABLE}
        if others and not applied:
            raise StoreError(
                f"{label} holds tables that are not brb's ({', '.join(sorted(others)[:5])}). "
                "Nothing was changed: give brb a database (or schema) of its own."
            )
        unknown = [n for n in applied if n not in migrations.NAMES]
        if unknown:
            raise StoreError(
                f"{label} was written by a newer brb (schema {unknown[-1]}): upgrade brb to use it."
            )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {migrations.VERSION_TABLE} (id BIGINT GENERATED BY "
            "DEFAULT AS IDENTITY PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)"
        )
        for name in migrations.NAMES:
            if name in applied:
                continue
            for sql in migrations.statements(name, "postgresql"):
                conn.execute(sql)
            conn.execute(
                f"INSERT INTO {migrations.VERSION_TABLE} (migration_set, name, applied_at) "
                "VALUES (%s, %s, %s)",
                (migrations.MIGRATION_SET, name, str(datetime.now(UTC))),
            )
            log.info("brb database %s: applied %s", label, name)
