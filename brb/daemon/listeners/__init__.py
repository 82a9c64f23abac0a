"""The daemon's listeners: each subscribes to the events it needs and owns its state.

* :mod:`.metrics` feeds the Prometheus metrics.
* :mod:`.incidents` tracks the open incident (id, requests diverted, dollars).
* :mod:`.alerts` turns events into alerts (owns the :class:`~brb.daemon.alerting.Alerter`).
* :mod:`.systemd` tells systemd: ready, status, watchdog, stopping.
* :mod:`.prune` keeps ``retention_days`` of samples and request log.
* :mod:`.provider_health` remembers each provider's last success and errors.
* :mod:`.button_watch` picks up the button listener's unplug/replug events.
* :mod:`.dashboard_stream` sends the dashboard a status snapshot a second, and at
  once when an event changes the picture.

Each has a ``subscribe(sink)`` method; the composition root (:mod:`brb.daemon.app`)
builds them and subscribes them. A new listener is a new module here.
"""
