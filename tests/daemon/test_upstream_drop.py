"""Ollama dropping the connection mid-answer: the client is told, not left with
a silently truncated stream or body, and brb keeps serving."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import openai
import pytest
from aiohttp import web
from daemon_rig import MODEL, StartRig, chat_body, poll

from brb.daemon import relay
from brb.sim.ollama import FakeOllama


class DroppingOllama:
    """Answers /api/chat with a 200, one NDJSON chunk, then closes the socket;
    with ``whole``, a non-streamed answer: a Content-Length, then half the body."""

    received: dict[str, int]

    def __init__(self, *, whole: bool = False) -> None:
        self.received = {}
        self.whole = whole

    def app(self) -> web.Application:
        async def chat(request: web.Request) -> web.StreamResponse:
            self.received[request.path] = self.received.get(request.path, 0) + 1
            if self.whole:
                body = json.dumps({"model": MODEL, "message": {"content": "x" * 100}}).encode()
                resp = web.StreamResponse(headers={"Content-Type": "application/json"})
                resp.content_length = len(body)
                await resp.prepare(request)
                await resp.write(body[: len(body) // 2])
                assert request.transport is not None
                request.transport.close()
                return resp
            resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await resp.prepare(request)
            await resp.write(
                json.dumps({"model": MODEL, "message": {"content": "par"}, "done": False}).encode()
                + b"\n"
            )
            assert request.transport is not None
            request.transport.close()
            return resp

        async def version(request: web.Request) -> web.Response:
            return web.json_response({"version": "0.12.6"})

        app = web.Application()
        app.router.add_post("/api/chat", chat)
        app.router.add_get("/api/version", version)
        return app


def test_a_dropped_stream_ends_with_an_error_line(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    upstream = DroppingOllama()
    rig = start_brb(ollama=upstream)  # type: ignore[arg-type]
    answer = rig.post("/api/chat", chat_body("/api/chat", "hi", stream=True))
    assert answer.status == 200
    lines = answer.lines()
    assert lines[0]["message"]["content"] == "par"
    assert "error" in lines[-1] and "closed" in lines[-1]["error"]
    # the daemon is still fine, and counted the request as done (nothing stuck waiting)
    assert rig.get("/healthz").status == 200
    assert rig.status()["current_queue_depth"] == 0
    # Ollama's side, told apart from a client leaving: one line, no traceback, row kept
    with rig.store() as s:
        since = rig.started_at - timedelta(minutes=1)
        (row,) = poll(lambda: s.request_log(since=since), timeout_s=5.0)
    assert row["outcome"] == "error_midstream"
    assert "upstream closed /api/chat mid-answer" in caplog.text
    assert "client left" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info] and "Traceback" not in caplog.text


def test_a_dropped_whole_answer_is_a_502_not_a_truncated_body(start_brb: StartRig) -> None:
    rig = start_brb(ollama=DroppingOllama(whole=True))  # type: ignore[arg-type]
    answer = rig.post("/api/chat", chat_body("/api/chat", "hi", stream=False))
    assert answer.status == 502
    assert "closed the connection mid-answer" in answer.json()["error"]
    assert rig.get("/healthz").status == 200
    assert rig.status()["current_queue_depth"] == 0


def test_an_openai_stream_cut_by_ollama_raises_in_the_openai_sdk(start_brb: StartRig) -> None:
    """Found by bench/faults.py: Ollama cutting a /v1/chat/completions stream after its
    first chunk left the client with a stream that simply stopped (no [DONE], no
    error), which the OpenAI SDK hands back as a short answer, as if complete."""
    fake = FakeOllama(chunks=4, service_s=0.2)
    rig = start_brb(ollama=fake)
    fake.reset_midstream_next(1)
    got: list[str] = []
    with openai.OpenAI(base_url=rig.url + "/v1", api_key="unused", max_retries=0) as client:
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="closed the stream"):
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert got and got[0]  # the first chunk came through before the cut
    # the next one is served whole, and nothing is left counted in the queue
    with openai.OpenAI(base_url=rig.url + "/v1", api_key="unused", max_retries=0) as client:
        whole = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in whole if c.choices)
    assert rig.status()["current_queue_depth"] == 0


def test_an_ndjson_line_cut_in_half_is_ended_before_the_error_line() -> None:
    assert relay._midstream_error("application/x-ndjson", b"}") == (
        b'\n{"error": "the Ollama upstream closed the stream"}\n'
    )
    assert relay._midstream_error("application/x-ndjson", b"\n").startswith(b'{"error"')
    event = relay._midstream_error("text/event-stream", b"}")
    assert event.startswith(b"\n\n") and event.endswith(b"\n\n")
    body = json.loads(event.strip().removeprefix(b"data: "))
    assert body["error"]["message"] == "the Ollama upstream closed the stream"
    assert relay._midstream_error("application/json", b"}") == b""
