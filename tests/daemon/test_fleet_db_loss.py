"""Losing the fleet's database never stops local traffic: with PostgreSQL down, a
pressed daemon keeps its press, serves every request locally (route
``store_unavailable``: no reservation, no diversion), and diverts again once the
database is back. The cluster is this test's own, since it crashes it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from daemon_rig import Rig, StartRig, chat_body, poll
from pg_cluster import Cluster, find_bin, fresh_database, running_cluster


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    bin_dir = find_bin()
    if bin_dir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("BRB_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_cluster(bin_dir) as cluster:
        yield cluster


def ask(rig: Rig, text: str) -> tuple[int, str | None, str | None]:
    answer = rig.post("/api/chat", chat_body("/api/chat", text), timeout_s=60.0)
    return answer.status, answer.provider, answer.headers.get("x-brb-route")


def test_a_database_outage_keeps_the_press_and_serves_locally(
    start_brb: StartRig, own_cluster: Cluster
) -> None:
    rig = start_brb(db=fresh_database(own_cluster, "fleet"))  # type: ignore[arg-type]
    rig.press()
    assert ask(rig, "before")[1] == "anthropic"

    own_cluster.pg_ctl("-m", "immediate", "stop")
    status, provider, route = ask(rig, "during")
    assert (status, provider, route) == (200, "ollama", "store_unavailable")
    assert ask(rig, "still during") == (200, "ollama", "store_unavailable")
    assert rig.get("/healthz").json()["mode"] == "on"  # the press last seen is kept

    own_cluster.pg_ctl("start")
    poll(lambda: ask(rig, "after")[1] == "anthropic", timeout_s=60.0)
    assert rig.get("/healthz").json()["mode"] == "on"
