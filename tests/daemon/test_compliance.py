"""Compliance sessions never leave: zero requests reach the cloud, in every mode.

Each scenario sends, at the same moment, the same requests from a
``compliance-*`` session, from an ordinary session, and with
``X-BRB-Local-Only: 1``, over every endpoint brb may divert, streamed and
not. The ordinary ones must reach the fake Anthropic (so the test can fail);
the others must reach it zero times, and their text must appear in no
request the fake recorded.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from daemon_rig import Answer, Req, Rig, StartRig, chat_body

from brb.sim.ollama import FakeOllama

SMALL = {"queue_depth": 2, "wait_time_seconds": 0.3, "min_active_seconds": 1}
PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions", "/v1/messages")
SECRET = "compliance-secret"
LOCAL_ONLY = "local-only-secret"


def mixed_burst(rig: Rig) -> list[Req]:
    header = rig.cfg.session_header
    out: list[Req] = []
    for i, path in enumerate(PATHS):
        for stream in (False, True):
            tag = f"{path}-{stream}"
            out.append(
                Req(
                    path,
                    chat_body(path, f"{SECRET} {tag}", stream=stream),
                    {header: f"compliance-{i}"},
                )
            )
            out.append(
                Req(
                    path,
                    chat_body(path, f"{LOCAL_ONLY} {tag}", stream=stream),
                    {header: "team-a", "X-BRB-Local-Only": "1"},
                )
            )
            out.append(Req(path, chat_body(path, f"ordinary {tag}", stream=stream), {header: "b"}))
    return out


def check(rig: Rig, requests: list[Req], answers: list[Answer], hits_before: int) -> None:
    kept = 0
    for req, answer in zip(requests, answers, strict=True):
        text = json.dumps(req.body)
        if SECRET in text or LOCAL_ONLY in text:
            kept += 1
            assert answer.provider == "ollama", (req.path, answer.headers)
            expected = "excluded_session" if SECRET in text else "local_only"
            # (before any breaker reason: the exclusion is checked first)
            assert answer.headers["x-brb-route"] == expected
    assert kept == 16
    recorded = [json.dumps(r.body) for r in rig.anthropic.requests]
    assert recorded, "ordinary traffic must have been diverted, or this test proves nothing"
    assert not [r for r in recorded if SECRET in r or LOCAL_ONLY in r]
    diverted = sum(a.provider == "anthropic" for a in answers)
    assert diverted == rig.cloud_hits() - hits_before


def warm(rig: Rig) -> None:
    assert rig.ask().provider == "ollama"  # teaches brb the local service time


@pytest.mark.parametrize("mode", ["auto-overflow", "auto-all", "pressed", "pressed-all"])
def test_compliance_and_local_only_never_reach_the_cloud(start_brb: StartRig, mode: str) -> None:
    rig = start_brb(
        ollama=FakeOllama(service_s=0.1 if mode.startswith("auto") else 0.0),
        thresholds=SMALL,
        policy="all" if mode.endswith("all") else "overflow",
    )
    warm(rig)
    if mode.startswith("pressed"):
        rig.press()
    hits_before = rig.cloud_hits()
    requests = mixed_burst(rig)
    answers = rig.burst(requests)
    assert all(a.status in (200, 404) for a in answers)  # the fake Ollama has no /v1/messages
    check(rig, requests, answers, hits_before)


def test_compliance_stays_local_through_the_official_clients_when_pressed(
    start_brb: StartRig,
) -> None:
    import ollama
    import openai

    rig = start_brb()
    rig.press()
    before = rig.cloud_hits()
    session = {rig.cfg.session_header: "compliance-audit"}
    msgs: list[Any] = [{"role": "user", "content": SECRET}]
    client = ollama.Client(host=rig.url, headers=session)
    assert (client.chat("llama3", msgs).message.content or "").startswith("a local answer")
    assert list(client.generate("llama3", SECRET, stream=True))[-1].done
    oa = openai.OpenAI(
        base_url=rig.url + "/v1", api_key="x", max_retries=0, default_headers=session
    )
    assert list(oa.chat.completions.create(model="llama3", messages=msgs, stream=True))
    assert oa.chat.completions.create(model="llama3", messages=msgs).choices
    assert rig.cloud_hits() == before


def post_with_headers(rig: Rig, path: str, body: Any, headers: list[tuple[str, str]]) -> Answer:
    """One POST whose headers may repeat (urllib would merge them)."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(rig.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        data = json.dumps(body).encode()
        conn.putrequest("POST", path)
        for name, value in [("Content-Type", "application/json"), *headers]:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def test_a_repeated_session_header_stays_local_if_any_value_matches(start_brb: StartRig) -> None:
    rig = start_brb()
    rig.press()
    h = rig.cfg.session_header
    before = rig.cloud_hits()
    for values in (["team-a", "compliance-9"], ["compliance-9", "team-a"]):
        answer = post_with_headers(
            rig, "/api/chat", chat_body("/api/chat", SECRET), [(h, v) for v in values]
        )
        assert (answer.provider, answer.headers["x-brb-route"]) == ("ollama", "excluded_session")
    ordinary = post_with_headers(rig, "/api/chat", chat_body("/api/chat"), [(h, "a"), (h, "b")])
    assert ordinary.provider == "anthropic"  # the test can fail: ordinary traffic diverts
    assert rig.cloud_hits() == before + 1
    assert not [r for r in rig.anthropic.requests if SECRET in json.dumps(r.body)]


def test_case_insensitive_session_match_when_configured(start_brb: StartRig) -> None:
    rig = start_brb(session_match="case_insensitive")
    rig.press()
    for session in ("Compliance-1", "COMPLIANCE-x"):
        answer = rig.ask(text=SECRET, session=session)
        assert (answer.provider, answer.headers["x-brb-route"]) == ("ollama", "excluded_session")
    assert rig.ask(session="customer-1").provider == "anthropic"
    assert not [r for r in rig.anthropic.requests if SECRET in json.dumps(r.body)]


def test_require_session_keeps_requests_without_one_local(start_brb: StartRig) -> None:
    rig = start_brb(require_session=True)
    rig.press()
    for path in PATHS:
        answer = rig.post(path, chat_body(path, SECRET))
        assert answer.provider == "ollama", path
        assert answer.headers["x-brb-route"] == "no_session", path
    blank = rig.ask(text=SECRET, session="  ")
    assert blank.headers["x-brb-route"] == "no_session"
    assert rig.cloud_hits() == 0
    assert rig.ask(session="customer-1").provider == "anthropic"
