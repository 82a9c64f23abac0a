"""The database file: where it is, its permissions, its pragmas, its schema.

Owns finding the file (``--db``, ``$BRB_DB``, config, ``$STATE_DIRECTORY``,
the XDG state dir), creating it with tight permissions, opening it in WAL
mode, and refusing — without touching a byte — a file that is corrupt,
another program's, or written by a newer brb; and :class:`SqliteDatabase`,
the SQLite side of the store's :class:`~brb.adapters.database.Database` seam.
WAL mode lets readers run while one writes, ``BEGIN IMMEDIATE`` serialises
writers (so read-then-write can't fail with BUSY_SNAPSHOT), and ``PRAGMA
data_version`` tells a long-lived connection cheaply that another committed.
Migrations themselves live in :mod:`brb.adapters.migrations`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brb.adapters import migrations
from brb.adapters.database import Row, Tx
from brb.errors import StoreError

if TYPE_CHECKING:
    from brb.config_cache import ConfigLike

DB_ENV = "BRB_DB"
DB_NAME = "brb.db"


def resolve_path(cli_path: str | os.PathLike[str] | None, cfg: ConfigLike | None = None) -> Path:
    """``--db``, else ``$BRB_DB``, else config ``database``, else
    ``$STATE_DIRECTORY/brb.db`` (systemd), else the XDG state dir."""
    if cli_path:
        return Path(cli_path)
    if os.environ.get(DB_ENV):
        return Path(os.environ[DB_ENV])
    if cfg is not None and cfg.database:
        return Path(cfg.database)
    state_dir = os.environ.get("STATE_DIRECTORY")
    if state_dir:
        return Path(state_dir.split(":")[0]) / DB_NAME
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "brb" / DB_NAME


def _create_file(p: Path) -> None:
    """Create the database file with tight permissions before SQLite does:
    0600, or 0660 when the directory is group-shared (the systemd layout,
    where the daemon and the CLI share the ``brb`` group)."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        dir_mode = p.parent.stat().st_mode
        shared = dir_mode & (stat.S_IWGRP | stat.S_ISGID) and not dir_mode & stat.S_IWOTH
        mode = 0o660 if shared else 0o600
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
        os.fchmod(fd, mode)  # the umask must not widen or narrow it
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"can't create the brb database {p}: {exc.strerror}") from None


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")


def _use_wal(conn: sqlite3.Connection) -> None:
    # Switching to WAL rewrites the file header: only once the file is known
    # to be brb's (or new), so a foreign file is left byte-for-byte as it was.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.DatabaseError(f"could not switch to WAL mode (got {mode})")


def _applied(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    if "_sqlite_migrations" not in tables:
        return tables, []
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id",
            (migrations.MIGRATION_SET,),
        )
    ]
    return tables, names


def _ensure_schema(conn: sqlite3.Connection, p: Path) -> None:
    tables, applied = _applied(conn)
    if tables and not applied:
        raise StoreError(
            f"{p} is an SQLite database but not brb's (it has tables: "
            f"{', '.join(sorted(tables)[:5])}). Nothing was changed: point --db / BRB_DB at "
            "brb's database, or at a new path."
        )
    unknown = [n for n in applied if n not in migrations.NAMES]
    if unknown:
        raise StoreError(
            f"{p} was written by a newer brb (schema {unknown[-1]}): upgrade brb to use it."
        )
    _use_wal(conn)
    if list(applied) == list(migrations.NAMES):
        return
    # Serialise migrating across processes: flock on the file is independent
    # of SQLite's own POSIX locks.
    with open(p, "rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            migrations.apply(str(p))
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def connect(p: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (creating if asked) the brb database at ``p``, schema up to date."""
    if not p.exists():
        if not create:
            raise StoreError(f"no brb database at {p}: start `brb serve` or pass --db")
        _create_file(p)
    try:
        conn = sqlite3.connect(str(p), timeout=10.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"can't open the brb database {p}: {exc}") from None
    try:
        _configure(conn)
        _ensure_schema(conn, p)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{p} is not a usable brb database ({exc}). Nothing was changed: move the "
            "file aside (or restore a backup) and brb will create a fresh one, or "
            "point --db / BRB_DB at the right file."
        ) from None
    except StoreError:
        conn.close()
        raise
    return conn


class SqliteDatabase:
    """The brb database file: one connection behind a lock."""

    kind = "sqlite"

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.label = str(path)
        self._conn = conn
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> SqliteDatabase:
        return cls(path, connect(path, create=create))

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``: the write lock (on the whole file, whatever ``lock``
        names) is taken before anything is read."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(
                    f"the brb database {self.path} is busy or read-only: {exc}"
                ) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                # Whatever failed — a statement, or the COMMIT itself (a full disk, a
                # deferred constraint: SQLite may keep the transaction open) — nothing
                # of it stays half-written, and the connection is ready for the next.
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(
                        f"can't write to the brb database {self.path} (nothing was written): {exc}"
                    ) from None
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, params))
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"can't read the brb database {self.path}: {exc}") from None

    def change_token(self) -> int:
        """``PRAGMA data_version``: changes whenever another connection commits."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def announce_change(self, tx: Tx) -> None:
        """Nothing to do: every commit changes the others' ``data_version``."""

    def applied_migrations(self) -> list[str]:
        return _applied(self._conn)[1]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
