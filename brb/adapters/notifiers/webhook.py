"""A generic JSON webhook: every alert, POSTed as brb's own JSON.

Owns the body: :meth:`brb.core.alerts.Alert.as_json` plus ``source: "brb"``
and a ``schema`` number, so a receiver (a chat bridge, an automation, a
ticketing hook) can route on ``kind``, ``severity``, ``action`` and
``incident`` without knowing Slack's or PagerDuty's formats. Any 2xx is
success. The URL comes from the environment variable named by
``notifications.webhook_url_env`` or the ``webhook-url`` credential and is
treated as a secret (it often embeds a token).

Must not: do I/O, or decide when an alert fires.
"""

from __future__ import annotations

from typing import Any

from brb.adapters.notifiers.http import Request, mask_url, url_secrets
from brb.core.alerts import Alert

NAME = "webhook"
CREDENTIAL = "webhook-url"
SCHEMA = 1


def body(alert: Alert) -> dict[str, Any]:
    return {"source": "brb", "schema": SCHEMA, **alert.as_json()}


class WebhookNotifier:
    name = NAME

    def __init__(self, url: str) -> None:
        self._url = url

    def request_for(self, alert: Alert) -> Request | None:
        return Request("POST", self._url, body(alert), secrets=url_secrets(self._url))

    def describe(self) -> str:
        return f"json webhook {mask_url(self._url)}"
