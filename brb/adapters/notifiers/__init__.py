"""The notifiers: Slack, PagerDuty, a generic JSON webhook and Statuspage.

Owns which notifiers are on. A notifier is on when its secret (webhook URL,
routing key, API key) is set, in the environment variable the config names
or in a systemd credential of the notifier's name (``slack-webhook-url``,
``pagerduty-routing-key``, ``webhook-url``, ``statuspage-api-key``); Statuspage
also needs ``page_id`` and ``component_id``. Nothing set means nothing sent,
never an error.

Each notifier turns an :class:`~brb.core.alerts.Alert` into a
:class:`~brb.adapters.notifiers.http.Request` (or None when the alert is not
for it) without I/O; the daemon's alerter sends it through
:func:`brb.adapters.notifiers.http.send`, retries, and records every attempt.

Must not: print a secret; :func:`checks` describes notifiers with masked URLs.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Protocol

from brb.adapters.notifiers import pagerduty, slack, statuspage, webhook
from brb.adapters.notifiers.http import Request, is_http_url
from brb.config import BrbConfig, read_secret
from brb.core.alerts import Alert


class Notifier(Protocol):
    name: str

    def request_for(self, alert: Alert) -> Request | None:
        """The call to make for ``alert``; None when this notifier ignores it."""
        ...

    def describe(self) -> str:
        """Where it sends, with every secret masked."""
        ...


@dataclass(frozen=True, slots=True)
class NotifierCheck:
    """One notifier's setup, for ``brb doctor`` and the start-up log."""

    name: str
    enabled: bool
    detail: str  # masked; says what to set when disabled


def _built(cfg: BrbConfig) -> list[tuple[str, Notifier | None, str]]:
    n = cfg.notifications
    out: list[tuple[str, Notifier | None, str]] = []

    url = read_secret([n.slack_webhook_url_env], slack.CREDENTIAL)
    if url is None:
        out.append((slack.NAME, None, f"off: set {n.slack_webhook_url_env} to the webhook URL"))
    elif not is_http_url(url):
        out.append((slack.NAME, None, f"off: {n.slack_webhook_url_env} is not an http(s) URL"))
    else:
        s = slack.SlackNotifier(url, n.slack_channel)
        out.append((slack.NAME, s, s.describe()))

    key = read_secret([n.pagerduty_routing_key_env], pagerduty.CREDENTIAL)
    if key is None:
        out.append(
            (
                pagerduty.NAME,
                None,
                f"off: set {n.pagerduty_routing_key_env} to the Events API v2 routing key",
            )
        )
    elif not is_http_url(n.pagerduty_events_url):
        out.append((pagerduty.NAME, None, "off: notifications.pagerduty_events_url is not a URL"))
    else:
        p = pagerduty.PagerDutyNotifier(
            key,
            events_url=n.pagerduty_events_url,
            service=n.pagerduty_service,
            host=socket.gethostname(),
        )
        out.append((pagerduty.NAME, p, p.describe()))

    url = read_secret([n.webhook_url_env], webhook.CREDENTIAL)
    if url is None:
        out.append((webhook.NAME, None, f"off: set {n.webhook_url_env} to the webhook URL"))
    elif not is_http_url(url):
        out.append((webhook.NAME, None, f"off: {n.webhook_url_env} is not an http(s) URL"))
    else:
        w = webhook.WebhookNotifier(url)
        out.append((webhook.NAME, w, w.describe()))

    sp = n.statuspage
    key = read_secret([sp.api_key_env], statuspage.CREDENTIAL)
    missing = [
        name
        for name, value in (
            ("notifications.statuspage.page_id", sp.page_id),
            ("notifications.statuspage.component_id", sp.component_id),
            (sp.api_key_env, key),
        )
        if not value
    ]
    if missing:
        out.append((statuspage.NAME, None, f"off: set {', '.join(missing)}"))
    elif not is_http_url(sp.api_base):
        out.append((statuspage.NAME, None, "off: notifications.statuspage.api_base is not a URL"))
    else:
        assert key is not None and sp.page_id and sp.component_id
        st = statuspage.StatuspageNotifier(
            key, api_base=sp.api_base, page_id=sp.page_id, component_id=sp.component_id
        )
        out.append((statuspage.NAME, st, st.describe()))
    return out


def enabled_notifiers(cfg: BrbConfig) -> list[Notifier]:
    """The notifiers whose secrets are set, in a fixed order."""
    return [n for _, n, _ in _built(cfg) if n is not None]


def checks(cfg: BrbConfig) -> list[NotifierCheck]:
    """Every notifier, on or off, with a masked description or what is missing."""
    return [NotifierCheck(name, n is not None, detail) for name, n, detail in _built(cfg)]


__all__ = ["Notifier", "NotifierCheck", "Request", "checks", "enabled_notifiers"]
