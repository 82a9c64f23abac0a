"""`brb status` trusts the running daemon about its providers: the daemon may
read its key from a systemd credential the operator's shell can't see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from daemon_rig import KEY_ENV, StartRig, poll

from brb import status


def test_status_reports_no_missing_key_when_the_daemon_has_one(
    start_brb: StartRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = start_brb()
    monkeypatch.delenv(KEY_ENV)  # this shell has no key; the daemon read one at start
    with rig.store() as store:

        def seen() -> dict[str, object] | None:  # the daemon's start record and heartbeat
            s = status.snapshot(store, rig.cfg, datetime.now(UTC))
            return s if s["daemon"] and store.events(kinds=["daemon_start"]) else None

        snap = poll(seen, timeout_s=3.0)
    assert not any("key" in b for b in snap["diversion_blocked_by"]), snap
    assert snap["daemon"] is not None


def test_status_without_a_daemon_checks_this_shells_key(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from brb.adapters.store import Store
    from brb.config import BrbConfig

    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with Store.open(Path(str(tmp_path)) / "s.db") as store:
        snap = status.snapshot(store, BrbConfig(), datetime.now(UTC))
    assert any("no Anthropic key" in b for b in snap["diversion_blocked_by"])
