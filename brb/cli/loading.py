"""What every command needs first: the config, the store, the time.

Owns turning the shared ``--config``/``--db`` values into a loaded config and
an open store. Free of Typer, the HTTP stack and the SDKs, so the light
commands' fast path (:mod:`brb.cli.launch`) can use it as the Typer app does.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from brb.errors import UsageError

if TYPE_CHECKING:
    from brb.adapters.store import Store
    from brb.config import BrbConfig
    from brb.config_cache import ConfigLike


def now() -> datetime:
    return datetime.now(UTC)


def load_config(path: Path | None, *, quiet: bool = False) -> BrbConfig:
    """The full pydantic config, for the commands that need the models."""
    from brb.config import load

    loaded = load(path)
    _warn(loaded.warnings, quiet)
    return loaded.config


def load_light(path: Path | None, *, quiet: bool = False) -> ConfigLike:
    """The same config, validated as fully, for the light commands (status,
    press, release, spend): read back from the cache when it is fresh."""
    from brb import config_cache

    cfg, warnings = config_cache.load(path)
    _warn(warnings, quiet)
    return cfg


def _warn(warnings: tuple[str, ...], quiet: bool) -> None:
    if not quiet:
        for w in warnings:
            print(f"brb: warning: {w}", file=sys.stderr)


def open_store(db: Path | None, cfg: ConfigLike) -> Store:
    """The SQLite file, or in fleet mode (``$BRB_DATABASE_URL``) PostgreSQL."""
    from brb.adapters.store import open_store

    return open_store(db, cfg)


def parse_for(text: str | None, at: datetime) -> datetime | None:
    if text is None:
        return None
    from brb.core.durations import parse_duration

    try:
        return at + parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
