"""The store: the one place brb's state lives, in SQLite or PostgreSQL.

Owns :class:`Store`, put together from its parts — the override and the
breaker (:mod:`brb.adapters.store_breaker`), events and the alerts fired
(:mod:`~brb.adapters.store_events`), queue samples and the request log
(:mod:`~brb.adapters.store_samples`), the daemons' heartbeats
(:mod:`~brb.adapters.store_instances`) — and opening it: which database
(:func:`locate`, :func:`open_store`). Money lives in :mod:`brb.adapters.ledger` on the same
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

import os
from pathlib import Path
from typing import TYPE_CHECKING

from brb.adapters.database import Database, is_postgres_url
from brb.adapters.ledger import Ledger
from brb.adapters.store_breaker import BreakerMixin
from brb.adapters.store_events import EventsMixin
from brb.adapters.store_file import SqliteDatabase, resolve_path
from brb.adapters.store_instances import InstancesMixin
from brb.adapters.store_samples import SamplesMixin
from brb.credentials import DATABASE_URL_ENV, database_url
from brb.errors import ConfigError

if TYPE_CHECKING:
    from brb.config_cache import ConfigLike

__all__ = ["Store", "locate", "open_store"]


class Store(BreakerMixin, EventsMixin, SamplesMixin, InstancesMixin):
    """An open brb database. Thread-safe."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
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

    def data_version(self) -> int:
        """Changes when another connection may have changed the override (cheap to poll)."""
        return self.db.change_token()

    def applied_migrations(self) -> list[str]:
        return self.db.applied_migrations()


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
