"""brb idle in front of Ollama: every endpoint passes through unchanged.

Driven by the official ollama client (sync and async, stream and not), the
openai client on /v1, and raw HTTP for what the clients hide (headers,
status codes, unknown paths, timing of the first chunk).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import urllib.request

import ollama
import openai
import pytest
from daemon_rig import LOCAL_REPLY, LOCAL_TEXT, MODEL, Rig, StartRig, chat_body, free_port

from brb.sim.capture import CaptureServer
from brb.sim.ollama import NOT_FOUND_TEXT, VERSION, FakeOllama
from brb.sim.server import serve_in_thread


def test_plain_endpoints_answer_as_ollama_does(brb: Rig) -> None:
    root = brb.get("/")
    assert (root.status, root.text) == (200, "Ollama is running")
    assert brb.get("/api/version").json() == {"version": VERSION}

    client = ollama.Client(host=brb.url)
    direct = ollama.Client(host=brb.ollama_url)
    assert [m.model for m in client.list().models] == [m.model for m in direct.list().models]
    assert client.show(MODEL).modelfile is not None
    embedded = client.embed(model=MODEL, input=["one", "two"])
    assert len(embedded.embeddings) == 2
    assert brb.ollama.received["/api/embed"] == 1


def test_unknown_paths_and_methods_get_ollamas_own_404(brb: Rig) -> None:
    for method, path in [("GET", "/api/nothing-here"), ("DELETE", "/api/version")]:
        answer = brb.request(method, path)
        assert (answer.status, answer.text) == (404, NOT_FOUND_TEXT)
    assert brb.ollama.received["/api/nothing-here"] == 1


def test_method_path_query_headers_and_body_reach_the_upstream_unchanged(
    start_brb: StartRig,
) -> None:
    upstream = CaptureServer(status=418, body={"error": "teapot"})
    with serve_in_thread(upstream.app()) as url:
        rig = start_brb(upstream=url)
        host, port = rig.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        body = "not JSON, bytes as sent \u2713".encode()
        conn.request(
            "PATCH",
            "/api/anything/deep?verbose=true&x=%20y",
            body=body,
            headers={
                "Content-Type": "application/octet-stream",
                "X-Custom": "kept",
                "Connection": "keep-alive, X-Drop-Me",
                "X-Drop-Me": "named in Connection: hop-by-hop",
                "Keep-Alive": "timeout=5",
            },
        )
        resp = conn.getresponse()
        answer = resp.read()
        conn.close()
    assert (resp.status, json.loads(answer)) == (418, {"error": "teapot"})
    assert resp.getheader("X-BRB-Provider") is None  # not an inference answer
    [seen] = upstream.captured
    assert (seen.method, seen.path) == ("PATCH", "/api/anything/deep")
    assert seen.query == {"verbose": "true", "x": " y"}
    assert seen.headers["x-custom"] == "kept"
    assert seen.headers["content-type"] == "application/octet-stream"
    assert "x-drop-me" not in seen.headers and "keep-alive" not in seen.headers
    assert seen.body == body.decode()


def test_ollamas_own_errors_come_back_as_they_are(brb: Rig) -> None:
    show = brb.post("/api/show", {"model": ""})
    assert (show.status, show.json()) == (400, {"error": "model is required"})
    direct = brb.ollama_url + "/api/tags?verbose=true"
    assert (
        brb.get("/api/tags?verbose=true").json().keys()
        == json.loads(
            urllib.request.urlopen(direct, timeout=5).read()  # noqa: S310 - loopback
        ).keys()
    )


def test_ollama_client_chat_and_generate_stay_local_with_headers(brb: Rig) -> None:
    client = ollama.Client(host=brb.url)
    reply = client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert reply.message.content == LOCAL_TEXT and reply.done
    parts = list(client.generate(model=MODEL, prompt="hi", stream=True))
    assert "".join(p.response or "" for p in parts) == LOCAL_TEXT and parts[-1].done

    for path, stream in [("/api/chat", False), ("/api/generate", True)]:
        answer = brb.ask(path, stream=stream)
        assert answer.status == 200
        assert answer.headers["x-brb-provider"] == "ollama"
        assert answer.headers["x-brb-model"] == MODEL
        assert "x-brb-cost-usd" not in answer.headers
    assert brb.cloud_hits() == 0


def test_async_ollama_client_streams(brb: Rig) -> None:
    async def run() -> tuple[str, str]:
        client = ollama.AsyncClient(host=brb.url)
        whole = await client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        pieces = [
            p.message.content or ""
            async for p in await client.chat(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
            )
        ]
        return whole.message.content or "", "".join(pieces)

    assert asyncio.run(run()) == (LOCAL_TEXT, LOCAL_TEXT)


def test_openai_client_on_v1_passes_through(brb: Rig) -> None:
    client = openai.OpenAI(base_url=brb.url + "/v1", api_key="x", max_retries=0)
    done = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == LOCAL_TEXT
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == LOCAL_TEXT
    assert brb.ollama.received["/v1/chat/completions"] == 2
    assert brb.cloud_hits() == 0


def test_streamed_chunks_arrive_before_the_upstream_finishes(start_brb: StartRig) -> None:
    rig = start_brb(ollama=FakeOllama(service_s=1.0, chunks=5, reply_text=LOCAL_REPLY))
    t0 = time.monotonic()
    answer = rig.post("/api/chat", chat_body("/api/chat", stream=True))
    total_s = time.monotonic() - t0
    assert answer.status == 200 and answer.headers["x-brb-provider"] == "ollama"
    lines = answer.lines()
    assert len(lines) == 6 and lines[-1]["done"] is True
    assert answer.first_chunk_s is not None
    # the first chunk leaves Ollama at once; the last one after service_s
    assert answer.first_chunk_s < 0.5 < 0.9 < total_s


def test_upstream_down_is_a_502_naming_it_and_brb_still_starts(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    rig = start_brb(upstream=dead)  # ready fired: the daemon started anyway
    assert any(dead in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    kept = {rig.cfg.session_header: "compliance-1"}  # may not leave for the cloud
    for answer in (
        rig.get("/api/tags"),
        rig.ask("/api/chat", headers=kept),
        rig.ask("/api/generate", headers=kept),
    ):
        assert answer.status == 502
        assert dead in answer.json()["error"]
    assert rig.get("/healthz").status == 200
    client = ollama.Client(host=rig.url, headers=kept)
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 502
    assert rig.cloud_hits() == 0
    # one that may leave: no upstream can start it, so the cloud answers (test_all_upstreams_down)
    assert rig.ask("/api/chat").headers["x-brb-route"] == "upstream_down"
