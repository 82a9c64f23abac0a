"""Atlassian Statuspage: one component shows degraded while brb diverts.

Owns the component update, as the Statuspage REST API v1 takes it
("Update a component", ``PATCH /pages/{page_id}/components/{component_id}``,
https://developer.statuspage.io/#operation/patchPagesPageIdComponentsComponentId;
authentication ``Authorization: OAuth <api key>``; component statuses
``operational``, ``under_maintenance``, ``degraded_performance``,
``partial_outage``, ``major_outage``):

* activation (automatic or a press): ``{"component": {"status":
  "degraded_performance", "description": "High load - using backup AI
  provider"}}``;
* deactivation (calm again or a release): ``{"component": {"status":
  "operational", "description": ""}}`` -- brb set the description, so brb
  clears it rather than leave "High load" showing on a green component.

Other alerts don't touch the page. Statuspage limits each key to about one
request per second and answers 420 or 429 when it is exceeded (both retried).
``api_base`` (default ``https://api.statuspage.io/v1``), ``page_id`` and
``component_id`` come from ``notifications.statuspage``; the API key from the
environment variable it names or the ``statuspage-api-key`` credential.

Must not: do I/O, or decide when an alert fires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from brb.adapters.notifiers.http import Request, mask_url
from brb.core.alerts import Alert, AlertKind

NAME = "statuspage"
CREDENTIAL = "statuspage-api-key"
DEGRADED = "degraded_performance"
OPERATIONAL = "operational"
DEGRADED_DESCRIPTION = "High load - using backup AI provider"


def component_update(alert: Alert) -> dict[str, Any] | None:
    """The PATCH body for ``alert``, or None when the page should not change."""
    if alert.kind is AlertKind.ACTIVATED:
        return {"component": {"status": DEGRADED, "description": DEGRADED_DESCRIPTION}}
    if alert.kind is AlertKind.DEACTIVATED:
        return {"component": {"status": OPERATIONAL, "description": ""}}
    return None


def component_url(api_base: str, page_id: str, component_id: str) -> str:
    return (
        f"{api_base.rstrip('/')}/pages/{quote(page_id, safe='')}"
        f"/components/{quote(component_id, safe='')}"
    )


class StatuspageNotifier:
    name = NAME

    def __init__(self, api_key: str, *, api_base: str, page_id: str, component_id: str) -> None:
        self._key = api_key
        self._url = component_url(api_base, page_id, component_id)
        self._component = component_id

    def request_for(self, alert: Alert) -> Request | None:
        body = component_update(alert)
        if body is None:
            return None
        return Request(
            "PATCH",
            self._url,
            body,
            headers={"Authorization": f"OAuth {self._key}"},
            secrets=(self._key,),
        )

    def describe(self) -> str:
        return f"statuspage {mask_url(self._url)}, component {self._component}"
