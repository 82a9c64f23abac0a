"""YAML -> validated, frozen configuration; the only reader of config files.

Owns the config's top level (the whole-file rules, such as upstream vs a
pool and rules naming configured providers) and the sections with no module
of their own; the bigger sections live with what they configure
(:mod:`brb.provider_config`, :mod:`brb.upstream_config`,
:mod:`brb.notification_config`, :mod:`brb.routing_config`) and are
re-exported here, so ``brb.config`` still names every config key's owner
section. Secrets come from
environment variables or systemd credentials, never the file
(:mod:`brb.credentials`); the views derived from a validated config live in
:mod:`brb.config_views`, which the light CLI commands read without pydantic.
Everything has a default, so brb runs with no file at all. Unknown keys and
bad values are refused with the dotted key path and the reason
(:class:`~brb.errors.ConfigError`, exit 2). Problems that must not stop an
emergency tool from starting (a model with no known price, a model id that
never existed) are returned as warnings instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from brb.capacity_config import Capacity, ScaleHook
from brb.config_section import EnvName, Section, env_name, http_url
from brb.config_views import CONFIG_ENV as CONFIG_ENV
from brb.config_views import BrbConfigViews, ModelsViews
from brb.config_views import ProviderKind as ProviderKind
from brb.config_views import ProviderSpec as ProviderSpec
from brb.config_views import default_path as default_path
from brb.core import pricing
from brb.core.durations import parse_duration
from brb.credentials import DATABASE_URL_ENV
from brb.credentials import anthropic_key as anthropic_key
from brb.credentials import database_url as database_url
from brb.credentials import mask as mask
from brb.credentials import provider_key as provider_key
from brb.credentials import read_secret as read_secret
from brb.errors import ConfigError
from brb.notification_config import Alerts, Notifications
from brb.notification_config import Statuspage as Statuspage
from brb.provider_config import ProviderBreaker as ProviderBreaker
from brb.provider_config import ProviderEntry, default_providers, provider_defaults
from brb.routing_config import ProviderAction, Routing
from brb.upstream_config import (
    Front,
    ThresholdSettings,
    UpstreamEntry,
    UpstreamTimeout,
    WaitingRoom,
)

TOP_KEY = "big_red_button"


class Budget(Section):
    daily_limit_usd: Decimal = Field(Decimal("100.00"), ge=0)
    alert_at_percent: list[float] = Field(default_factory=lambda: [80.0])

    @field_validator("alert_at_percent", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("alert_at_percent")
    @classmethod
    def _in_range(cls, v: list[float]) -> list[float]:
        for p in v:
            if not 0 < p <= 100:
                raise ValueError(f"each percentage must be in (0, 100], got {p:g}")
        return sorted(set(v))


class Models(ModelsViews, Section):
    anthropic_model: str = pricing.DEFAULT_CLOUD_MODEL
    max_tokens: int = Field(1024, ge=1, description="max_tokens when the client sets none")
    map: dict[str, str] = Field(default_factory=dict, description="local model glob -> cloud model")
    max_input_tokens: int | None = Field(None, ge=1)


class PriceOverride(Section):
    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cache_write_per_mtok: Decimal | None = Field(None, ge=0)
    cache_read_per_mtok: Decimal | None = Field(None, ge=0)
    cache_write_1h_per_mtok: Decimal | None = Field(None, ge=0)


class Admin(Section):
    token_env: EnvName = "BRB_ADMIN_TOKEN"
    press_for: str | None = Field(
        None, description="the dashboard's default press duration (none: until released)"
    )
    press_reason: str = "pressed from the dashboard"

    _check_env = field_validator("token_env")(lambda cls, v: env_name(v))

    @field_validator("press_for")
    @classmethod
    def _check_press_for(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)  # its ValueError names the accepted forms
        return v


class Button(Section):
    kind: Literal["keyboard", "hid", "gpio"] = "keyboard"
    device: str | None = None
    key: str = "KEY_F13"
    pin: int = Field(17, ge=0)
    pull_up: bool = True
    bounce_time_seconds: float = Field(0.05, ge=0)
    long_press_seconds: float = Field(3.0, gt=0)
    debounce_seconds: float = Field(2.0, ge=0)
    poll_interval_seconds: float = Field(0.07, gt=0)


class BrbConfig(BrbConfigViews, Section):
    enabled: bool = True
    listen: str = "127.0.0.1:11435"
    upstream: str = "http://127.0.0.1:11434"
    upstream_parallel: int = Field(1, ge=1, description="Ollama's OLLAMA_NUM_PARALLEL")
    upstreams: list[UpstreamEntry] = Field(
        default_factory=list, description="a pool of Ollama servers; empty: upstream alone"
    )
    health_check_seconds: float = Field(5.0, gt=0, description="probe each upstream this often")
    upstream_timeout: UpstreamTimeout = UpstreamTimeout()
    front: Front = Front()
    policy: Literal["overflow", "all"] = "overflow"
    session_header: str = "X-Session-ID"
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    max_tracked_models: int = Field(
        256, ge=1, description="model names with their own queue state (least recently used go)"
    )
    timezone: str = "UTC"
    database: str | None = None
    database_url_env: str = Field(
        DATABASE_URL_ENV, description="env var holding a postgresql:// URL: fleet mode"
    )
    retention_days: int = Field(30, ge=1, description="days of queue samples and request log kept")
    thresholds: ThresholdSettings = ThresholdSettings()
    waiting_room: WaitingRoom = WaitingRoom()
    budget: Budget = Budget()
    models: Models = Models()
    providers: dict[str, ProviderEntry] = Field(
        default_factory=default_providers, description="the chain, in order"
    )
    pricing: dict[str, PriceOverride] = Field(default_factory=dict)
    excluded_sessions: list[str] = Field(default_factory=list)
    routing: Routing = Routing()
    session_match: Literal["exact", "case_insensitive"] = "exact"
    require_session: bool = False
    notifications: Notifications = Notifications()
    alerts: Alerts = Alerts()
    admin: Admin = Admin()
    button: Button = Button()
    capacity: Capacity = Capacity()
    scale_hook: ScaleHook | None = None
    scale_hook_after_seconds: float = Field(
        600.0, gt=0, description="call scale_hook once the breaker has been active this long"
    )

    _database_url_env = field_validator("database_url_env")(env_name)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:11435")
        return v

    @field_validator("upstream")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "http://127.0.0.1:11434")

    @field_validator("providers", mode="before")
    @classmethod
    def _provider_names(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {name: provider_defaults(str(name), entry) for name, entry in v.items()}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {v!r}: use an IANA name like Europe/London"
            ) from None
        return v

    @model_validator(mode="after")
    def _one_pool(self) -> BrbConfig:
        if not self.upstreams:
            return self
        both = sorted({"upstream", "upstream_parallel"} & self.model_fields_set)
        if both:
            raise ValueError(
                f"{both[0]}: give either upstream (one server) or upstreams (a pool), not both"
            )
        for what in ("name", "url"):
            seen: set[str] = set()
            for i, entry in enumerate(self.upstreams):
                value = getattr(entry, what)
                if value in seen:
                    raise ValueError(f"upstreams.{i}.{what}: {value!r} is already in the pool")
                seen.add(value)
        return self

    @model_validator(mode="after")
    def _rules_name_providers(self) -> BrbConfig:
        unknown = [
            f"routing.rules.{i}.action.provider: unknown provider {rule.action.provider!r} "
            f"(configured: {', '.join(self.providers) or 'none'})"
            for i, rule in enumerate(self.routing.rules)
            if isinstance(rule.action, ProviderAction)
            and rule.action.provider not in self.providers
        ]
        if unknown:
            raise ValueError("; ".join(unknown))
        return self


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: BrbConfig
    path: Path | None
    warnings: tuple[str, ...]


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join([TOP_KEY, *(str(p) for p in loc)])


def parse(data: Any, *, source: str = "config") -> BrbConfig:
    """Validate a parsed YAML document (the whole file, with its top key)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the file must be a mapping with the top key {TOP_KEY!r}")
    unknown_top = [k for k in data if k != TOP_KEY]
    if unknown_top:
        raise ConfigError(
            f"{source}: unknown top-level key {unknown_top[0]!r}: "
            f"everything lives under {TOP_KEY!r}"
        )
    section = data.get(TOP_KEY) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: {TOP_KEY} must be a mapping")
    try:
        return BrbConfig.model_validate(section)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = _dotted(tuple(err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see config/brb.example.yaml)"
            lines.append(f"{path}: {msg}")
        raise ConfigError(f"{source}: invalid configuration\n  " + "\n  ".join(lines)) from None


def model_warnings(cfg: BrbConfig) -> list[str]:
    """What is wrong with the configured cloud models but must not stop brb."""
    out: list[str] = []
    for model in cfg.cloud_models():
        mistake = pricing.KNOWN_MISTAKES.get(model)
        if mistake:
            near = ", ".join(pricing.nearest_models(model)) or pricing.DEFAULT_CLOUD_MODEL
            out.append(
                f"model {model!r} {mistake}; current models that look closest: {near} "
                f"(the current Sonnet is {pricing.DEFAULT_CLOUD_MODEL})"
            )
        if cfg.price_for(model) is None:
            near = ", ".join(pricing.nearest_models(model)) or "none"
            out.append(
                f"model {model!r} has no known price and none under pricing: in the config; "
                f"diversion to it is OFF (traffic stays local). Nearest priced models: {near}"
            )
    return out


def load(path: str | Path | None = None) -> LoadedConfig:
    """Load and validate the config; no file at all means every default."""
    p = Path(path) if path is not None else default_path()
    if p is None:
        cfg = BrbConfig()
        return LoadedConfig(cfg, None, tuple(model_warnings(cfg)))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"can't read config file {p}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    cfg = parse(data, source=str(p))
    return LoadedConfig(cfg, p, tuple(model_warnings(cfg)))
