"""Slack incoming webhook: every alert becomes one channel message.

Owns the message shape: ``text`` (the notification and fallback line) plus
Block Kit ``blocks`` (a header, the text, the alert's fields, a context line),
and ``channel`` when ``notifications.slack_channel`` is set. Slack answers
``200 ok``; errors are plain-text codes such as ``invalid_payload`` (400),
``channel_not_found`` (404) or a 429 with ``Retry-After``
(https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks/).
Webhooks created by Slack apps post to the channel they were made for and
ignore ``channel``; legacy webhooks honour it.

The webhook URL is the secret (anyone holding it can post): it comes from the
environment variable named by ``notifications.slack_webhook_url_env`` or the
``slack-webhook-url`` credential, and is never printed (:func:`describe`
masks it).

Must not: do I/O (the alerter sends the :class:`Request`), or decide when an
alert fires.
"""

from __future__ import annotations

from typing import Any

from brb.adapters.notifiers.http import Request, mask_url, url_secrets
from brb.core.alerts import Alert, Severity

NAME = "slack"
CREDENTIAL = "slack-webhook-url"
_MAX_FIELDS = 10  # Block Kit: a section holds at most 10 fields
_EMOJI = {
    Severity.INFO: ":large_green_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.CRITICAL: ":red_circle:",
}


def _field_text(value: object) -> str:
    return "–" if value is None or value == "" else str(value)


def message(alert: Alert, channel: str | None = None) -> dict[str, Any]:
    """The webhook body for ``alert``."""
    headline = f"{_EMOJI[alert.severity]} {alert.title}"
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{_field_text(value)}"}
        for name, value in alert.fields.items()
        if value is not None and value != ""
    ][:_MAX_FIELDS]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": alert.text[:3000]}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    at = alert.at.isoformat()
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"brb · {alert.kind.value} · {alert.severity.value} · {at}",
                }
            ],
        }
    )
    body: dict[str, Any] = {"text": headline, "blocks": blocks}
    if channel:
        body["channel"] = channel
    return body


class SlackNotifier:
    name = NAME

    def __init__(self, webhook_url: str, channel: str | None = None) -> None:
        self._url = webhook_url
        self._channel = channel

    def request_for(self, alert: Alert) -> Request | None:
        return Request(
            "POST", self._url, message(alert, self._channel), secrets=url_secrets(self._url)
        )

    def describe(self) -> str:
        where = f", channel {self._channel}" if self._channel else ""
        return f"slack webhook {mask_url(self._url)}{where}"
