"""Credentials in the upstream URL are redacted in status, errors and logs."""

from __future__ import annotations

import logging

import pytest
from daemon_rig import StartRig, free_port, poll

SECRET = "s3cret-upstream-pw"


def test_upstream_credentials_never_shown(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    down = f"http://ops:{SECRET}@127.0.0.1:{free_port()}"  # nothing listens there
    rig = start_brb(upstream=down)
    status = rig.status()
    assert status["upstream"]["url"] == down.replace(SECRET, "***")
    answer = rig.ask(session="compliance-1")  # may not leave: the upstream's error
    assert answer.status == 502 and SECRET not in answer.text, answer.text
    assert "***" in answer.json()["error"]
    (started,) = poll(lambda: rig.events("daemon_start"))  # written off the loop
    assert started.detail["upstream"] == down.replace(SECRET, "***")
    assert all(SECRET not in str(e.detail) for e in rig.events())
    diverted = rig.ask()  # may leave: the cloud answers; the URL is named nowhere either
    assert diverted.headers["x-brb-route"] == "upstream_down" and SECRET not in diverted.text
    assert SECRET not in caplog.text
