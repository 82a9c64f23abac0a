"""The config sections of who hears about brb: ``notifications`` (Slack,
PagerDuty, a webhook, Statuspage) and ``alerts``.

Owns those keys and their defaults. Secrets are never here: each ``*_env``
key names the environment variable that holds one (the secrets themselves
are read by :mod:`brb.credentials`). Must not read files or secrets.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from brb.config_section import EnvName, Section, env_name


class Statuspage(Section):
    api_base: str = "https://api.statuspage.io/v1"
    page_id: str | None = None
    component_id: str | None = None
    api_key_env: EnvName = "BRB_STATUSPAGE_API_KEY"

    _check_env = field_validator("api_key_env")(lambda cls, v: env_name(v))


class Notifications(Section):
    slack_channel: str | None = None
    slack_webhook_url_env: EnvName = "BRB_SLACK_WEBHOOK_URL"
    pagerduty_service: str | None = None
    pagerduty_routing_key_env: EnvName = "BRB_PAGERDUTY_ROUTING_KEY"
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    webhook_url_env: EnvName = "BRB_WEBHOOK_URL"
    statuspage: Statuspage = Statuspage()

    _check_env = field_validator(
        "slack_webhook_url_env", "pagerduty_routing_key_env", "webhook_url_env"
    )(lambda cls, v: env_name(v))


class Alerts(Section):
    provider_errors_per_minute: int = Field(5, ge=1)
