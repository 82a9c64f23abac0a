"""The seam under the store: one SQL database, whichever engine holds it.

Owns the :class:`Database` Protocol that both backends implement — the
SQLite file (:mod:`brb.adapters.store_file`, the default, one host) and
PostgreSQL (:mod:`brb.adapters.store_postgres`, a fleet) — and the URL rules
that pick one, and how a timestamp is stored (:func:`iso`). The store
(:mod:`brb.adapters.store`) and the ledger write their SQL once, with ``?``
placeholders, against this seam; a backend translates what differs
(placeholders, locking, the change signal).

Must not import a database driver: choosing PostgreSQL is a string test, and
psycopg is imported only by the backend that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


_SECOND = timedelta(seconds=1)
_NEVER = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(microsecond=0, tzinfo=UTC)  # no second after it
# The second iso() wrote last, [start, end) and "YYYY-MM-DDTHH:MM:SS": the request log's
# rows come about a thousand a second, in time order, and isoformat() costs ~4x the
# formatting of the microseconds alone. One tuple, replaced whole: safe across threads.
_last_second: tuple[datetime, datetime, str] = (_NEVER, _NEVER, "")


def iso(dt: datetime | None) -> str | None:
    """Timestamps are stored as sortable UTC ISO-8601 text (both engines):
    ``dt.astimezone(UTC).isoformat(timespec="microseconds")``."""
    global _last_second
    if dt is None:
        return None
    if dt.tzinfo is not UTC:
        if dt.tzinfo is None:
            raise ValueError("store timestamps must be timezone-aware")
        dt = dt.astimezone(UTC)
    start, end, head = _last_second
    if not start <= dt < end:
        start = dt.replace(microsecond=0)
        head = dt.isoformat(timespec="seconds")[:-6]  # without its "+00:00"
        _last_second = (start, start + _SECOND if start < _LAST else _NEVER, head)
    return f"{head}.{dt.microsecond:06d}+00:00"


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Row(Protocol):
    """A result row: by column name or by position (``sqlite3.Row`` is one)."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """An open write transaction (``sqlite3.Connection`` is one)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]], /) -> Any: ...


class Database(Protocol):
    """One brb database. Thread-safe."""

    kind: str  # "sqlite" or "postgresql"
    label: str  # where it is, safe to print: a path, or a URL with no password

    def transaction(self, lock: str | None = None) -> AbstractContextManager[Tx]:
        """A write transaction in which every read sees every earlier commit and no
        other writer holding the same ``lock`` runs (SQLite: all writers)."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def change_token(self) -> int:
        """Changes when another connection may have changed the override (cheap to poll)."""
        ...

    def announce_change(self, tx: Tx) -> None:
        """Within ``tx``: tell the other connections' :meth:`change_token` at commit."""
        ...

    def applied_migrations(self) -> list[str]: ...

    def close(self) -> None: ...


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the password of any URL in it (and each of ``secrets``) masked."""
    out = _PASSWORD.sub(lambda m: m.group("head") + "***@", text)
    for s in secrets:
        if s:
            out = out.replace(s, "***")
    return out
