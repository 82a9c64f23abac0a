"""The request log names the pool member that served each local answer (the same
name as ``X-BRB-Upstream``), and no upstream for a diverted one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from daemon_rig import LOCAL_REPLY, Req, StartRig, chat_body, free_port, poll

from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread


@contextlib.contextmanager
def fake_at(fake: FakeOllama) -> Iterator[str]:
    with serve_in_thread(fake.app(), port=free_port()) as url:
        yield url


def test_each_row_names_the_upstream_that_served_it(start_brb: StartRig) -> None:
    a = FakeOllama(service_s=0.3, reply_text=LOCAL_REPLY)
    b = FakeOllama(service_s=0.3, reply_text=LOCAL_REPLY)
    with fake_at(a) as url_a, fake_at(b) as url_b:
        rig = start_brb(
            upstreams=[
                {"name": "gpu-a", "url": url_a, "parallel": 1},
                {"name": "gpu-b", "url": url_b, "parallel": 1},
            ]
        )
        answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(2)])
        assert {x.provider for x in answers} == {"ollama"}
        rig.press()
        cloud = rig.ask(session="pressed")
        assert cloud.provider == "anthropic"

        def rows() -> list[dict[str, object]] | None:
            with rig.store() as s:
                got = [dict(r) for r in s.request_log(since=rig.started_at - timedelta(minutes=1))]
            return got if len(got) == 3 else None

        logged = poll(rows, timeout_s=15)
        local = sorted(str(r["upstream"]) for r in logged if r["backend"] == "ollama")
        assert local == sorted(x.headers["x-brb-upstream"] for x in answers) == ["gpu-a", "gpu-b"]
        [diverted] = [r for r in logged if r["backend"] != "ollama"]
        assert diverted["upstream"] is None
