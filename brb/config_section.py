"""What every config section shares: the frozen base model and the field checks
several sections use.

Owns :class:`Section` (frozen; an unknown key is refused), the check that an
``*_env`` key names an environment variable rather than holding the secret,
and the http(s) URL check. The sections themselves live with what they
configure (:mod:`brb.config`, :mod:`brb.provider_config`,
:mod:`brb.upstream_config`, :mod:`brb.notification_config`,
:mod:`brb.routing_config`). Must not read files: :mod:`brb.config` is the only
reader.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")

EnvName = Annotated[str, Field(min_length=1)]


class Section(BaseModel):
    """A config section: frozen, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def env_name(value: str | None) -> str | None:
    """``value`` unchanged if it can name an environment variable."""
    if value is not None and not _ENV_NAME.match(value):
        # Never echo the value: someone may have pasted the secret itself here.
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits, _), "
            "not the secret itself; put the secret in that variable"
        )
    return value


def http_url(value: str, example: str) -> str:
    """``value`` without its trailing slashes if it is an http(s) URL."""
    if not _HTTP_URL.match(value):
        raise ValueError(f"must be an http(s) URL, e.g. {example}")
    return value.rstrip("/")
