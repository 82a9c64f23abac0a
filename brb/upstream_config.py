"""The config sections of the local side: Ollama servers, their timeouts, the front
door's timeout, the waiting room and the breaker's thresholds.

Owns the keys of ``upstreams`` entries, ``upstream_timeout``, ``front``,
``waiting_room`` and ``thresholds``, with their defaults and bounds. The
single-server keys (``upstream``, ``upstream_parallel``) and the rule that a
config gives either them or a pool are :mod:`brb.config`'s, which sees the
whole file. Must not read files.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from brb.config_section import Section, http_url

_UPSTREAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class ThresholdSettings(Section):
    """The ``thresholds`` section; the breaker reads them as
    :class:`brb.core.breaker.Thresholds` (:meth:`BrbConfig.breaker_thresholds`)."""

    queue_depth: int = Field(50, ge=1, description="activate when more requests than this wait")
    wait_time_seconds: float = Field(60.0, gt=0, description="activate when a wait exceeds this")
    release_fraction: float = Field(0.5, gt=0, lt=1)
    min_active_seconds: float = Field(300.0, ge=0)


class WaitingRoom(Section):
    enabled: bool = Field(
        True, description="hold requests beyond Ollama's slots in brb, where they can still go"
    )
    first_content_seconds: float = Field(
        0.25, ge=0, description="the cloud's expected time to first content (a start: learned live)"
    )


class Front(Section):
    read_timeout_seconds: float = Field(
        30.0, gt=0, description="a client slower to send its headers or body is cut off (408)"
    )
    write_timeout_seconds: float = Field(
        60.0, gt=0, description="a client that reads nothing of its answer this long is dropped"
    )


class UpstreamTimeout(Section):
    connect_seconds: float = Field(5.0, gt=0, description="opening a connection to Ollama")
    read_idle_seconds: float = Field(
        300.0, gt=0, description="longest silence from Ollama mid-answer (model loads included)"
    )


class UpstreamEntry(Section):
    """One Ollama server of the pool (an entry of ``upstreams``)."""

    name: str = Field(description="what X-BRB-Upstream, status and /metrics call it")
    url: str = Field(description="the server's base URL, e.g. http://gpu-1:11434")
    parallel: int = Field(1, ge=1, description="that server's OLLAMA_NUM_PARALLEL")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _UPSTREAM_NAME.match(v):
            raise ValueError("use letters, digits, '.', '-' and '_' (at most 63), e.g. gpu-1")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "http://127.0.0.1:11434")
