"""Credentials in the upstream URL are redacted in status, errors and logs."""

from __future__ import annotations

import logging

import pytest
from daemon_rig import StartRig, free_port

SECRET = "s3cret-upstream-pw"


def test_upstream_credentials_never_shown(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    down = f"http://ops:{SECRET}@127.0.0.1:{free_port()}"  # nothing listens there
    rig = start_brb(upstream=down)
    status = rig.status()
    assert status["upstream"]["url"] == down.replace(SECRET, "***")
    answer = rig.ask()
    assert answer.status == 502 and SECRET not in answer.text, answer.text
    assert "***" in answer.json()["error"]
    with rig.store() as store:
        events = store.events()
    assert events and all(SECRET not in str(e.detail) for e in events)
    assert SECRET not in caplog.text and "ops:***@" in caplog.text
