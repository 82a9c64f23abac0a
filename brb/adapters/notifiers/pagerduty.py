"""PagerDuty Events API v2: page on activation and budget exhaustion, resolve on release.

Owns the event shape sent to ``notifications.pagerduty_events_url`` (default
``https://events.pagerduty.com/v2/enqueue``), as documented in "Send an Alert
Event" (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/,
PagerDuty/developer-docs ``docs/events-API-v2/02-Trigger-Events.md``):

* ``trigger``: ``routing_key``, ``event_action``, ``dedup_key`` and a
  ``payload`` with the required ``summary`` (max 1024 chars), ``source`` and
  ``severity`` (critical/error/warning/info), plus ``timestamp``,
  ``component``, ``group``, ``class`` and ``custom_details``;
* ``resolve``: ``routing_key``, ``event_action``, ``dedup_key`` only.

One ``dedup_key`` per incident (max 255 chars): the activation's trigger and
its deactivation's resolve carry the same key, so PagerDuty closes the alert
it opened. Alerts that track no incident (budget percentages, provider
errors, a plain rollover) are not sent here; Slack carries them. PagerDuty
answers 202 on success; 429 and 5xx are worth a retry, 400 is not.

``notifications.pagerduty_service`` is the event's ``source`` and
``component`` (the host name when it is unset). The routing key comes from
the environment variable named by ``notifications.pagerduty_routing_key_env``
or the ``pagerduty-routing-key`` credential, and is never printed.

Must not: do I/O, or decide when an alert fires.
"""

from __future__ import annotations

from typing import Any

from brb.adapters.notifiers.http import Request, mask_url
from brb.core.alerts import Action, Alert

NAME = "pagerduty"
CREDENTIAL = "pagerduty-routing-key"
DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_MAX_DEDUP = 255
_MAX_SUMMARY = 1024


def dedup_key(incident: str, service: str | None) -> str:
    return f"brb:{service or 'brb'}:{incident}"[:_MAX_DEDUP]


def event(
    alert: Alert, *, routing_key: str, service: str | None, host: str
) -> dict[str, Any] | None:
    """The Events API v2 body for ``alert``, or None when PagerDuty has no part in it."""
    if alert.action is Action.NOTIFY or not alert.incident:
        return None
    key = dedup_key(alert.incident, service)
    if alert.action is Action.RESOLVE:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "client": "brb",
        "payload": {
            "summary": alert.title[:_MAX_SUMMARY],
            "source": service or host,
            "severity": alert.severity.value,
            "timestamp": alert.at.isoformat(),
            "component": service or "brb",
            "group": "brb",
            "class": alert.kind.value,
            "custom_details": {"text": alert.text, **alert.fields},
        },
    }


class PagerDutyNotifier:
    name = NAME

    def __init__(
        self,
        routing_key: str,
        *,
        events_url: str = DEFAULT_EVENTS_URL,
        service: str | None = None,
        host: str = "brb",
    ) -> None:
        self._key = routing_key
        self._url = events_url
        self._service = service
        self._host = host

    def request_for(self, alert: Alert) -> Request | None:
        body = event(alert, routing_key=self._key, service=self._service, host=self._host)
        if body is None:
            return None
        return Request("POST", self._url, body, secrets=(self._key,))

    def describe(self) -> str:
        return f"pagerduty events {mask_url(self._url)}, service {self._service or '(host name)'}"
