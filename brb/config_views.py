"""The pydantic-free side of the config: where the file is, and the views
derived from a validated config.

Owns ``default_path``, :class:`ProviderSpec` and the derived views (timezone
object, listen host and port, prices in force, the provider chain, cloud
models, the local -> cloud model map) as mixins
that both the pydantic models (:mod:`brb.config`) and the cached snapshot the
light CLI commands read (:mod:`brb.config_cache`) inherit, so both answer
alike. Must not import pydantic or yaml, and validates nothing: a derived
view goes here, never on a pydantic model (tests/test_config_cache.py checks).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from brb.core import pricing
from brb.core.breaker import Thresholds
from brb.core.pricing import ModelPrice, Price

if TYPE_CHECKING:
    from brb.core import rules

CONFIG_ENV = "BRB_CONFIG"
ProviderKind = Literal["anthropic", "openai"]


def default_path() -> Path | None:
    """``$BRB_CONFIG``, else /etc/brb/brb.yaml if it exists, else none (defaults)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    etc = Path("/etc/brb/brb.yaml")
    return etc if etc.exists() else None


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One provider of the chain as the daemon uses it: defaults resolved."""

    name: str
    kind: ProviderKind
    base_url: str
    api_key_env: str
    credential: str
    timeout_s: float
    first_token_timeout_s: float
    failure_threshold: int
    cooldown_s: float
    model: str
    map: tuple[tuple[str, str], ...]

    def cloud_model_for(self, local_model: str) -> str:
        for pattern, cloud in self.map:
            if fnmatch.fnmatchcase(local_model, pattern):
                return cloud
        return self.model

    @property
    def cloud_models(self) -> list[str]:
        return list(dict.fromkeys([self.model, *(cloud for _, cloud in self.map)]))

    @property
    def key_env_names(self) -> list[str]:
        """Where its key is looked for, in order (ANTHROPIC_API_KEY last, as before)."""
        extra = ["ANTHROPIC_API_KEY"] if self.kind == "anthropic" else []
        return list(dict.fromkeys([self.api_key_env, *extra]))


DEFAULT_UPSTREAM_NAME = "default"  # the pool of one a lone ``upstream`` makes


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    """One Ollama server of the pool as the daemon uses it."""

    name: str
    url: str
    parallel: int


class ModelsViews:
    """Derived views of the ``models`` section."""

    __slots__ = ()
    if TYPE_CHECKING:
        anthropic_model: str
        map: dict[str, str]

    def cloud_model_for(self, local_model: str) -> str:
        for pattern, cloud in self.map.items():
            if fnmatch.fnmatchcase(local_model, pattern):
                return cloud
        return self.anthropic_model


class BrbConfigViews:
    """Derived views of the whole config (the ``big_red_button`` section)."""

    __slots__ = ()
    if TYPE_CHECKING:
        timezone: str
        listen: str
        pricing: dict[str, Any]
        providers: dict[str, Any]
        models: Any
        routing: Any
        database_url_env: str
        thresholds: Any
        upstream: str
        upstream_parallel: int
        upstreams: list[Any]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def breaker_thresholds(self) -> Thresholds:
        """The breaker's :class:`~brb.core.breaker.Thresholds` from the ``thresholds``
        section (the daemon's and the replay's one conversion)."""
        t = self.thresholds
        return Thresholds(
            t.queue_depth, t.wait_time_seconds, t.release_fraction, t.min_active_seconds
        )

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    def upstream_pool(self) -> list[UpstreamSpec]:
        """The Ollama servers in pool order: ``upstreams``, or ``upstream`` alone as a
        pool of one named ``default``."""
        if self.upstreams:
            return [UpstreamSpec(u.name, u.url, u.parallel) for u in self.upstreams]
        return [UpstreamSpec(DEFAULT_UPSTREAM_NAME, self.upstream, self.upstream_parallel)]

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def price_overrides(self) -> dict[str, ModelPrice]:
        out: dict[str, ModelPrice] = {}
        for model, p in self.pricing.items():
            table = pricing.price_for(model)
            cw = p.cache_write_per_mtok
            cr = p.cache_read_per_mtok
            if cw is None:
                cw = (
                    table.base.cache_write_per_mtok if table else p.input_per_mtok * Decimal("1.25")
                )
            if cr is None:
                cr = table.base.cache_read_per_mtok if table else p.input_per_mtok * Decimal("0.1")
            cw1h = p.cache_write_1h_per_mtok
            if cw1h is None:  # 2x input: the published rule
                cw1h = p.input_per_mtok * 2
            out[model] = ModelPrice(
                model,
                Price(p.input_per_mtok, p.output_per_mtok, cw, cr, cw1h),
                source="config",
            )
        return out

    def price_for(self, model: str) -> ModelPrice | None:
        return pricing.price_for(model, self.price_overrides())

    def provider_chain(self) -> list[ProviderSpec]:
        """Every configured provider, in chain order (YAML order), defaults resolved.

        An ``anthropic`` entry with no ``model`` uses ``models.anthropic_model``,
        and its ``map`` falls back to ``models.map``."""
        out = []
        for name, p in self.providers.items():
            mapping = dict(p.map)
            if p.kind == "anthropic":
                mapping = {
                    **mapping,
                    **{k: v for k, v in self.models.map.items() if k not in mapping},
                }
            out.append(
                ProviderSpec(
                    name=name,
                    kind=p.kind,
                    base_url=p.base_url,
                    api_key_env=p.api_key_env,
                    credential=p.credential,
                    timeout_s=p.timeout_seconds,
                    first_token_timeout_s=p.first_token_timeout_seconds,
                    failure_threshold=p.breaker.failure_threshold,
                    cooldown_s=p.breaker.cooldown_seconds,
                    model=p.model or self.models.anthropic_model,
                    map=tuple(mapping.items()),
                )
            )
        return out

    def anthropic_provider(self) -> ProviderSpec | None:
        """The first provider of kind anthropic, if the chain has one."""
        return next((p for p in self.provider_chain() if p.kind == "anthropic"), None)

    def cloud_models(self) -> list[str]:
        seen = [self.models.anthropic_model, *self.models.map.values()]
        for spec in self.provider_chain():
            seen += spec.cloud_models
        return list(dict.fromkeys(seen))

    def rule_set(self) -> rules.RuleSet:
        """``routing.rules`` as the core matches them (header names in lower case)."""
        # Imported here, not at the top: the light CLI commands never route.
        from brb.core import rules

        return rules.RuleSet(tuple(_rule(rule) for rule in self.routing.rules))


def _rule(rule: Any) -> rules.Rule:
    from brb.core import rules

    m = rule.match
    match = rules.Match(
        model=m.model,
        endpoint=m.endpoint,
        session=m.session,
        header={name.lower(): glob for name, glob in m.header.items()},
        prompt_tokens=_bound(m.prompt_tokens),
        has_tools=m.has_tools,
        has_images=m.has_images,
        complexity=_bound(m.complexity),
    )
    if isinstance(rule.action, str):
        return rules.Rule(match, rules.Action(rule.action))
    return rules.Rule(match, rules.Action.PROVIDER, rule.action.provider)


def _bound(bound: Any) -> rules.Bound | None:
    from brb.core import rules

    return None if bound is None else rules.Bound(bound.gt, bound.lt)
