"""The config keys of capacity advice and the scale hook, as the file spells them.

Owns ``capacity:`` (the window of recorded traffic the advice replays, how
many extra slots it tries at most, how often the daemon recomputes it) and
``scale_hook:`` (where brb tells ops that the breaker has been active a long
time: a URL that receives a JSON POST, or a command that gets the JSON on
stdin) with their validation. ``scale_hook_after_seconds`` sits beside
``scale_hook`` at the top of the config (:mod:`brb.config`). Must not read
files: :mod:`brb.config` is the only reader.

    capacity:
      window_days: 7
      max_extra_slots: 8
      refresh_seconds: 300
    scale_hook: {url: "http://127.0.0.1:9000/brb-scale"}
    # or: scale_hook: {command: ["/usr/local/bin/add-gpu-box", "--dry-run"]}
    scale_hook_after_seconds: 600
"""

from __future__ import annotations

from pydantic import Field, model_validator

from brb.config_section import Section, http_url


class Capacity(Section):
    window_days: int = Field(7, ge=1, le=366, description="the last N days of traffic replayed")
    max_extra_slots: int = Field(
        8, ge=1, le=64, description="the most extra local slots the advice tries"
    )
    refresh_seconds: float = Field(
        300.0, ge=1, description="the daemon recomputes the advice at most this often"
    )


class ScaleHook(Section):
    """Exactly one of ``url`` (POSTed the JSON) and ``command`` (run, JSON on stdin)."""

    url: str | None = Field(None, description="receives the JSON as a POST")
    command: list[str] | None = Field(
        None, min_length=1, description="argv run with the JSON on stdin (no shell)"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one_target(self) -> ScaleHook:
        if (self.url is None) == (self.command is None):
            raise ValueError("give either url (a JSON POST) or command (JSON on stdin), not both")
        if self.url is not None:
            try:
                http_url(self.url, "http://127.0.0.1:9000/scale")
            except ValueError as exc:
                raise ValueError(f"url {exc}") from None
        if self.command is not None and not self.command[0].strip():
            raise ValueError("command: the first item is the program to run")
        return self
