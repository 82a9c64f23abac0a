"""Where secrets come from: environment variables, then systemd credentials.

Owns the lookup order and how a secret is shown (set / not set, never the
value). Must not import pydantic or yaml (the light CLI commands use it) and
never reads the config file: the config names the variables, not the secrets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brb.config_views import BrbConfigViews, ProviderSpec


def read_secret(env_names: list[str], credential: str | None = None) -> str | None:
    """A secret from the first set environment variable, else from the systemd
    credential ``$CREDENTIALS_DIRECTORY/<credential>``; None if nowhere."""
    for name in env_names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if credential and cred_dir:
        try:
            value = (Path(cred_dir) / credential).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return value or None
    return None


def provider_key(spec: ProviderSpec) -> str | None:
    """A provider's API key: its env var(s), then its systemd credential."""
    return read_secret(spec.key_env_names, spec.credential)


def anthropic_key(cfg: BrbConfigViews) -> str | None:
    spec = cfg.anthropic_provider()
    return provider_key(spec) if spec is not None else None


DATABASE_URL_ENV = "BRB_DATABASE_URL"  # the default of the config's database_url_env
DATABASE_URL_CREDENTIAL = "database-url"


def database_url(cfg: BrbConfigViews | None) -> str | None:
    """The fleet's database URL (it carries a password): ``$<database_url_env>``,
    else the systemd credential ``database-url``; None: the SQLite file."""
    env = cfg.database_url_env if cfg is not None else DATABASE_URL_ENV
    return read_secret([env], DATABASE_URL_CREDENTIAL)


def mask(secret: str | None) -> str:
    if not secret:
        return "(not set)"
    return f"set ({len(secret)} chars)"
