"""The ``providers:`` section of the config: the cloud provider chain as the file spells it.

Owns each provider entry's keys, the defaults its name implies (``kind``,
``base_url``, ``api_key_env``, ``credential``), the names a provider may
take, and the chain used when the file names none. Whether a routing rule
names a configured provider is checked by :mod:`brb.config`, which sees both
sections; the frozen per-provider view the daemon uses is
:class:`brb.config_views.ProviderSpec`. Must not read files or secrets.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from brb.config_section import EnvName, Section, env_name, http_url
from brb.config_views import ProviderKind

# The key names that imply their kind; any other name must say `kind:`.
_KIND_BY_NAME: dict[str, ProviderKind] = {"anthropic": "anthropic", "openai": "openai"}
_DEFAULT_BASE_URL: dict[str, str] = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
}
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# Names X-BRB-Provider already uses for the local leg.
_RESERVED_PROVIDER_NAMES = frozenset({"ollama", "local", "cloud"})


class ProviderBreaker(Section):
    failure_threshold: int = Field(3, ge=1, description="consecutive failures that open it")
    cooldown_seconds: float = Field(30.0, gt=0, description="open at least this long")


class ProviderEntry(Section):
    """One provider of the chain (``providers.<name>``); the name is what
    ``X-BRB-Provider`` shows. ``kind``, ``base_url``, ``api_key_env`` and
    ``credential`` are filled from the name and kind when left out."""

    kind: ProviderKind
    base_url: str
    api_key_env: EnvName
    credential: EnvName
    timeout_seconds: float = Field(60.0, gt=0)
    model: str | None = Field(None, min_length=1, description="anthropic: models.anthropic_model")
    map: dict[str, str] = Field(default_factory=dict, description="local model glob -> model")
    first_token_timeout_seconds: float = Field(10.0, gt=0)
    breaker: ProviderBreaker = ProviderBreaker()

    _check_env = field_validator("api_key_env")(lambda cls, v: env_name(v))

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "https://api.openai.com/v1")

    @model_validator(mode="after")
    def _model_named(self) -> ProviderEntry:
        if self.kind != "anthropic" and self.model is None:
            raise ValueError(f"model is required for a provider of kind {self.kind}")
        return self


def provider_defaults(name: str, entry: Any) -> Any:
    """Fill kind, base_url, api_key_env and credential from the entry's name."""
    if not _PROVIDER_NAME.match(name) or name in _RESERVED_PROVIDER_NAMES:
        raise ValueError(
            f"{name!r} can't name a provider: use lower-case letters, digits, - and _ "
            f"(not {', '.join(sorted(_RESERVED_PROVIDER_NAMES))})"
        )
    if entry is None:
        entry = {}
    if not isinstance(entry, dict):
        return entry  # pydantic reports the wrong type with its path
    kind = entry.get("kind", _KIND_BY_NAME.get(name))
    if kind is None:
        raise ValueError(f"{name}: kind is required (anthropic or openai) for this name")
    env = "ANTHROPIC_EMERGENCY_KEY" if name == "anthropic" else f"{name.upper()}_API_KEY"
    defaults = {
        "kind": kind,
        "base_url": _DEFAULT_BASE_URL.get(str(kind), ""),
        "api_key_env": re.sub(r"[^A-Z0-9_]", "_", env),
        "credential": f"{name}-key",
    }
    return {**defaults, **entry}


def default_providers() -> dict[str, ProviderEntry]:
    """The chain when the file names none: Anthropic alone."""
    return {"anthropic": ProviderEntry.model_validate(provider_defaults("anthropic", {}))}
