"""The ``routing:`` section of the config: the routing rules as the file spells them.

Owns the keys of ``routing.rules`` (an ordered list; each ``{match: {...},
action: ...}``) and their validation (unknown keys, bounds that can't hold,
complexity outside 0..1, an endpoint brb doesn't route). Whether a
``provider:`` action names a configured provider is checked by
:mod:`brb.config`, which knows the chain; turning the rules into
:class:`brb.core.rules.RuleSet` is a derived view
(:meth:`brb.config_views.BrbConfigViews.rule_set`). Must not read files:
:mod:`brb.config` is the only reader.

    routing:
      rules:
        - match: {session: "compliance-*"}
          action: local
        - match: {prompt_tokens: {gt: 2000}, complexity: {gt: 0.6}}
          action: cloud
        - match: {model: "llama3*", has_tools: true}
          action: {provider: anthropic}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from brb.config_section import Section as _Section
from brb.core.conversation import ENDPOINTS

EndpointName = Literal["/api/chat", "/api/generate", "/v1/chat/completions", "/v1/messages"]
assert set(EndpointName.__args__) == set(ENDPOINTS)  # type: ignore[attr-defined]


class _Bounds(_Section):
    gt: float | None = None
    lt: float | None = None

    @model_validator(mode="after")
    def _can_hold(self) -> _Bounds:
        if self.gt is None and self.lt is None:
            raise ValueError("give gt, lt or both, e.g. {gt: 2000}")
        if self.gt is not None and self.lt is not None and self.gt >= self.lt:
            raise ValueError(f"gt {self.gt:g} >= lt {self.lt:g}: no value can match")
        return self


class TokenBounds(_Bounds):
    gt: float | None = Field(None, ge=0)
    lt: float | None = Field(None, gt=0)


class ScoreBounds(_Bounds):
    gt: float | None = Field(None, ge=0, le=1)
    lt: float | None = Field(None, ge=0, le=1)


class RuleMatch(_Section):
    model: str | None = Field(None, min_length=1, description="local model glob")
    endpoint: EndpointName | None = None
    session: str | None = Field(None, description="session id glob")
    header: dict[str, str] = Field(default_factory=dict, description="header name -> value glob")
    prompt_tokens: TokenBounds | None = None
    has_tools: bool | None = None
    has_images: bool | None = None
    complexity: ScoreBounds | None = None

    @field_validator("header")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not name or any(c.isspace() or c == ":" for c in name):
                raise ValueError(f"{name!r} is not a header name")
        return v


class ProviderAction(_Section):
    provider: str = Field(min_length=1, description="the provider of the chain to try first")


class RouteRule(_Section):
    match: RuleMatch = Field(default_factory=RuleMatch, description="empty: every request")
    action: Literal["local", "cloud", "overflow"] | ProviderAction

    @field_validator("action", mode="before")
    @classmethod
    def _one_action(cls, v: object) -> object:
        if isinstance(v, dict):
            return ProviderAction.model_validate(v)
        if v in ("local", "cloud", "overflow"):
            return v
        raise ValueError(f"must be local, cloud, overflow or {{provider: NAME}}, not {v!r}")


class Routing(_Section):
    rules: list[RouteRule] = Field(
        default_factory=list, description="evaluated in order; the first match decides"
    )
